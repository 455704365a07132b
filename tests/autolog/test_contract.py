"""The autolog contract, for every integration whose framework is installed (see integrations.py):
every order of {import framework, autolog(), autolog(disable=True)}; disable restores the originals
exactly; no run left open; the user's exceptions propagate unchanged; a failure in our logging (a real
store that fails) leaves training and its result unchanged, with one warning; managed runs end FINISHED."""

from __future__ import annotations

import importlib
import itertools
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tracklet
from tracklet.autolog import AutologWarning
from tracklet.autolog.patching import is_patched
from tracklet.tracking.current import get_client as _client

from .integrations import installed_cases

CASES = installed_cases()
pytestmark = pytest.mark.skipif(not CASES, reason="no supported ML framework installed")
TESTS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=CASES, ids=[c.name for c in CASES])
def case(request):
    importlib.import_module(request.param.module)
    return request.param


def _runs():
    tracklet.flush_async_logging()
    return tracklet.search_runs(output_format="list")


def _assert_equal(a, b):
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(a, b)
    else:
        assert a == b


_ORDER_SCRIPT = """
import importlib, json, sys
sys.path.insert(0, {tests_dir!r})
import tracklet
tracklet.set_tracking_uri({uri!r})
from autolog.integrations import case
c = case({name!r})
hooks_before_import = None
for step in {steps!r}:
    if step == "import":
        from wrapt import importer
        hooks_before_import = len(importer._post_import_hooks.get(c.module, []))
        importlib.import_module(c.module)
    elif step == "autolog":
        tracklet.autolog()
        tracklet.autolog()  # twice: the hook must still be registered once
    else:
        tracklet.autolog(disable=True)
from tracklet.autolog.patching import is_patched
patched = [is_patched(o, a) for o, a in c.patched()]
c.tiny_fit()
runs = tracklet.search_runs(output_format="list")
print(json.dumps({{"patched": patched, "hooks": hooks_before_import, "active": tracklet.active_run() is not None,
                  "runs": [[r.info.status, r.data.tags.get("mlflow.autologging")] for r in runs]}}))
"""


def _expect_logged(steps) -> bool:
    last = [s for s in steps if s != "import"][-1]
    return last == "autolog"


def test_every_import_order_in_a_fresh_process(case, tmp_path):
    """Orders where the framework is imported after autolog()/disable need a fresh interpreter; they run
    concurrently (the in-process orders are below)."""
    orders = [o for o in itertools.permutations(["import", "autolog", "disable"]) if o[0] != "import"]
    env = dict(os.environ, TRACKLET_AUTOLOG_STRICT="1")
    procs = []
    for i, steps in enumerate(orders):
        script = _ORDER_SCRIPT.format(
            tests_dir=TESTS_DIR, uri=f"sqlite:///{tmp_path}/order{i}.db", name=case.name, steps=list(steps)
        )
        procs.append(
            (
                steps,
                subprocess.Popen(
                    [sys.executable, "-c", script],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                    cwd=tmp_path,
                ),
            )
        )
    for steps, proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{steps}: {err}"
        result = json.loads(out.strip().splitlines()[-1])
        logged = _expect_logged(steps)
        assert result["patched"] == [logged] * len(result["patched"]), steps
        assert result["active"] is False
        if logged:
            assert result["runs"] == [["FINISHED", case.name]], steps
        else:
            assert result["runs"] == [], steps
        if steps.index("autolog") < steps.index("import") and steps.index("disable") > steps.index("import"):
            assert result["hooks"] == 1, steps


