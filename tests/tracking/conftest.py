import pytest

import tracklet
from tracklet.tracking import fluent


@pytest.fixture(autouse=True)
def _tracking_sandbox(tmp_path, monkeypatch):
    for var in ("EXPERIMENT_NAME", "EXPERIMENT_ID", "RUN_ID", "TRACKING_URI"):
        monkeypatch.delenv("TRACKLET_" + var, raising=False)
        monkeypatch.delenv("MLFLOW_" + var, raising=False)
    monkeypatch.chdir(tmp_path)
    fluent._reset_for_tests()
    tracklet.set_tracking_uri(f"sqlite:///{tmp_path}/tracklet.db")
    yield
    leaked = tracklet.active_run()
    while tracklet.active_run() is not None:
        tracklet.end_run()
    fluent._reset_for_tests()
    assert leaked is None, f"test left run {leaked.info.run_id} active"
