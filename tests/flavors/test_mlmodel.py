"""MLmodel file, signatures, schema enforcement, input examples, environment files, model URIs."""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.flavors import env as fenv
from tracklet.flavors.enforce import enforce_schema
from tracklet.flavors.mlmodel import Model, download_model, load_input_example, save_input_example
from tracklet.models import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature


# ---------------------------------------------------------------------- Model
def test_model_dict_round_trip_and_yaml(tmp_path):
    sig = infer_signature(np.zeros((2, 3)), np.zeros(2, dtype="int64"))
    m = Model(artifact_path="model", run_id="r1", signature=sig, metadata={"k": "v"})
    m.add_flavor("python_function", loader_module="mlflow.sklearn", config={"x": 1})
    m.add_flavor("sklearn", pickled_model="model.pkl", code=None)
    assert len(m.model_uuid) == 32 and int(m.model_uuid, 16) >= 0
    # str(datetime.utcnow()) format: "YYYY-mm-dd HH:MM:SS.ffffff"
    assert len(m.utc_time_created) == 26 and m.utc_time_created[10] == " "
    m.save(str(tmp_path / "MLmodel"))
    raw = yaml.safe_load((tmp_path / "MLmodel").read_text())
    assert raw["signature"] == {
        "inputs": '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]',
        "outputs": '[{"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}]',
        "params": None,
    }
    assert raw["artifact_path"] == "model" and raw["run_id"] == "r1" and "mlflow_version" not in raw
    assert raw["tracklet_version"]
    back = Model.load(str(tmp_path))  # a directory works too
    assert back.signature == sig and back.flavors == m.flavors and back.model_uuid == m.model_uuid
    assert back.utc_time_created == m.utc_time_created and back.metadata == {"k": "v"}


def test_model_omits_none_keys_and_keeps_unknown_ones():
    m = Model.from_dict(
        {
            "flavors": {},
            "model_uuid": "u",
            "utc_time_created": "t",
            "model_id": "m-1",
            "mlflow_version": "3.1.0",
        }
    )
    d = m.to_dict()
    assert "artifact_path" not in d and "run_id" not in d and "signature" not in d
    assert d["model_id"] == "m-1" and d["mlflow_version"] == "3.1.0"
    assert "tracklet_version" not in d  # an MLflow-written file isn't claimed as ours


def test_tags_dict_is_the_history_entry():
    m = Model(artifact_path="model", run_id="r", signature=infer_signature(np.zeros((1, 2))))
    m.add_flavor("python_function", loader_module="mlflow.sklearn", config={"a": 1})
    m.saved_input_example_info = {"artifact_path": "input_example.json", "type": "ndarray"}
    tags = m.get_tags_dict()
    assert set(tags) == {"run_id", "artifact_path", "utc_time_created", "model_uuid", "flavors"}
    assert tags["flavors"] == {"python_function": {"loader_module": "mlflow.sklearn"}}


def test_model_load_missing_file(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResourceDoesNotExist, match="MLmodel"):
        Model.load(str(tmp_path / "empty"))


# ---------------------------------------------------------------------- signatures
def test_infer_signature_dataframe_types_match_mlflow_names():
    df = pd.DataFrame(
        {
            "l": np.array([1, 2], dtype="int64"),
            "i": np.array([1, 2], dtype="int32"),
            "d": [1.0, 2.0],
            "f": np.array([1, 2], dtype="float32"),
            "s": ["x", "y"],
            "b": [True, False],
            "t": pd.to_datetime(["2020-01-01", "2020-01-02"]),
            "by": [b"a", b"b"],
            "n": ["x", None],
        }
    )
    sig = infer_signature(df, pd.Series([0.5, 0.1], name="p"))
    assert json.loads(sig.to_dict()["inputs"]) == [
        {"type": "long", "name": "l", "required": True},
        {"type": "integer", "name": "i", "required": True},
        {"type": "double", "name": "d", "required": True},
        {"type": "float", "name": "f", "required": True},
        {"type": "string", "name": "s", "required": True},
        {"type": "boolean", "name": "b", "required": True},
        {"type": "datetime", "name": "t", "required": True},
        {"type": "binary", "name": "by", "required": True},
        {"type": "string", "name": "n", "required": False},
    ]
    assert json.loads(sig.to_dict()["outputs"]) == [{"type": "double", "name": "p", "required": True}]
    assert infer_signature(df[["l"]], [1, 2]).outputs.to_dict() == [{"type": "long", "required": True}]


def test_infer_signature_tensors():
    sig = infer_signature(np.zeros((5, 3, 2), dtype="float32"))
    assert sig.inputs.inputs == [TensorSpec("float32", (-1, 3, 2))] and sig.outputs is None
    named = infer_signature({"a": np.zeros((2, 2)), "b": np.zeros(2, dtype="int32")})
    assert [s.name for s in named.inputs.inputs] == ["a", "b"] and named.inputs.inputs[1].shape == (-1,)
    assert infer_signature(np.array([["a", "b"]])).inputs.inputs[0].dtype == "str"


