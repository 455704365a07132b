import importlib
import importlib.util
import json
import subprocess
import sys

import pytest

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
    "get_logged_model",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "last_logged_model",
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
    "search_logged_models",
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


PINNED_NAMESPACES = {
    "tracklet.entities": [
        "Dataset",
        "DatasetInput",
        "Experiment",
        "ExperimentTag",
        "FileInfo",
        "LifecycleStage",
        "Metric",
        "PagedList",
        "Param",
        "Run",
        "RunData",
        "RunInfo",
        "RunInputs",
        "RunStatus",
        "RunTag",
        "SourceType",
        "ViewType",
    ],
    "tracklet.tracking": ["MlflowClient", "TrackletClient"],
    "tracklet.tracking.current": ["get_client", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"],
    "tracklet.exceptions": [
        "BAD_REQUEST",
        "INTERNAL_ERROR",
        "INVALID_PARAMETER_VALUE",
        "INVALID_STATE",
        "InvalidParameterValue",
        "InvalidState",
        "MlflowException",
        "RESOURCE_ALREADY_EXISTS",
        "RESOURCE_DOES_NOT_EXIST",
        "ResourceAlreadyExists",
        "ResourceDoesNotExist",
        "RestException",
        "TrackletException",
    ],
    "tracklet.sklearn": [
        "FLAVOR_NAME",
        "autolog",
        "get_default_pip_requirements",
        "load_model",
        "log_model",
        "save_model",
    ],
    "tracklet.xgboost": [
        "FLAVOR_NAME",
        "autolog",
        "get_default_pip_requirements",
        "load_model",
        "log_model",
        "save_model",
    ],
    "tracklet.lightgbm": [
        "FLAVOR_NAME",
        "autolog",
        "get_default_pip_requirements",
        "load_model",
        "log_model",
        "save_model",
    ],
    "tracklet.pyfunc": ["FLAVOR_NAME", "PyFuncModel", "add_to_model", "get_model_dependencies", "load_model"],
    "tracklet.models": [
        "ColSpec",
        "Model",
        "ModelInfo",
        "ModelSignature",
        "Schema",
        "TensorSpec",
        "get_model_info",
        "infer_signature",
        "validate_schema",
    ],
}


@pytest.mark.parametrize("module", sorted(PINNED_NAMESPACES))
def test_public_namespaces_are_pinned(module):
    mod = importlib.import_module(module)
    assert sorted(mod.__all__) == sorted(PINNED_NAMESPACES[module])
    for name in mod.__all__:
        assert getattr(mod, name) is not None


@pytest.mark.parametrize("name", ["keras", "tensorflow", "gluon", "pyspark", "spark", "no_such_thing"])
def test_a_missing_submodule_is_an_attribute_error(name):
    if importlib.util.find_spec(f"tracklet.{name}") is not None:
        pytest.skip(f"tracklet/{name} exists now")
    assert not hasattr(tracklet, name)
    with pytest.raises(AttributeError, match=name):
        getattr(tracklet, name)


def test_a_new_submodule_is_available_with_no_edit(tmp_path, monkeypatch):
    (tmp_path / "probe_namespace.py").write_text("VALUE = 42\n")
    monkeypatch.setattr(tracklet, "__path__", [*tracklet.__path__, str(tmp_path)])
    try:
        assert tracklet.probe_namespace.VALUE == 42
        assert "probe_namespace" in dir(tracklet)
    finally:
        sys.modules.pop("tracklet.probe_namespace", None)
        tracklet.__dict__.pop("probe_namespace", None)


def test_framework_namespaces_load_no_autolog_code():
    code = (
        "import sys, json; import tracklet.sklearn, tracklet.xgboost, tracklet.lightgbm, tracklet.pyfunc; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('wrapt', 'sklearn', 'xgboost', 'lightgbm') or m.startswith('tracklet.autolog'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_framework_autolog_is_the_integrations_own_function():
    import tracklet.autolog.sklearn
    import tracklet.sklearn

    assert tracklet.sklearn.autolog is tracklet.autolog.sklearn.autolog