@pytest.mark.parametrize("steps", [("autolog", "disable"), ("disable", "autolog"), ("autolog", "autolog", "disable")])
def test_import_first_orders_and_disable_restores_exactly(case, steps):
    pairs = case.patched()
    originals = [vars(o)[a] if a in vars(o) else None for o, a in pairs]
    for step in steps:
        tracklet.autolog(disable=(step == "disable"))
    logged = _expect_logged(steps)
    if logged:
        assert all(is_patched(o, a) for o, a in pairs)
    else:
        assert [vars(o).get(a) for o, a in pairs] == originals
        assert all(vars(o).get(a) is orig for (o, a), orig in zip(pairs, originals, strict=True))
    case.tiny_fit()
    assert len(_runs()) == (1 if logged else 0)
    assert tracklet.active_run() is None


def test_result_is_unchanged_and_the_managed_run_finishes(case):
    expected = case.tiny_fit()
    tracklet.autolog()
    _assert_equal(case.tiny_fit(), expected)
    assert tracklet.active_run() is None
    (run,) = _runs()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == case.name
    assert run.data.params and run.data.metrics


def test_user_run_is_reused_and_left_open(case):
    tracklet.autolog()
    with tracklet.start_run() as user_run:
        case.tiny_fit()
        assert tracklet.active_run().info.run_id == user_run.info.run_id
    (run,) = _runs()
    assert run.info.run_id == user_run.info.run_id and run.data.params


def test_user_exception_propagates_unchanged(case):
    tracklet.autolog()
    err = ValueError("the user's own error")
    with pytest.raises(ValueError) as info:
        case.fit_raising(err)
    assert info.value is err
    assert tracklet.active_run() is None
    (run,) = _runs()
    assert run.info.status == "FAILED"


def test_a_failing_store_leaves_training_unchanged_with_one_warning(case, monkeypatch):
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    expected = case.tiny_fit()
    tracklet.autolog()
    store = _client().store

    def broken_log_batch(*args, **kwargs):
        raise OSError("the store is broken")

    monkeypatch.setattr(store, "log_batch", broken_log_batch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _assert_equal(case.tiny_fit(), expected)
        tracklet.flush_async_logging()  # what a fit records after returning (sklearn) is written by now
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]
    assert tracklet.active_run() is None
    monkeypatch.undo()
    (run,) = _runs()
    assert run.info.status == "FINISHED"


def test_a_store_that_cannot_create_runs_leaves_training_unchanged(case, monkeypatch):
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    expected = case.tiny_fit()
    tracklet.autolog()
    store = _client().store

    def broken_create_run(*args, **kwargs):
        raise OSError("no runs today")

    monkeypatch.setattr(store, "create_run", broken_create_run)
    with pytest.warns(AutologWarning, match="no runs today"):
        _assert_equal(case.tiny_fit(), expected)
    assert tracklet.active_run() is None


def test_strict_mode_raises_our_logging_failures(case, monkeypatch):
    tracklet.autolog()

    def broken_log_batch(*args, **kwargs):
        raise OSError("the store is broken")

    monkeypatch.setattr(_client().store, "log_batch", broken_log_batch)
    with pytest.raises(OSError, match="the store is broken"):
        case.tiny_fit()
        tracklet.flush_async_logging()  # a failure after the fit returned (sklearn) is raised here
    assert tracklet.active_run() is None


# ---------------------------------------------------------------------- every registered integration, every option


def test_every_registered_integration_has_a_contract_case():
    """A new integration cannot skip the contract: its registry line needs a case in integrations.py."""
    from tracklet.autolog.registry import INTEGRATIONS

    from .integrations import CASES as ALL_CASES

    assert {c.name for c in ALL_CASES} == set(INTEGRATIONS)
    assert {c.module for c in ALL_CASES} == {i.module for i in INTEGRATIONS.values()}


def _mlmodel(run_id: str, tmp_path) -> dict | None:
    import yaml

    client = _client()
    if "model" not in {a.path for a in client.list_artifacts(run_id)}:
        return None
    local = client.download_artifacts(run_id, "model/MLmodel", str(tmp_path))
    with open(local) as f:
        return yaml.safe_load(f)


def _only_run():
    (run,) = _runs()
    return run