def test_schema_json_round_trip_keeps_unknown_types():
    text = json.dumps(
        [
            {"type": "array", "items": {"type": "double"}, "name": "v", "required": True},
            {"type": "double", "name": "x", "required": True},
        ]
    )
    schema = Schema.from_json(text)
    assert json.loads(schema.to_json()) == json.loads(text)
    assert schema.input_names() == ["v", "x"]
    with pytest.raises(InvalidParameterValue, match="mix"):
        Schema([ColSpec("double", "x"), TensorSpec("float64", (-1,))])
    with pytest.raises(InvalidParameterValue, match="JSON"):
        Schema.from_json("not json")


def test_infer_signature_rejects_unsupported():
    with pytest.raises(InvalidParameterValue, match="unsupported data type"):
        infer_signature(object())


# ---------------------------------------------------------------------- enforcement
@pytest.fixture
def col_schema():
    return Schema([ColSpec("double", "a"), ColSpec("long", "b"), ColSpec("string", "s", required=False)])


def test_enforce_columns_missing_required_names_the_column(col_schema):
    with pytest.raises(TrackletException, match=r"missing inputs \['b'\]"):
        enforce_schema(pd.DataFrame({"a": [1.0]}), col_schema)


def test_enforce_columns_casts_safely_reorders_and_drops_extra(col_schema):
    df = pd.DataFrame({"zzz": [0], "b": np.array([1], dtype="int32"), "a": [3]})
    out = enforce_schema(df, col_schema)
    assert list(out.columns) == ["a", "b"]
    assert out["a"].dtype == np.float64 and out["b"].dtype == np.int64
    out = enforce_schema({"a": 1.5, "b": 2}, col_schema)  # a dict becomes a one-row frame
    assert out.shape == (1, 2)
    assert enforce_schema([{"a": 1.0, "b": 1}, {"a": 2.0, "b": 2}], col_schema).shape == (2, 2)


def test_enforce_columns_rejects_unsafe(col_schema):
    with pytest.raises(InvalidParameterValue, match="column 'a'"):
        enforce_schema(pd.DataFrame({"a": ["x"], "b": [1]}), col_schema)
    with pytest.raises(InvalidParameterValue, match="column 'b'"):
        enforce_schema(pd.DataFrame({"a": [1.0], "b": [1.5]}), col_schema)
    with pytest.raises(InvalidParameterValue, match="column 's'"):
        enforce_schema(pd.DataFrame({"a": [1.0], "b": [1], "s": [3.0]}), col_schema)
    with pytest.raises(InvalidParameterValue, match="missing inputs"):
        enforce_schema(np.zeros((2, 2)), col_schema)


def test_enforce_tensor_shape_and_dtype():
    schema = Schema([TensorSpec("float64", (-1, 3))])
    assert enforce_schema(np.zeros((4, 3)), schema).shape == (4, 3)
    assert enforce_schema(np.ones((2, 3), dtype="int32"), schema).dtype == np.float64  # safe upcast
    assert enforce_schema(pd.DataFrame(np.zeros((2, 3))), schema).shape == (2, 3)
    with pytest.raises(InvalidParameterValue, match=r"Shape of input \(2, 4\)"):
        enforce_schema(np.zeros((2, 4)), schema)
    with pytest.raises(InvalidParameterValue, match="dtype of input <U1"):
        enforce_schema(np.array([["a", "b", "c"]]), schema)
    f32 = Schema([TensorSpec("float32", (-1, 3))])
    with pytest.raises(InvalidParameterValue, match="cannot be safely cast"):
        enforce_schema(np.zeros((1, 3)), f32)


def test_enforce_named_tensors():
    schema = Schema([TensorSpec("float64", (-1,), "x"), TensorSpec("int64", (-1, 2), "y")])
    out = enforce_schema({"x": np.zeros(3), "y": np.zeros((3, 2), dtype="int64")}, schema)
    assert set(out) == {"x", "y"}
    with pytest.raises(InvalidParameterValue, match=r"missing inputs \['y'\]"):
        enforce_schema({"x": np.zeros(3)}, schema)


# ---------------------------------------------------------------------- input examples
def test_input_example_ndarray_format(tmp_path):
    m = Model()
    save_input_example(m, np.array([[1.0, np.nan], [3.0, 4.0]]), str(tmp_path))
    assert json.loads((tmp_path / "input_example.json").read_text()) == [[1.0, None], [3.0, 4.0]]
    assert json.loads((tmp_path / "serving_input_example.json").read_text()) == {"inputs": [[1.0, None], [3.0, 4.0]]}
    assert m.saved_input_example_info == {
        "artifact_path": "input_example.json",
        "type": "ndarray",
        "serving_input_path": "serving_input_example.json",
    }
    m.signature = infer_signature(np.zeros((1, 2)))
    back = load_input_example(m, str(tmp_path))
    assert back.dtype == np.float64 and back.shape == (2, 2)


