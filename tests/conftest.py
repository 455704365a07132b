"""Shared by the whole suite: every test gets its own SQLite tracking store and working directory,
strict autolog mode (our autolog errors raise instead of warning), and afterwards must have left no run
active; autolog patches and tracking state are reset."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import tracklet
from tracklet.tracking import fluent

# The core suite runs with no ML stack installed; suites that need numpy/pandas are left out then
# (the per-framework suites skip themselves at module level).
collect_ignore: list[str] = []
if importlib.util.find_spec("numpy") is None or importlib.util.find_spec("pandas") is None:
    collect_ignore = ["flavors", "autolog/test_contract.py", "autolog/test_datasets.py"]


@pytest.fixture(autouse=True)
def _tracklet_isolation(tmp_path, monkeypatch):
    for var in ("EXPERIMENT_NAME", "EXPERIMENT_ID", "RUN_ID", "TRACKING_URI"):
        monkeypatch.delenv("TRACKLET_" + var, raising=False)
        monkeypatch.delenv("MLFLOW_" + var, raising=False)
    monkeypatch.setenv("TRACKLET_AUTOLOG_STRICT", "1")
    monkeypatch.chdir(tmp_path)
    fluent._reset_for_tests()
    tracklet.set_tracking_uri(f"sqlite:///{tmp_path}/tracklet.db")
    yield
    leaked = tracklet.active_run()
    while tracklet.active_run() is not None:
        tracklet.end_run()
    if "tracklet.autolog.core" in sys.modules:  # never import autolog just to clean up
        sys.modules["tracklet.autolog.core"]._reset_for_tests()
    fluent._reset_for_tests()
    if leaked is not None:
        pytest.fail(f"the test left run {leaked.info.run_id} active")