def test_default_logs_the_model_with_a_signature_and_no_example(case, tmp_path):
    tracklet.autolog()
    case.tiny_fit()
    run = _only_run()
    model = _mlmodel(run.info.run_id, tmp_path)
    assert model is not None and "signature" in model and "saved_input_example_info" not in model
    assert "mlflow.log-model.history" in run.data.tags


def test_log_models_false_logs_no_model(case, tmp_path):
    tracklet.autolog(log_models=False, log_input_examples=True)
    case.tiny_fit()
    run = _only_run()
    assert _mlmodel(run.info.run_id, tmp_path) is None
    assert "mlflow.log-model.history" not in run.data.tags
    assert run.data.params and run.data.metrics  # everything else is still logged


def test_log_model_signatures_false_logs_no_signature(case, tmp_path):
    tracklet.autolog(log_model_signatures=False)
    case.tiny_fit()
    model = _mlmodel(_only_run().info.run_id, tmp_path)
    assert model is not None and "signature" not in model


def test_log_input_examples_true_saves_the_example(case, tmp_path):
    tracklet.autolog(log_input_examples=True)
    case.tiny_fit()
    run_id = _only_run().info.run_id
    model = _mlmodel(run_id, tmp_path)
    info = model["saved_input_example_info"]
    assert "signature" in model
    local = _client().download_artifacts(run_id, f"model/{info['artifact_path']}", str(tmp_path / "ex"))
    assert os.path.getsize(local) > 0


def test_silent_prints_nothing_and_warns_nothing(case, capfd, caplog):
    caplog.set_level("DEBUG")
    tracklet.autolog(silent=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        case.tiny_fit()
        case.noisy_fit()  # something our code would otherwise warn about
    out, err = capfd.readouterr()
    assert "tracklet" not in out + err
    assert [w for w in caught if issubclass(w.category, AutologWarning)] == []
    assert [r.getMessage() for r in caplog.records if r.name.startswith("tracklet")] == []
    assert _runs()  # and it did log


def test_the_same_noisy_fit_warns_without_silent(case):
    tracklet.autolog()
    with pytest.warns(AutologWarning):
        case.noisy_fit()
        tracklet.flush_async_logging()  # what a fit records after returning (sklearn) is done by now


def test_per_framework_disable_restores_and_logs_nothing(case):
    pairs = case.patched()
    originals = [vars(o).get(a) for o, a in pairs]
    public = importlib.import_module(f"tracklet.{case.name}")
    public.autolog()
    assert all(is_patched(o, a) for o, a in pairs)
    public.autolog(disable=True)
    assert all(vars(o).get(a) is orig for (o, a), orig in zip(pairs, originals, strict=True))
    case.tiny_fit()
    assert _runs() == []


def test_the_declared_version_range_starts_at_the_version_ci_tests(case):
    """registry.py claims only what is tested: its lower bound is the version .ci/constraints.txt pins."""
    from tracklet.autolog.core import installed_version, is_supported_version
    from tracklet.autolog.registry import INTEGRATIONS

    integ = INTEGRATIONS[case.name]
    version = installed_version(integ)
    assert is_supported_version(integ, version)
    ci = os.path.join(os.path.dirname(TESTS_DIR), ".ci")
    constraints = os.path.join(ci, f"constraints-{case.name}.txt")  # a framework with its own environment
    if not os.path.exists(constraints):
        constraints = os.path.join(ci, "constraints.txt")
    if os.path.exists(constraints):
        with open(constraints) as f:
            pins = dict(line.strip().split("==", 1) for line in f if "==" in line and not line.startswith("#"))
        pinned = pins.get(integ.distribution)
        assert pinned is not None, f"{integ.distribution} is not pinned in .ci/constraints.txt"
        major, minor = pinned.split(".")[:2]
        assert integ.min_version == f"{major}.{minor}.0", "the lower bound must be the tested (pinned) version"
