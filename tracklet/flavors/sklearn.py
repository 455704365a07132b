"""The ``sklearn`` flavor: save, log and load scikit-learn estimators (and any pickleable model).

MLmodel sections written (MLflow's names, so MLflow loads our models)::

    sklearn:          {pickled_model: model.pkl, sklearn_version, serialization_format: cloudpickle, code: null}
    python_function:  {loader_module: mlflow.sklearn, model_path: model.pkl, predict_fn: predict, ...}

We load MLflow's sklearn models too, including its ``skops`` format when ``skops`` is installed.
Loading a pickle runs code from the file: only load models you trust.
"""

from __future__ import annotations

import os
from typing import Any

from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.flavors import env as _env
from tracklet.flavors import log_model as _log_model
from tracklet.flavors import pyfunc as _pyfunc
from tracklet.flavors.mlmodel import (
    Model,
    ModelInfo,
    add_code_to_sys_path,
    copy_code_paths,
    download_model,
    finish_model_dir,
    flavor_config,
    model_dir_of,
    prepare_model_dir,
    resolve_signature,
    save_input_example,
)
from tracklet.flavors.signature import ModelSignature

FLAVOR_NAME = "sklearn"
LOADER_MODULE = "mlflow.sklearn"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SERIALIZATION_FORMAT_SKOPS = "skops"
SUPPORTED_SERIALIZATION_FORMATS = (
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
    SERIALIZATION_FORMAT_SKOPS,
)
_PREDICT_FNS = (
    "predict",
    "predict_proba",
    "predict_log_proba",
    "predict_joint_log_proba",
    "decision_function",
    "transform",
)


def get_default_pip_requirements(serialization_format: str = SERIALIZATION_FORMAT_CLOUDPICKLE) -> list[str]:
    """Pinned requirements of a saved sklearn model (installed versions)."""
    dists = ["scikit-learn", "numpy", "scipy", "pandas"]
    if serialization_format in (SERIALIZATION_FORMAT_CLOUDPICKLE, SERIALIZATION_FORMAT_SKOPS):
        dists.append(serialization_format)
    return _env.default_requirements(dists)


def check_serialization_format(serialization_format: str | None) -> str:
    """The format to use (None means the default, cloudpickle); raises on an unknown one."""
    if serialization_format is None:
        return SERIALIZATION_FORMAT_CLOUDPICKLE
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterValue(
            f"serialization_format must be one of {list(SUPPORTED_SERIALIZATION_FORMATS)}, got {serialization_format!r}"
        )
    return serialization_format


def dump_model(model: Any, path: str, serialization_format: str) -> None:
    """Serialise ``model`` to ``path`` (shared with the lightgbm flavor for sklearn-API models)."""
    serialization_format = check_serialization_format(serialization_format)
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        import skops.io

        skops.io.dump(model, path)
        return
    if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
        import cloudpickle as pickler
    else:
        import pickle as pickler
    with open(path, "wb") as f:
        pickler.dump(model, f)


def _check_deserialization_allowed(path: str) -> None:
    """Loading a pickle (or skops file) runs code from it. Allowed by default, as in MLflow 3.17;
    ``TRACKLET_ALLOW_PICKLE_DESERIALIZATION=false`` (or MLflow's name) refuses it before the file is read."""
    from tracklet import env

    if not env.get_bool("ALLOW_PICKLE_DESERIALIZATION", True):
        raise TrackletException(
            f"Refusing to deserialize {path!r}: TRACKLET_ALLOW_PICKLE_DESERIALIZATION (or "
            "MLFLOW_ALLOW_PICKLE_DESERIALIZATION) is false, and loading a pickled model runs code from the file. "
            "Set it to true only for models from a store you trust.",
            "PERMISSION_DENIED",
        )


def load_file(path: str, serialization_format: str, skops_trusted_types: list | None = None) -> Any:
    """Deserialise a model file written by :func:`dump_model` (or by MLflow)."""
    check_serialization_format(serialization_format)
    _check_deserialization_allowed(path)
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        try:
            import skops.io
        except ImportError:
            raise InvalidParameterValue(
                "This model was saved in the 'skops' format; install skops to load it"
            ) from None
        return skops.io.load(path, trusted=skops_trusted_types)
    if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
        import cloudpickle as pickler
    else:
        import pickle as pickler
    with open(path, "rb") as f:
        return pickler.load(f)


