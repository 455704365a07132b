"""The ``xgboost`` flavor: save, log and load XGBoost Boosters and sklearn-API models.

Models are saved with XGBoost's own ``save_model`` (no pickle), in ``model.<model_format>``::

    xgboost:          {data: model.ubj, model_class: xgboost.sklearn.XGBClassifier, model_format: ubj,
                       xgb_version, code: null}
    python_function:  {loader_module: mlflow.xgboost, data: model.ubj, ...}

``load_model`` returns an instance of ``model_class``: a ``Booster``, or the sklearn-API class it was saved from.
"""

from __future__ import annotations

import inspect
import logging
import os
import warnings
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import class_path, import_class
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

_logger = logging.getLogger(__name__)

FLAVOR_NAME = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
MODEL_FORMATS = ("ubj", "json", "xgb")


def get_default_pip_requirements(sklearn_api: bool = False) -> list[str]:
    """Pinned requirements of a saved XGBoost model (installed versions)."""
    dists = ["xgboost", "numpy", "scipy", "pandas"] + (["scikit-learn"] if sklearn_api else [])
    return _env.default_requirements(dists)


def _is_booster(model: Any) -> bool:
    import xgboost as xgb

    return isinstance(model, xgb.Booster)


def save_model(
    xgb_model: Any,
    path: str,
    conda_env=None,
    code_paths: list | None = None,
    mlflow_model: Model | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    model_format: str = "ubj",
    metadata: dict | None = None,
) -> None:
    """Save an XGBoost model (``Booster`` or ``XGBModel`` subclass) to a new directory ``path``.

    ``model_format``: ``"ubj"`` (default, as MLflow 3), ``"json"`` or ``"xgb"``.
    """
    import xgboost as xgb

    model_format = model_format or "ubj"
    if model_format not in MODEL_FORMATS:
        raise InvalidParameterValue(f"model_format must be one of {list(MODEL_FORMATS)}, got {model_format!r}")
    if not isinstance(xgb_model, (xgb.Booster, xgb.XGBModel)):
        raise InvalidParameterValue(
            f"xgb_model must be an xgboost.Booster or an XGBoost sklearn-API model, got {type(xgb_model).__name__}"
        )
    path = prepare_model_dir(path)
    model = mlflow_model if mlflow_model is not None else Model()
    code = copy_code_paths(code_paths, path)
    example = save_input_example(model, input_example, path)
    sig = resolve_signature(signature, example, _XGBModelWrapper(xgb_model).predict)
    filename = f"model.{model_format}"
    with warnings.catch_warnings():  # xgboost warns about the ".xgb" extension; the content is still readable
        warnings.simplefilter("ignore", UserWarning)
        xgb_model.save_model(os.path.join(path, filename))
    _pyfunc.add_to_model(model, LOADER_MODULE, data=filename, code=code)
    model.add_flavor(
        FLAVOR_NAME,
        data=filename,
        model_class=class_path(xgb_model),
        model_format=model_format,
        xgb_version=xgb.__version__,
        code=code,
    )
    _env.write_env_files(
        path,
        get_default_pip_requirements(not isinstance(xgb_model, xgb.Booster)),
        pip_requirements,
        extra_pip_requirements,
        conda_env,
    )
    finish_model_dir(model, path, sig, metadata)


def log_model(
    xgb_model: Any,
    artifact_path: str | None = None,
    conda_env=None,
    code_paths: list | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    pip_requirements=None,
    extra_pip_requirements=None,
    model_format: str = "ubj",
    metadata: dict | None = None,
    name: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save an XGBoost model and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or MLflow 3's ``name``) defaults to ``"model"``; returns a ModelInfo with
    ``model_uri`` ``runs:/<run_id>/<artifact_path>``.
    """
    return _log_model(
        save_model,
        xgb_model,
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
        model_format=model_format,
        metadata=metadata,
    )


def _load_from_dir(model_dir: str) -> Any:
    conf = flavor_config(model_dir, FLAVOR_NAME)
    add_code_to_sys_path(model_dir, conf)
    cls = import_class(conf.get("model_class", "xgboost.core.Booster"), "xgboost")
    model = cls()
    with warnings.catch_warnings():  # ".xgb" files: xgboost guesses the format and says so
        warnings.simplefilter("ignore", UserWarning)
        model.load_model(os.path.join(model_dir, conf["data"]))
    return model


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """Load the XGBoost model at ``model_uri`` as the class it was saved from (Booster, XGBClassifier...)."""
    return _load_from_dir(download_model(model_uri, dst_path))


class _XGBModelWrapper:
    """The pyfunc object: Boosters get a ``DMatrix`` built from the input; sklearn-API models get the input."""

    def __init__(self, xgb_model: Any):
        self.xgb_model = xgb_model

    def get_raw_model(self) -> Any:
        return self.xgb_model

    def predict(self, data: Any, params: dict | None = None):
        import xgboost as xgb

        predict = self.xgb_model.predict
        if _is_booster(self.xgb_model) and not isinstance(data, xgb.DMatrix):
            data = xgb.DMatrix(data)
        kwargs = _accepted(predict, params or {})
        return predict(data, **kwargs)


def _accepted(fn, params: dict) -> dict:
    if not params:
        return {}
    allowed = inspect.signature(fn).parameters
    kept = {k: v for k, v in params.items() if k in allowed}
    if len(kept) != len(params):
        _logger.warning(
            "predict: params %s are not accepted by the xgboost model and were ignored",
            sorted(set(params) - set(kept)),
        )
    return kept


def _load_pyfunc(path: str) -> _XGBModelWrapper:
    """Called by ``pyfunc.load_model`` with ``<model dir>/<data>`` (or the model directory)."""
    return _XGBModelWrapper(_load_from_dir(model_dir_of(path)))
