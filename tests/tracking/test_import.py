import json
import subprocess
import sys

import tracklet

PINNED_ALL = [
    "ActiveRun",
    "MlflowClient",
    "MlflowException",
    "TrackletClient",
    "TrackletException",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "restore_run",
    "search_experiments",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]


def test_public_api_is_pinned():
    assert sorted(tracklet.__all__) == sorted(PINNED_ALL)
    for name in tracklet.__all__:
        assert getattr(tracklet, name) is not None


def test_import_is_light():
    code = (
        "import sys, json; import tracklet; "
        "heavy = ['sqlalchemy', 'pandas', 'numpy', 'sklearn', 'xgboost', 'lightgbm', 'tensorflow', 'mxnet', "
        "'pyspark', 'starlette', 'uvicorn', 'matplotlib', 'yaml', 'wrapt']; "
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_client_aliases():
    from tracklet.tracking import MlflowClient

    assert MlflowClient is tracklet.TrackletClient is tracklet.MlflowClient
    assert tracklet.MlflowException is tracklet.TrackletException
