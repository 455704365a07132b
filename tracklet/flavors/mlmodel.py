"""The ``MLmodel`` file, model URIs, input examples and the save/log steps every flavor shares.

A saved model is a directory::

    MLmodel                     YAML: flavors, signature, input example info, uuid, times (keys sorted)
    model.pkl | model.ubj ...   the framework's own file
    requirements.txt, python_env.yaml, conda.yaml
    input_example.json, serving_input_example.json   (when an input example was given)

``log_model`` saves into a temp directory, uploads it as run artifacts under ``artifact_path`` and appends
the model's summary to the run's ``mlflow.log-model.history`` tag.
"""

from __future__ import annotations

import base64
import datetime as _dt
import json
import logging
import os
import shutil
import sys
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracklet.flavors.signature import ModelSignature

_logger = logging.getLogger(__name__)

MLMODEL_FILE = "MLmodel"
EXAMPLE_FILE = "input_example.json"
SERVING_EXAMPLE_FILE = "serving_input_example.json"
CODE_DIR = "code"


def _utcnow() -> str:
    return str(_dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None))


class Model:
    """The contents of an ``MLmodel`` file. Unknown keys (MLflow's ``model_id``, ``prompts``...) are kept."""

    def __init__(
        self,
        artifact_path: str | None = None,
        run_id: str | None = None,
        utc_time_created: str | None = None,
        flavors: dict | None = None,
        signature: ModelSignature | None = None,
        saved_input_example_info: dict | None = None,
        model_uuid: str | None = None,
        mlflow_version: str | None = None,
        metadata: dict | None = None,
        model_size_bytes: int | None = None,
        **extra: Any,
    ):
        from tracklet import __version__

        self.artifact_path = artifact_path
        self.run_id = run_id
        self.utc_time_created = str(utc_time_created) if utc_time_created else _utcnow()
        self.flavors: dict = dict(flavors or {})
        self.signature = signature
        self.saved_input_example_info = saved_input_example_info
        self.model_uuid = model_uuid or uuid.uuid4().hex
        self.mlflow_version = mlflow_version
        self.metadata = metadata
        self.model_size_bytes = model_size_bytes
        extra.setdefault("tracklet_version", __version__)
        self.extra = extra

    @property
    def model_id(self) -> str | None:
        """The logged model (MLflow 3, ``m-...``) this MLmodel belongs to, if any."""
        return self.extra.get("model_id")

    # ------------------------------------------------------------------ flavors and schemas
    def add_flavor(self, name: str, **params: Any) -> Model:
        self.flavors[name] = params
        return self

    def get_input_schema(self):
        return self.signature.inputs if self.signature is not None else None

    def get_output_schema(self):
        return self.signature.outputs if self.signature is not None else None

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict:
        d: dict[str, Any] = {k: v for k, v in self.extra.items() if v is not None}
        d.update(flavors=self.flavors, model_uuid=self.model_uuid, utc_time_created=self.utc_time_created)
        for key in (
            "artifact_path",
            "run_id",
            "mlflow_version",
            "saved_input_example_info",
            "metadata",
            "model_size_bytes",
        ):
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        if self.signature is not None:
            d["signature"] = self.signature.to_dict()
        return d

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), default_flow_style=False)

    def save(self, path: str) -> None:
        """Write the YAML to ``path`` (a file path, usually ``<model dir>/MLmodel``)."""
        with open(path, "w") as f:
            f.write(self.to_yaml())

    @classmethod
    def from_dict(cls, d: dict) -> Model:
        d = dict(d)
        if isinstance(d.get("signature"), dict):
            d["signature"] = ModelSignature.from_dict(d["signature"])
        d.setdefault("tracklet_version", None)  # an MLflow-written file is not ours: don't claim it
        return cls(**d)

    @classmethod
    def load(cls, path: str) -> Model:
        """Read an ``MLmodel`` file, a model directory, or a model URI (``runs:/``, ``file://``)."""
        path = os.fspath(path)
        if not os.path.exists(path):
            path = download_model(path)
        if os.path.isdir(path):
            path = os.path.join(path, MLMODEL_FILE)
        if not os.path.isfile(path):
            raise ResourceDoesNotExist(f'Could not find an "{MLMODEL_FILE}" configuration file at {path!r}')
        import yaml

        with open(path) as f:
            data = yaml.safe_load(f)
        if not isinstance(data, dict):
            raise InvalidParameterValue(f"{path!r} is not a valid MLmodel file: expected a YAML mapping")
        return cls.from_dict(data)

    def get_tags_dict(self) -> dict:
        """The entry appended to the run's ``mlflow.log-model.history`` tag."""
        d = self.to_dict()
        out = {k: d[k] for k in ("run_id", "artifact_path", "utc_time_created", "model_uuid") if k in d}
        out["flavors"] = {
            name: ({k: v for k, v in conf.items() if k != "config"} if isinstance(conf, dict) else conf)
            for name, conf in self.flavors.items()
        }
        return out

    def get_model_info(self, logged_model=None) -> ModelInfo:
        """What ``log_model`` returns; with a logged model, ``model_uri`` is ``models:/<model_id>``."""
        if logged_model is not None:
            uri = logged_model.model_uri
        else:
            uri = f"runs:/{self.run_id}/{self.artifact_path}" if self.run_id else None
        return ModelInfo(
            artifact_path=self.artifact_path,
            flavors=self.flavors,
            model_uri=uri,
            model_uuid=self.model_uuid,
            run_id=self.run_id,
            saved_input_example_info=self.saved_input_example_info,
            signature=self.signature,
            utc_time_created=self.utc_time_created,
            metadata=self.metadata,
            mlflow_version=self.mlflow_version,
            logged_model=logged_model,
        )

    def load_input_example(self, path: str):
        """The saved input example of the model in directory ``path`` (DataFrame, array or JSON value)."""
        return load_input_example(self, path)

    def __repr__(self) -> str:
        return f"Model(artifact_path={self.artifact_path!r}, run_id={self.run_id!r}, flavors={list(self.flavors)})"


