"""A toy integration for the core tests: patches ``train``/``outer``/``Model.fit`` of a tiny real module
(written by the ``toy`` fixture), so the patching core is tested without any ML framework.

``BEHAVIOUR`` lets a test make our hooks fail: {"fail_in": "before" | "after" | None}.
"""

from __future__ import annotations

import threading

from tracklet.autolog.patching import PatchHooks, safe_patch

BEHAVIOUR: dict = {"fail_in": None}
SEEN: list = []  # (hook name, call.parent is not None, run_id) per hook call
_lock = threading.Lock()

FRAMEWORK_SOURCE = '''
import threading

def train(params, data, callbacks=None, fail=None, wait=None):
    """Toy training: returns a model dict."""
    for cb in callbacks or []:
        cb("iteration")
    if wait is not None:
        wait()
    if fail is not None:
        raise fail
    return {"coef": sum(data) * params.get("lr", 1.0)}

def outer(params, data):
    """Calls train inside (a wrapper API, like XGBClassifier.fit -> xgboost.train)."""
    return train(params, data)

class Model:
    def fit(self, data):
        self.coef_ = sum(data)
        return self

class SubModel(Model):
    def fit(self, data):
        return super().fit(data)
'''


class TrainHooks(PatchHooks):
    allow_nested_from = ("toy",)

    def before(self, call) -> None:
        with _lock:
            SEEN.append(("train.before", call.parent is not None, call.run_id))
        if BEHAVIOUR["fail_in"] == "before":
            raise RuntimeError("injected failure in before")
        call.logger.log_params(call.bound.arguments["params"])
        cbs = list(call.kwargs.get("callbacks") or [])
        cbs.append(lambda event: call.state.setdefault("events", []).append(event))
        call.kwargs["callbacks"] = cbs

    def after(self, call, result) -> None:
        if BEHAVIOUR["fail_in"] == "after":
            raise RuntimeError("injected failure in after")
        call.logger.log_metrics({"coef": result["coef"], "events": len(call.state.get("events", []))})

    def on_error(self, call, exc) -> None:
        call.logger.set_tags({"error": type(exc).__name__})


class OuterHooks(PatchHooks):
    def before(self, call) -> None:
        call.logger.set_tags({"outer": "yes"})


class FitHooks(PatchHooks):
    def before(self, call) -> None:
        with _lock:
            SEEN.append(("fit.before", call.parent is not None, call.run_id))
        call.logger.set_tags({"model_class": type(call.instance).__name__})


def install(module, config) -> None:
    safe_patch("toy", module, "train", TrainHooks())
    safe_patch("toy", module, "outer", OuterHooks())
    safe_patch("toy", module.Model, "fit", FitHooks())
    safe_patch("toy", module.SubModel, "fit", FitHooks())


def autolog(disable=False, silent=False, exclusive=False, extra_tags=None, log_models=True) -> None:
    from tracklet.autolog.core import configure

    configure("toy", locals())
