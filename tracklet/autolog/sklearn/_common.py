"""What the parts of the scikit-learn integration share: its name, its declared options, model logging.

A leaf: the entry (``__init__``), training metrics, post-training metrics and search import this module,
never each other's internals nor the entry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracklet.autolog import kit
from tracklet.exceptions import InvalidParameterValue

INTEGRATION = "sklearn"


@dataclass(frozen=True)
class SklearnOptions(kit.Options):
    """``tracklet.sklearn.autolog`` options beyond the shared ones."""

    max_tuning_runs: int | None = 5
    log_post_training_metrics: bool = True
    serialization_format: str = "cloudpickle"
    registered_model_name: str | None = None
    pos_label: object = None

    def validate(self) -> None:
        runs = self.max_tuning_runs
        if runs is not None and (not isinstance(runs, int) or isinstance(runs, bool) or runs < 0):
            raise InvalidParameterValue(f"max_tuning_runs must be None or a non-negative integer, got {runs!r}")
        if self.serialization_format not in ("cloudpickle", "pickle"):
            raise InvalidParameterValue(
                f"serialization_format must be 'cloudpickle' or 'pickle', got {self.serialization_format!r}"
            )


def options(config) -> SklearnOptions:
    """The sklearn options in effect under ``config``."""
    return kit.options(config, SklearnOptions)


def finite(value) -> bool:
    try:
        return not isinstance(value, bool) and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def defining_classes(classes, method: str) -> list[type]:
    """The distinct classes that define ``method`` for ``classes`` (first in each MRO)."""
    owners: dict[type, None] = {}
    for cls in classes:
        owner = next((k for k in cls.__mro__ if method in vars(k)), None)
        if owner is not None and owner is not object:
            owners[owner] = None
    return list(owners)


def log_model(call, model, artifact_path: str) -> None:
    """Log ``model`` with the sklearn flavor through the kit (log_models, example, signature honoured).
    pyfunc predicts with ``predict``, else ``transform``; a model with neither (DBSCAN) is not logged."""
    from tracklet.flavors import sklearn as flavor

    if not call.config.log_models:
        return
    predict_fn = next((fn for fn in ("predict", "transform") if hasattr(model, fn)), None)
    if predict_fn is None:
        kit.warn(
            call,
            f"no-predict:{type(model).__name__}",
            f"tracklet: {type(model).__name__} has neither predict nor transform; it was not logged as a model",
        )
        return
    opts = options(call.config)
    kit.log_model(
        call,
        flavor.log_model,
        model,
        predict=getattr(model, predict_fn),
        artifact_path=artifact_path,
        serialization_format=opts.serialization_format,
        registered_model_name=opts.registered_model_name,
        pyfunc_predict_fn=predict_fn,
    )
