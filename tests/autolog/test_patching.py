"""The autolog core (config, hooks, safe_patch, managed runs, RunLogger) on a toy integration: a tiny
real module written to tmp_path, patched by tests/autolog/toy.py. No ML framework needed."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import threading
import uuid
import warnings

import pytest

import tracklet
from tracklet.autolog import AutologWarning
from tracklet.autolog.core import is_supported_version
from tracklet.autolog.patching import is_patched
from tracklet.autolog.registry import INTEGRATIONS, Integration
from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.current import get_client as _client

from . import toy


@pytest.fixture
def toy_module(tmp_path, monkeypatch):
    """Name of a fresh, not yet imported toy framework module registered as integration "toy"."""
    name = f"toyfw_{uuid.uuid4().hex[:10]}"
    src = tmp_path / "src"
    src.mkdir()
    (src / f"{name}.py").write_text(toy.FRAMEWORK_SOURCE)
    monkeypatch.syspath_prepend(str(src))
    monkeypatch.setitem(
        INTEGRATIONS,
        "toy",
        Integration("toy", name, f"{toy.__name__}:install", "tracklet", "0.0.0", "99.0.0"),
    )
    monkeypatch.setitem(toy.BEHAVIOUR, "fail_in", None)
    toy.SEEN.clear()
    yield name
    sys.modules.pop(name, None)


def runs():
    tracklet.flush_async_logging()
    return tracklet.search_runs(output_format="list", order_by=["start_time ASC"])


def only_run():
    found = runs()
    assert len(found) == 1, [r.data.tags for r in found]
    return found[0]


def test_autolog_before_import_patches_on_import(toy_module):
    toy.autolog()
    assert toy_module not in sys.modules
    mod = importlib.import_module(toy_module)
    assert is_patched(mod, "train")
    assert mod.train({"lr": 2.0}, [1, 2]) == {"coef": 6.0}
    run = only_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "toy"
    assert run.data.params == {"lr": "2.0"}
    assert run.data.metrics == {"coef": 6.0, "events": 1.0}  # our injected callback ran once
    assert tracklet.active_run() is None


def test_import_before_autolog_patches_at_once(toy_module):
    mod = importlib.import_module(toy_module)
    assert not is_patched(mod, "train")
    toy.autolog()
    assert is_patched(mod, "train")


def test_disable_restores_the_originals_exactly(toy_module):
    mod = importlib.import_module(toy_module)
    originals = {
        (o, a): vars(o)[a] for o, a in ((mod, "train"), (mod, "outer"), (mod.Model, "fit"), (mod.SubModel, "fit"))
    }
    toy.autolog()
    toy.autolog()  # re-enabling replaces the patches, never stacks them
    assert all(vars(o)[a] is not orig for (o, a), orig in originals.items())
    assert vars(mod)["train"].__wrapped__ is originals[(mod, "train")]
    toy.autolog(disable=True)
    assert all(vars(o)[a] is orig for (o, a), orig in originals.items())


def test_disabled_before_import_patches_nothing(toy_module):
    toy.autolog()
    toy.autolog(disable=True)
    mod = importlib.import_module(toy_module)
    assert not is_patched(mod, "train")
    mod.train({}, [1])
    assert runs() == []


def test_a_reverted_wrapper_still_held_calls_straight_through(toy_module):
    mod = importlib.import_module(toy_module)
    toy.autolog()
    held = mod.train
    toy.autolog(disable=True)
    assert held({}, [1, 1]) == {"coef": 2.0}
    assert runs() == []


def test_the_post_import_hook_is_registered_once(toy_module):
    from wrapt import importer

    toy.autolog()
    toy.autolog()
    tracklet.autolog(exclude_flavors=[n for n in INTEGRATIONS if n != "toy"])
    assert len(importer._post_import_hooks.get(toy_module, [])) == 1
    importlib.import_module(toy_module)


def test_a_failing_install_never_breaks_the_users_import(toy_module, monkeypatch):
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    monkeypatch.setitem(
        INTEGRATIONS,
        "toy",
        Integration("toy", toy_module, f"{toy.__name__}:no_such_install", "tracklet", "0.0.0", "99.0.0"),
    )
    toy.autolog()
    with pytest.warns(AutologWarning, match="could not enable toy autologging"):
        mod = importlib.import_module(toy_module)
    assert mod.train({}, [3]) == {"coef": 3.0}


def test_user_exception_propagates_unchanged_and_the_run_fails(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    err = ValueError("bad data")
    with pytest.raises(ValueError) as info:
        mod.train({"lr": 1}, [1], fail=err)
    assert info.value is err
    run = only_run()
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "ValueError"
    assert tracklet.active_run() is None


def test_keyboard_interrupt_ends_the_run_killed(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    with pytest.raises(KeyboardInterrupt):
        mod.train({}, [1], fail=KeyboardInterrupt())
    assert only_run().info.status == "KILLED"


@pytest.mark.parametrize("where", ["before", "after"])
def test_our_failure_warns_once_and_returns_the_result(toy_module, monkeypatch, where):
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    monkeypatch.setitem(toy.BEHAVIOUR, "fail_in", where)
    toy.autolog()
    mod = importlib.import_module(toy_module)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert mod.train({"lr": 1.0}, [2]) == {"coef": 2.0}
        assert mod.train({"lr": 1.0}, [2]) == {"coef": 2.0}
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1 and "injected failure" in str(ours[0].message)
    found = runs()
    assert [r.info.status for r in found] == ["FINISHED", "FINISHED"]
    if where == "after":  # what was logged before the failure is kept
        assert found[0].data.params == {"lr": "1.0"}
    assert tracklet.active_run() is None


def test_strict_mode_raises_our_failures(toy_module, monkeypatch):
    monkeypatch.setitem(toy.BEHAVIOUR, "fail_in", "after")
    toy.autolog()
    mod = importlib.import_module(toy_module)
    with pytest.raises(RuntimeError, match="injected failure in after"):
        mod.train({}, [1])
    assert tracklet.active_run() is None
    assert only_run().info.status == "FAILED"


def test_a_store_that_fails_to_log_does_not_break_training(toy_module, monkeypatch):
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    toy.autolog()
    mod = importlib.import_module(toy_module)
    store = _client().store

    def broken_log_batch(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(store, "log_batch", broken_log_batch)
    with pytest.warns(AutologWarning, match="disk full"):
        assert mod.train({"lr": 1.0}, [5]) == {"coef": 5.0}
    monkeypatch.undo()
    run = only_run()
    assert run.info.status == "FINISHED" and run.data.params == {}


def test_inner_call_logs_into_the_outer_run_when_allowed(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    mod.outer({"lr": 3.0}, [1])
    run = only_run()
    assert run.data.tags["outer"] == "yes"
    assert run.data.params == {"lr": "3.0"}  # logged by the inner train, which saw call.parent
    assert toy.SEEN == [("train.before", True, run.info.run_id)]


def test_super_fit_is_logged_once(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    mod.SubModel().fit([1, 2])
    run = only_run()
    assert run.data.tags["model_class"] == "SubModel"
    assert [s[0] for s in toy.SEEN] == ["fit.before"]


def test_the_users_active_run_is_used_and_left_open(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    with tracklet.start_run() as run:
        mod.train({"lr": 1.0}, [1])
        assert tracklet.active_run().info.run_id == run.info.run_id
    stored = only_run()
    assert stored.data.params == {"lr": "1.0"}
    assert "mlflow.autologging" not in stored.data.tags


def test_exclusive_never_logs_into_the_users_run(toy_module):
    toy.autolog(exclusive=True)
    mod = importlib.import_module(toy_module)
    with tracklet.start_run():
        mod.train({"lr": 1.0}, [1])
    assert only_run().data.params == {}
    mod.train({"lr": 1.0}, [1])  # without a user run it creates its own
    assert len(runs()) == 2


def test_extra_tags_go_on_managed_runs_and_the_reserved_tag_is_kept(toy_module):
    toy.autolog(extra_tags={"team": "a", "mlflow.autologging": "x"})
    mod = importlib.import_module(toy_module)
    with pytest.warns(AutologWarning, match="reserved tag"):
        mod.train({}, [1])
    tags = only_run().data.tags
    assert tags["team"] == "a" and tags["mlflow.autologging"] == "toy"


def test_one_info_line_per_managed_run_unless_silent(toy_module):
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("tracklet").addHandler(handler)
    try:
        toy.autolog()
        mod = importlib.import_module(toy_module)
        mod.train({}, [1])
        run = only_run()
        msgs = [r.getMessage() for r in records if r.levelno == logging.INFO]
        assert msgs == [
            f"autologging run '{run.info.run_name}' (id {run.info.run_id}) in experiment "
            f"'Default' stored at {tracklet.get_tracking_uri()}"
        ]
        records.clear()
        toy.autolog(silent=True, extra_tags={"mlflow.autologging": "x"})
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            mod.train({}, [1])
        assert records == []
    finally:
        logging.getLogger("tracklet").removeHandler(handler)


def test_two_threads_training_at_once_get_two_runs(toy_module):
    toy.autolog()
    mod = importlib.import_module(toy_module)
    barrier = threading.Barrier(2)
    results, errors = {}, []

    def work(lr):
        try:
            results[lr] = mod.train({"lr": lr}, [1], wait=lambda: barrier.wait(timeout=10))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(lr,)) for lr in (1.0, 2.0)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    found = runs()
    assert len(found) == 2
    by_lr = {r.data.params["lr"]: r for r in found}
    assert by_lr["1.0"].data.metrics["coef"] == 1.0 and by_lr["2.0"].data.metrics["coef"] == 2.0
    assert all(r.info.status == "FINISHED" for r in found)


def test_explicit_config_wins_over_the_global_call(toy_module):
    from tracklet.autolog import get_config

    others = [n for n in INTEGRATIONS if n != "toy"]
    toy.autolog(silent=True)
    tracklet.autolog(silent=False, exclude_flavors=others)
    assert get_config("toy").silent is True
    tracklet.autolog(disable=True, exclude_flavors=others)  # but disable turns everything off
    assert get_config("toy").disable is True


def test_bad_arguments_raise_naming_the_field():
    with pytest.raises(InvalidParameterValue, match="extra_tags"):
        tracklet.autolog(extra_tags=["a"])
    with pytest.raises(InvalidParameterValue, match="exclude_flavors"):
        tracklet.autolog(exclude_flavors=["nope"])
    with pytest.raises(InvalidParameterValue, match="silent"):
        tracklet.autolog(silent="yes")


def test_version_gating(toy_module, monkeypatch):
    monkeypatch.setitem(
        INTEGRATIONS,
        "toy",
        Integration("toy", toy_module, f"{toy.__name__}:install", "tracklet", "0.0.0", "0.0.1"),
    )
    mod = importlib.import_module(toy_module)
    with pytest.warns(AutologWarning, match="autologging may not work"):
        toy.autolog()
    assert is_patched(mod, "train")
    from tracklet.autolog.core import configure

    with pytest.warns(AutologWarning, match="disabled"):
        configure("toy", {"disable_for_unsupported_versions": True})
    assert not is_patched(mod, "train")
    integ = INTEGRATIONS["toy"]
    assert is_supported_version(integ, "0.0.1") and not is_supported_version(integ, "0.0.2")
    assert not is_supported_version(integ, "0.0.1rc1") and not is_supported_version(integ, "junk")


def test_run_logger_truncates_long_params_and_drops_bad_keys_with_a_warning(toy_module):
    from tracklet.autolog.session import RunLogger

    with tracklet.start_run() as run:
        logger = RunLogger("toy", run.info.run_id)
        with pytest.warns(AutologWarning) as caught:
            logger.log_params({"long": "x" * 7000, "bad key!": 1, "none": None})
            logger.log_metrics({"ok": 1, "flag": True, "text": "a"})
        logger.flush()
    messages = " ".join(str(w.message) for w in caught)
    assert "truncated to 6000" in messages and "'bad key!'" in messages and "'flag'" in messages
    data = only_run().data
    assert len(data.params["long"]) == 6000 and data.params["none"] == "None"
    assert "bad key!" not in data.params and data.metrics == {"ok": 1.0}


def test_tracklet_autolog_is_callable_whichever_way_it_is_reached(tmp_path):
    code = """
import sys, tracklet
tracklet.autolog(disable=True)                # via tracklet.__getattr__ (imports the package)
import tracklet.autolog as pkg
pkg(disable=True)
tracklet.autolog(disable=True)                # now the attribute is the (callable) module
tracklet.autolog.autolog(disable=True)
import inspect
assert "exclude_flavors" in inspect.signature(tracklet.autolog).parameters
tracklet.autolog()
# the store's modules load in a background thread (the first fit doesn't wait for them): no framework there
import threading
for t in threading.enumerate():
    if t.name == "tracklet-autolog-warm-up":
        t.join()
assert "tracklet.tracking.stores.sql" in sys.modules  # the default store is SQLite
heavy = [m for m in ("sklearn", "xgboost", "lightgbm", "numpy", "pandas", "tensorflow", "mxnet") if m in sys.modules]
assert not heavy, heavy
import os
assert not os.path.exists("tracklet.db"), "autolog() must not create the store"
print("ok")
"""
    code_import_first = "import tracklet.autolog\nimport tracklet\ntracklet.autolog(disable=True)\nprint('ok')"
    for src in (code, code_import_first):
        out = subprocess.run([sys.executable, "-c", src], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert out.stdout.strip() == "ok", out.stderr