@dataclass
class ModelInfo:
    """What ``log_model`` returns: where the model is and what it is."""

    artifact_path: str | None
    flavors: dict
    model_uri: str | None
    model_uuid: str
    run_id: str | None
    saved_input_example_info: dict | None
    signature: ModelSignature | None
    utc_time_created: str
    metadata: dict | None = None
    registered_model_version: int | None = None
    mlflow_version: str | None = None
    logged_model: Any = None  # tracklet.tracking.stores.logged_models.LoggedModel (MLflow 3), if the store keeps them

    @property
    def model_id(self) -> str | None:
        return self.logged_model.model_id if self.logged_model is not None else None

    @property
    def name(self) -> str | None:
        return self.logged_model.name if self.logged_model is not None else self.artifact_path

    @property
    def tags(self) -> dict:
        return dict(self.logged_model.tags) if self.logged_model is not None else {}

    @property
    def params(self) -> dict:
        return dict(self.logged_model.params) if self.logged_model is not None else {}

    @property
    def creation_timestamp(self) -> int | None:
        return self.logged_model.creation_timestamp if self.logged_model is not None else None

    @property
    def signature_dict(self) -> dict | None:
        return self.signature.to_dict() if self.signature is not None else None


# ---------------------------------------------------------------------- model URIs
def download_model(model_uri: str, dst_path: str | None = None) -> str:
    """Local directory of the model at ``model_uri``: ``runs:/<run_id>/<path>``, ``file://...`` or a path.

    Local models (including run artifacts on the local filesystem) are used in place, not copied,
    unless ``dst_path`` asks for a copy.
    """
    from tracklet.tracking.artifacts.local import local_path_from_uri

    uri = os.fspath(model_uri)
    if uri.startswith("runs:"):
        return _download_run_model(uri, dst_path)
    if uri.startswith("models:"):  # a logged model (MLflow 3): wherever its store says its files are
        from tracklet.tracking.current import get_client
        from tracklet.tracking.stores.logged_models import model_uri_location

        return download_model(model_uri_location(get_client(), uri), dst_path)
    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        local = local_path_from_uri(uri) if scheme == "file" else os.path.abspath(uri)
        if not os.path.exists(local):
            raise ResourceDoesNotExist(f"No model at {uri!r}: {local!r} does not exist")
        if dst_path is not None:
            dest = os.path.join(os.path.abspath(dst_path), os.path.basename(local.rstrip(os.sep)))
            shutil.copytree(local, dest, dirs_exist_ok=True)
            return dest
        return local
    from tracklet.tracking.artifacts import get_artifact_repository

    return get_artifact_repository(uri).download_artifacts("", dst_path)