def test_input_example_dataframe_split_orient(tmp_path):
    m = Model()
    df = pd.DataFrame({"a": [1, 2], "s": ["x", None]})
    save_input_example(m, df, str(tmp_path))
    assert json.loads((tmp_path / "input_example.json").read_text()) == {
        "columns": ["a", "s"],
        "data": [[1, "x"], [2, None]],
    }
    assert json.loads((tmp_path / "serving_input_example.json").read_text())["dataframe_split"]["columns"] == ["a", "s"]
    assert m.saved_input_example_info["type"] == "dataframe"
    assert m.saved_input_example_info["pandas_orient"] == "split"
    pd.testing.assert_frame_equal(load_input_example(m, str(tmp_path)), df, check_dtype=False)


def test_input_example_rejects_unsupported(tmp_path):
    with pytest.raises(InvalidParameterValue, match="input_example"):
        save_input_example(Model(), object(), str(tmp_path))


# ---------------------------------------------------------------------- environment files
def test_env_files_pinned_from_installed_distributions(tmp_path):
    reqs = fenv.write_env_files(str(tmp_path), fenv.default_requirements(["numpy", "not-a-real-dist-xyz"]))
    assert reqs == [f"numpy=={np.__version__}"]
    assert (tmp_path / "requirements.txt").read_text() == f"numpy=={np.__version__}"
    py_env = yaml.safe_load((tmp_path / "python_env.yaml").read_text())
    assert py_env["python"] == fenv.python_version()
    assert py_env["build_dependencies"][-1] == "wheel" and py_env["build_dependencies"][0].startswith("pip")
    assert py_env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((tmp_path / "conda.yaml").read_text())
    assert conda["name"] == "mlflow-env" and conda["channels"] == ["conda-forge"]
    assert conda["dependencies"][0] == f"python={fenv.python_version()}"
    assert conda["dependencies"][-1] == {"pip": reqs}


def test_env_pip_requirements_and_extra(tmp_path):
    default = ["numpy==1.0", "pandas==2.0"]
    assert fenv.resolve_requirements(default, pip_requirements=["foo==1"])[0] == ["foo==1"]
    assert fenv.resolve_requirements(default, extra_pip_requirements=["numpy>=2", "bar"])[0] == [
        "pandas==2.0",
        "numpy>=2",
        "bar",
    ]
    req_file = tmp_path / "reqs.txt"
    req_file.write_text("# comment\nbaz==3\n\n")
    assert fenv.resolve_requirements(default, pip_requirements=str(req_file))[0] == ["baz==3"]
    with pytest.raises(InvalidParameterValue, match="Only one of"):
        fenv.resolve_requirements(default, pip_requirements=["a"], extra_pip_requirements=["b"])
    with pytest.raises(InvalidParameterValue, match="pip_requirements"):
        fenv.resolve_requirements(default, pip_requirements=[1, 2])
    reqs, conda = fenv.resolve_requirements(default, conda_env={"dependencies": ["python=3.11", {"pip": ["q==1"]}]})
    assert reqs == ["q==1"] and conda["dependencies"][0] == "python=3.11"


# ---------------------------------------------------------------------- URIs and imports
def test_download_model_uris(tmp_path):
    (tmp_path / "m").mkdir()
    assert download_model(str(tmp_path / "m")) == str(tmp_path / "m")
    assert download_model((tmp_path / "m").as_uri()) == str(tmp_path / "m")
    with pytest.raises(ResourceDoesNotExist):
        download_model(str(tmp_path / "nope"))
    with pytest.raises(InvalidParameterValue, match="registry"):
        download_model("models:/name/1")
    with pytest.raises(InvalidParameterValue, match="runs:/"):
        download_model("runs:/")


def test_flavor_modules_import_no_framework():
    code = (
        "import sys, json\n"
        "import tracklet.flavors.mlmodel, tracklet.flavors.signature, tracklet.flavors.enforce, tracklet.flavors.env\n"
        "import tracklet.flavors.pyfunc, tracklet.flavors.sklearn\n"
        "import tracklet.flavors.xgboost, tracklet.flavors.lightgbm\n"
        "import tracklet.pyfunc, tracklet.models, tracklet.sklearn, tracklet.xgboost, tracklet.lightgbm\n"
        "heavy = ['numpy', 'pandas', 'sklearn', 'xgboost', 'lightgbm', 'scipy', 'mlflow']\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )
    assert json.loads(out.stdout) == []


def test_mlflow_style_submodule_imports():
    from tracklet.models.signature import ModelSignature as S
    from tracklet.models.signature import infer_signature as f

    assert f is infer_signature and S is ModelSignature


def test_public_autolog_delegates_with_signature():
    import inspect

    import tracklet.sklearn
    from tracklet.autolog.core import FrameworkAutolog

    params = inspect.signature(tracklet.sklearn.autolog).parameters
    assert "disable" in params and "log_models" in params and "max_tuning_runs" in params
    assert "max_tuning_runs" in tracklet.sklearn.autolog.__doc__

    FrameworkAutolog("no_such_framework")  # creating one must not raise (only calling it does)
