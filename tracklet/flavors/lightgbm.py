"""The ``lightgbm`` flavor: save, log and load LightGBM Boosters and sklearn-API models.

A ``Booster`` is saved with LightGBM's text format (``model.lgb``); an sklearn-API model
(``LGBMClassifier``...) is pickled (``model.pkl``, cloudpickle), as MLflow does outside its ``skops`` default::

    lightgbm:         {data: model.lgb, model_class: lightgbm.basic.Booster, lgb_version, code: null}
    lightgbm:         {data: model.pkl, model_class: lightgbm.sklearn.LGBMClassifier, lgb_version,
                       serialization_format: cloudpickle, code: null}
    python_function:  {loader_module: mlflow.lightgbm, data: model.lgb | model.pkl, ...}

MLflow 3's ``skops`` files load too when ``skops`` is installed.
"""

from __future__ import annotations

import os
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import class_path
from tracklet.flavors import env as _env
from tracklet.flavors import log_model as _log_model
from tracklet.flavors import pyfunc as _pyfunc
from tracklet.flavors import sklearn as _sk
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

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"


def get_default_pip_requirements(
    sklearn_api: bool = False, serialization_format: str = _sk.SERIALIZATION_FORMAT_CLOUDPICKLE
) -> list[str]:
    """Pinned requirements of a saved LightGBM model (installed versions)."""
    dists = ["lightgbm", "numpy", "scipy", "pandas"]
    if sklearn_api:
        dists.append("scikit-learn")
        if serialization_format != _sk.SERIALIZATION_FORMAT_PICKLE:
            dists.append(serialization_format)
    return _env.default_requirements(dists)


def save_model(
    lgb_model: Any,
    path: str,
    conda_env=None,
    code_paths: list | None = None,
    mlflow_model: Model | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata: dict | None = None,
    serialization_format: str = _sk.SERIALIZATION_FORMAT_CLOUDPICKLE,
) -> None:
    """Save a LightGBM model (``Booster`` or ``LGBMModel`` subclass) to a new directory ``path``.

    ``serialization_format`` applies to sklearn-API models only (``"cloudpickle"``, ``"pickle"``, ``"skops"``).
    """
    import lightgbm as lgb

    if not isinstance(lgb_model, (lgb.Booster, lgb.LGBMModel)):
        raise InvalidParameterValue(
            f"lgb_model must be a lightgbm.Booster or a LightGBM sklearn-API model, got {type(lgb_model).__name__}"
        )
    is_booster = isinstance(lgb_model, lgb.Booster)
    serialization_format = _sk.check_serialization_format(serialization_format)
    path = prepare_model_dir(path)
    model = mlflow_model if mlflow_model is not None else Model()
    code = copy_code_paths(code_paths, path)
    example = save_input_example(model, input_example, path)
    sig = resolve_signature(signature, example, lgb_model.predict)
    conf: dict[str, Any]
    if is_booster:
        filename = "model.lgb"
        lgb_model.save_model(os.path.join(path, filename))
        conf = {"data": filename, "model_class": BOOSTER_CLASS}
    else:
        filename = "model.skops" if serialization_format == _sk.SERIALIZATION_FORMAT_SKOPS else "model.pkl"
        _sk.dump_model(lgb_model, os.path.join(path, filename), serialization_format)
        conf = {
            "data": filename,
            "model_class": class_path(lgb_model),
            "serialization_format": serialization_format,
        }
        if serialization_format == _sk.SERIALIZATION_FORMAT_SKOPS:
            conf["skops_trusted_types"] = [class_path(lgb_model), BOOSTER_CLASS, "collections.OrderedDict"]
    conf.update(lgb_version=lgb.__version__, code=code)
    _pyfunc.add_to_model(model, LOADER_MODULE, data=filename, code=code)
    model.add_flavor(FLAVOR_NAME, **conf)
    _env.write_env_files(
        path,
        get_default_pip_requirements(not is_booster, serialization_format),
        pip_requirements,
        extra_pip_requirements,
        conda_env,
    )
    finish_model_dir(model, path, sig, metadata)


def log_model(
    lgb_model: Any,
    artifact_path: str | None = None,
    conda_env=None,
    code_paths: list | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata: dict | None = None,
    name: str | None = None,
    run_id: str | None = None,
    serialization_format: str = _sk.SERIALIZATION_FORMAT_CLOUDPICKLE,
    **kwargs: Any,
) -> ModelInfo:
    """Save a LightGBM model and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or MLflow 3's ``name``) defaults to ``"model"``; returns a ModelInfo with
    ``model_uri`` ``runs:/<run_id>/<artifact_path>``.
    """
    kwargs.pop("skops_trusted_types", None)
    return _log_model(
        save_model,
        lgb_model,
        artifact_path,
        name,
        run_id,
        registered_model_name,
        ignored=kwargs,
        conda_env=conda_env,
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        serialization_format=serialization_format,
    )


def _load_from_dir(model_dir: str) -> Any:
    conf = flavor_config(model_dir, FLAVOR_NAME)
    add_code_to_sys_path(model_dir, conf)
    file = os.path.join(model_dir, conf["data"])
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        import lightgbm as lgb

        return lgb.Booster(model_file=file)
    return _sk.load_file(
        file,
        conf.get("serialization_format", _sk.SERIALIZATION_FORMAT_CLOUDPICKLE),
        conf.get("skops_trusted_types"),
    )


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the LightGBM model at ``model_uri``: a ``Booster`` or the sklearn-API model it was saved from."""
    return _load_from_dir(download_model(model_uri, dst_path))


class _LGBModelWrapper:
    """The pyfunc object: ``predict`` delegates to the Booster or sklearn-API model."""

    def __init__(self, lgb_model: Any):
        self.lgb_model = lgb_model

    def get_raw_model(self) -> Any:
        return self.lgb_model

    def predict(self, data: Any, params: dict | None = None):
        return self.lgb_model.predict(data)


def _load_pyfunc(path: str) -> _LGBModelWrapper:
    """Called by ``pyfunc.load_model`` with ``<model dir>/<data>`` (or the model directory)."""
    return _LGBModelWrapper(_load_from_dir(model_dir_of(path)))