def _download_run_model(uri: str, dst_path: str | None) -> str:
    """``runs:/<run_id>/<path>``: the path is decoded once, validated, and resolved by the run's artifact
    repository (never by re-parsing a URI built from it), so it cannot leave the run's artifact root."""
    from tracklet.tracking.artifacts import get_artifact_repository, parse_runs_uri
    from tracklet.tracking.current import get_client

    run_id, rel = parse_runs_uri(uri)
    client = get_client()
    repo = get_artifact_repository(client.get_run(run_id).info.artifact_uri, client.tracking_uri)
    if dst_path is None and hasattr(repo, "local_model_path"):
        local = repo.local_model_path(rel)  # used in place unless a link or special file lies under it
        if local is not None:
            return local
    try:
        return repo.download_artifacts(rel, dst_path)
    except ResourceDoesNotExist:
        from tracklet.tracking.stores.logged_models import run_model_location

        location = run_model_location(get_client(), run_id, rel)  # MLflow 3: the run's logged model of that name
        if location is not None:
            return download_model(location, dst_path)
        raise ResourceDoesNotExist(f"No model at {uri!r}: run {run_id} has no artifact {rel!r}") from None


def flavor_config(model_dir: str, flavor: str) -> dict:
    """The ``flavor`` section of the MLmodel in ``model_dir``; raises naming the flavors it does have."""
    model = Model.load(os.path.join(model_dir, MLMODEL_FILE))
    if flavor not in model.flavors:
        raise InvalidParameterValue(
            f"Model at {model_dir!r} has no {flavor!r} flavor (it has: {', '.join(model.flavors) or 'none'})"
        )
    return model.flavors[flavor]


def model_dir_of(path: str) -> str:
    """A loader gets either the model directory or a data file inside it; return the directory."""
    return os.path.dirname(path) if os.path.isfile(path) else path


# ---------------------------------------------------------------------- saving steps
def prepare_model_dir(path) -> str:
    """Create the target directory of ``save_model``; an existing non-empty one is an error (as in MLflow)."""
    path = os.path.abspath(os.fspath(path))
    if os.path.exists(path) and (not os.path.isdir(path) or os.listdir(path)):
        raise ResourceAlreadyExists(f"save_model: path {path!r} already exists and is not empty")
    os.makedirs(path, exist_ok=True)
    return path


def copy_code_paths(code_paths, path: str) -> str | None:
    """Copy user code files/directories into ``<path>/code``; returns ``"code"`` or None."""
    if not code_paths:
        return None
    dest = os.path.join(path, CODE_DIR)
    os.makedirs(dest, exist_ok=True)
    for src in code_paths:
        src = os.fspath(src)
        if not os.path.exists(src):
            raise InvalidParameterValue(f"code_paths: {src!r} does not exist")
        target = os.path.join(dest, os.path.basename(os.path.normpath(src)))
        if os.path.isdir(src):
            shutil.copytree(src, target, dirs_exist_ok=True)
        else:
            shutil.copy2(src, target)
    return CODE_DIR


def add_code_to_sys_path(model_dir: str, conf: dict) -> None:
    code = conf.get("code") if isinstance(conf, dict) else None
    if code:
        code_dir = os.path.join(model_dir, code)
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)


def resolve_signature(signature, example, predict=None) -> ModelSignature | None:
    """``signature`` if given; ``False`` means none; otherwise infer it from the example and ``predict(example)``."""
    if signature is False:
        return None
    if signature is not None:
        if not isinstance(signature, ModelSignature):
            raise InvalidParameterValue(
                f"signature must be a ModelSignature (see infer_signature), got {type(signature).__name__}"
            )
        return signature
    if example is None:
        return None
    from tracklet.flavors.signature import infer_signature

    try:
        output = predict(example) if predict is not None else None
        return infer_signature(example, output)
    except Exception as e:  # a model that can't predict on its example still gets saved
        _logger.warning("Could not infer the model signature from the input example: %s", e)
        return None


def finish_model_dir(model: Model, path: str, signature: ModelSignature | None, metadata: dict | None) -> None:
    """Set signature/metadata, measure the directory and write ``MLmodel`` last."""
    if signature is not None:
        model.signature = signature
    if metadata is not None:
        model.metadata = metadata
    total = 0
    for root, _dirs, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    model.model_size_bytes = total
    model.save(os.path.join(path, MLMODEL_FILE))