def save_model(
    sk_model: Any,
    path: str,
    conda_env=None,
    code_paths: list | None = None,
    mlflow_model: Model | None = None,
    serialization_format: str = SERIALIZATION_FORMAT_CLOUDPICKLE,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict | None = None,
    skops_trusted_types: list | None = None,
) -> None:
    """Save a scikit-learn model to a new directory ``path`` in the MLmodel format.

    ``serialization_format``: ``"cloudpickle"`` (default), ``"pickle"`` or ``"skops"``. Without a
    ``signature``, one is inferred from ``input_example`` and the model's prediction on it
    (``signature=False`` disables that). ``pip_requirements`` replaces the pinned defaults,
    ``extra_pip_requirements`` adds to them.
    """
    serialization_format = check_serialization_format(serialization_format)
    if pyfunc_predict_fn not in _PREDICT_FNS or not hasattr(sk_model, pyfunc_predict_fn):
        raise InvalidParameterValue(
            f"pyfunc_predict_fn must name a method of the model among {list(_PREDICT_FNS)}, got {pyfunc_predict_fn!r}"
        )
    path = prepare_model_dir(path)
    model = mlflow_model if mlflow_model is not None else Model()
    code = copy_code_paths(code_paths, path)
    example = save_input_example(model, input_example, path)
    sig = resolve_signature(signature, example, getattr(sk_model, pyfunc_predict_fn))
    filename = "model.skops" if serialization_format == SERIALIZATION_FORMAT_SKOPS else "model.pkl"
    dump_model(sk_model, os.path.join(path, filename), serialization_format)
    conf: dict[str, Any] = {
        "pickled_model": filename,
        "sklearn_version": _env.installed_version("scikit-learn"),
        "serialization_format": serialization_format,
        "code": code,
    }
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        conf["skops_trusted_types"] = list(skops_trusted_types) if skops_trusted_types else None
    _pyfunc.add_to_model(model, LOADER_MODULE, model_path=filename, predict_fn=pyfunc_predict_fn, code=code)
    model.add_flavor(FLAVOR_NAME, **conf)
    _env.write_env_files(
        path,
        get_default_pip_requirements(serialization_format),
        pip_requirements,
        extra_pip_requirements,
        conda_env,
    )
    finish_model_dir(model, path, sig, metadata)


def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env=None,
    code_paths: list | None = None,
    serialization_format: str = SERIALIZATION_FORMAT_CLOUDPICKLE,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    pip_requirements=None,
    extra_pip_requirements=None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict | None = None,
    name: str | None = None,
    run_id: str | None = None,
    skops_trusted_types: list | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save a scikit-learn model and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or MLflow 3's ``name``) defaults to ``"model"``. Returns a ModelInfo whose
    ``model_uri`` is ``runs:/<run_id>/<artifact_path>``.

    >>> info = tracklet.sklearn.log_model(clf, name="model", input_example=X[:5])
    >>> tracklet.pyfunc.load_model(info.model_uri).predict(X)
    """
    return _log_model(
        save_model,
        sk_model,
        artifact_path,
        name,
        run_id,
        registered_model_name,
        ignored=kwargs,
        conda_env=conda_env,
        code_paths=code_paths,
        serialization_format=serialization_format,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        pyfunc_predict_fn=pyfunc_predict_fn,
        metadata=metadata,
        skops_trusted_types=skops_trusted_types,
    )


def _load_from_dir(model_dir: str) -> Any:
    conf = flavor_config(model_dir, FLAVOR_NAME)
    add_code_to_sys_path(model_dir, conf)
    return load_file(
        os.path.join(model_dir, conf["pickled_model"]),
        conf.get("serialization_format", SERIALIZATION_FORMAT_PICKLE),
        conf.get("skops_trusted_types"),
    )


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the scikit-learn model at ``model_uri`` (``runs:/<run_id>/<path>``, ``file://`` or a local path)."""
    return _load_from_dir(download_model(model_uri, dst_path))


class _SklearnModelWrapper:
    """The pyfunc object: ``predict`` (and the other predict functions) delegate to the estimator."""

    def __init__(self, sk_model: Any):
        self.sklearn_model = sk_model

    def get_raw_model(self) -> Any:
        return self.sklearn_model

    def predict(self, data: Any, params: dict | None = None):
        return self.sklearn_model.predict(data)

    def predict_proba(self, data: Any, params: dict | None = None):
        return self.sklearn_model.predict_proba(data)

    def predict_log_proba(self, data: Any, params: dict | None = None):
        return self.sklearn_model.predict_log_proba(data)

    def predict_joint_log_proba(self, data: Any, params: dict | None = None):
        return self.sklearn_model.predict_joint_log_proba(data)

    def decision_function(self, data: Any, params: dict | None = None):
        return self.sklearn_model.decision_function(data)

    def transform(self, data: Any, params: dict | None = None):
        return self.sklearn_model.transform(data)


def _load_pyfunc(path: str) -> _SklearnModelWrapper:
    """Called by ``pyfunc.load_model`` with the model directory (or the pickle file inside it)."""
    model_dir = model_dir_of(path)
    if os.path.isfile(path):
        try:
            conf = flavor_config(model_dir, FLAVOR_NAME)
        except Exception:  # a bare pickle next to no MLmodel: MLflow assumes plain pickle too
            conf = {}
        return _SklearnModelWrapper(
            load_file(
                path,
                conf.get("serialization_format", SERIALIZATION_FORMAT_PICKLE),
                conf.get("skops_trusted_types"),
            )
        )
    return _SklearnModelWrapper(_load_from_dir(model_dir))