# ---------------------------------------------------------------------- input examples
def _json_default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (bytes, bytearray)):
        return base64.b64encode(bytes(o)).decode("ascii")
    if isinstance(o, (_dt.datetime, _dt.date)):
        return o.isoformat()
    if hasattr(o, "isoformat"):  # pandas Timestamp
        return o.isoformat()
    raise TypeError(f"input_example: value of type {type(o).__name__} is not JSON serializable")


def _nan_to_none(obj):
    if isinstance(obj, float) and obj != obj:
        return None
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    return obj


def save_input_example(model: Model, input_example: Any, path: str):
    """Write ``input_example.json`` and ``serving_input_example.json``; return the example data (or None).

    Formats (as MLflow writes and reads them): DataFrame -> split orient without index
    (``{"columns": [...], "data": [...]}``), ndarray -> nested list, dict of arrays -> dict of lists,
    anything JSON-like -> as is. The serving file wraps it as ``{"dataframe_split": ...}`` or ``{"inputs": ...}``.
    """
    if input_example is None:
        return None
    import numpy as np
    import pandas as pd

    data = input_example
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[1], dict):
        data = data[0]  # (data, params): params are not stored
    info: dict[str, Any] = {"artifact_path": EXAMPLE_FILE}
    serving: dict | None
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        payload = data.to_dict(orient="split")
        payload.pop("index", None)
        if list(data.columns) == list(range(data.shape[1])):
            payload.pop("columns", None)
        info.update(type="dataframe", pandas_orient="split" if "columns" in payload else "values")
        serving = {"dataframe_split": payload}
    elif isinstance(data, np.ndarray):
        payload = data.tolist()
        info["type"] = "ndarray"
        serving = {"inputs": payload}
    elif isinstance(data, dict) and data and all(isinstance(v, np.ndarray) for v in data.values()):
        payload = {k: v.tolist() for k, v in data.items()}
        info["type"] = "ndarray"
        serving = {"inputs": payload}
    elif hasattr(data, "tocsr") and hasattr(data, "indptr"):  # scipy csr/csc
        payload = {
            "data": data.data.tolist(),
            "indices": data.indices.tolist(),
            "indptr": data.indptr.tolist(),
            "shape": list(data.shape),
        }
        info["type"] = "sparse_matrix_csc" if data.format == "csc" else "sparse_matrix_csr"
        serving = None
    elif isinstance(data, (dict, list, str, int, float, bool)):
        payload = data
        info["type"] = "json_object"
        serving = {"inputs": payload}
    else:
        raise InvalidParameterValue(
            f"input_example must be a pandas DataFrame, numpy array, dict of arrays, scipy sparse matrix, list, "
            f"dict or scalar, got {type(data).__name__}"
        )
    with open(os.path.join(path, EXAMPLE_FILE), "w") as f:
        f.write(json.dumps(_nan_to_none(payload), default=_json_default))
    if serving is not None:
        with open(os.path.join(path, SERVING_EXAMPLE_FILE), "w") as f:
            f.write(json.dumps(_nan_to_none(serving), default=_json_default, indent=2))
        info["serving_input_path"] = SERVING_EXAMPLE_FILE
    model.saved_input_example_info = info
    return data


def load_input_example(model: Model, path: str):
    """Read the input example of the model in directory ``path`` back (None if it has none)."""
    info = model.saved_input_example_info
    if not info:
        return None
    with open(os.path.join(path, info.get("artifact_path", EXAMPLE_FILE))) as f:
        payload = json.load(f)
    kind = info.get("type")
    if kind == "dataframe":
        import pandas as pd

        if isinstance(payload, dict):
            return pd.DataFrame(payload.get("data", []), columns=payload.get("columns"))
        return pd.DataFrame(payload)
    if kind == "ndarray":
        import numpy as np

        schema = model.get_input_schema()
        dtype = None
        if schema is not None and schema.is_tensor_spec() and not schema.has_input_names():
            dtype = schema.inputs[0].dtype if schema.inputs[0].dtype not in ("str", "bytes", "object") else None
        if isinstance(payload, dict):
            return {k: np.asarray(v) for k, v in payload.items()}
        return np.asarray(payload, dtype=dtype)
    if kind in ("sparse_matrix_csr", "sparse_matrix_csc"):
        from scipy import sparse

        cls = sparse.csc_matrix if kind == "sparse_matrix_csc" else sparse.csr_matrix
        return cls((payload["data"], payload["indices"], payload["indptr"]), shape=tuple(payload["shape"]))
    return payload
