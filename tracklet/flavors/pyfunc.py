"""The ``python_function`` flavor: load any saved model and call ``predict`` on it.

The MLmodel's ``python_function.loader_module`` names the module whose ``_load_pyfunc(path)`` builds the
predict object. tracklet writes MLflow's names (``mlflow.sklearn``...) so MLflow can load our models, and
maps ``mlflow.<flavor>`` back to ``tracklet.flavors.<flavor>`` here, so we load MLflow's models without
MLflow installed. Unknown loader modules are imported as named (e.g. ``mlflow.pyfunc.model`` when MLflow is
installed).
"""

from __future__ import annotations

import importlib
import inspect
import logging
import os
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import env as _env
from tracklet.flavors.mlmodel import MLMODEL_FILE, Model, add_code_to_sys_path, download_model

_logger = logging.getLogger(__name__)

FLAVOR_NAME = "python_function"
MAIN = "loader_module"
DATA = "data"

# MLflow loader modules whose tracklet counterpart has a different name
_LOADER_ALIASES = {
    "mlflow.tensorflow": "tracklet.flavors.keras",
    "mlflow.keras": "tracklet.flavors.keras",
    "mlflow.pyspark.ml": "tracklet.flavors.spark",
}


def add_to_model(
    model: Model,
    loader_module: str,
    data: str | None = None,
    model_path: str | None = None,
    predict_fn: str | None = None,
    code: str | None = None,
    **extra: Any,
) -> Model:
    """Add the ``python_function`` flavor to ``model`` (with the standard ``env`` files and python version)."""
    conf: dict[str, Any] = {
        MAIN: loader_module,
        "python_version": _env.python_version(),
        "env": {"conda": _env.CONDA_ENV_FILE, "virtualenv": _env.PYTHON_ENV_FILE},
    }
    if data is not None:
        conf[DATA] = data
    if model_path is not None:
        conf["model_path"] = model_path
    if predict_fn is not None:
        conf["predict_fn"] = predict_fn
    if code is not None:
        conf["code"] = code
    conf.update(extra)
    return model.add_flavor(FLAVOR_NAME, **conf)


def _import_loader(name: str):
    candidates = []
    if name.startswith("mlflow."):
        candidates.append(_LOADER_ALIASES.get(name, "tracklet.flavors." + name[len("mlflow.") :]))
    candidates.append(name)
    for candidate in candidates:
        try:
            module = importlib.import_module(candidate)
        except ModuleNotFoundError as e:
            if e.name and (candidate == e.name or candidate.startswith(e.name + ".")):
                continue  # this candidate doesn't exist; try the next one
            raise
        if hasattr(module, "_load_pyfunc"):
            return module
    hint = " (install mlflow to load models of this kind)" if name.startswith("mlflow.") else ""
    raise InvalidParameterValue(
        f"Cannot load model: no loader for python_function loader_module {name!r}; tried {candidates}{hint}"
    )


def _accepts(fn, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class PyFuncModel:
    """A loaded model with a framework-independent ``predict(data, params=None)``.

    ``predict`` checks the input against the model's signature first (see :mod:`tracklet.flavors.enforce`).
    """

    def __init__(self, model_meta: Model, model_impl: Any, predict_fn: str = "predict"):
        if not hasattr(model_impl, predict_fn):
            raise InvalidParameterValue(f"Loaded model has no {predict_fn!r} method (python_function.predict_fn)")
        self._model_meta = model_meta
        self._model_impl = model_impl
        self._predict_fn = predict_fn

    @property
    def metadata(self) -> Model:
        """The model's :class:`~tracklet.flavors.mlmodel.Model` (its MLmodel file)."""
        return self._model_meta

    @property
    def loader_module(self) -> str | None:
        return self._model_meta.flavors.get(FLAVOR_NAME, {}).get(MAIN)

    def predict(self, data: Any, params: dict | None = None) -> Any:
        """Predict on ``data`` (DataFrame, ndarray, dict, list...) after enforcing the input signature."""
        schema = self._model_meta.get_input_schema()
        if schema is not None:
            from tracklet.flavors.enforce import enforce_schema

            data = enforce_schema(data, schema)
        fn = getattr(self._model_impl, self._predict_fn)
        if params is not None and _accepts(fn, "params"):
            return fn(data, params=params)
        if params:
            _logger.warning("predict: this model does not accept params; ignored %s", sorted(params))
        return fn(data)

    def get_raw_model(self) -> Any:
        """The framework model under the pyfunc wrapper (e.g. the sklearn estimator)."""
        impl = self._model_impl
        return impl.get_raw_model() if hasattr(impl, "get_raw_model") else impl

    def unwrap_python_model(self) -> Any:
        """The wrapped model object (same as :meth:`get_raw_model` for framework flavors)."""
        impl = self._model_impl
        if hasattr(impl, "unwrap_python_model"):
            return impl.unwrap_python_model()
        return self.get_raw_model()

    def __repr__(self) -> str:
        m = self._model_meta
        lines = ["tracklet.pyfunc.loaded_model:"]
        if m.artifact_path:
            lines.append(f"  artifact_path: {m.artifact_path}")
        lines.append(f"  flavor: {self.loader_module}")
        if m.run_id:
            lines.append(f"  run_id: {m.run_id}")
        return "\n".join(lines)


def _warn_requirement_mismatches(model_dir: str) -> None:
    mismatches = []
    for req in _env.read_requirements(model_dir):
        name, sep, version = req.partition("==")
        if not sep or any(c in name for c in "<>!~;[ @"):
            continue
        installed = _env.installed_version(name.strip())
        if installed is None:
            mismatches.append(f"{name} (required {version}, not installed)")
        elif installed.split("+", 1)[0] != version.strip():
            mismatches.append(f"{name} (required {version}, installed {installed})")
    if mismatches:
        _logger.warning("The model's requirements differ from the installed packages: %s", "; ".join(mismatches))


def load_model(
    model_uri: str,
    suppress_warnings: bool = False,
    dst_path: str | None = None,
    model_config: dict | None = None,
) -> PyFuncModel:
    """Load a model saved in any flavor as a :class:`PyFuncModel`.

    ``model_uri``: ``runs:/<run_id>/<artifact path>``, a ``file://`` URI or a local directory.

    >>> model = tracklet.pyfunc.load_model(f"runs:/{run_id}/model")
    >>> model.predict(X_test)
    """
    local = download_model(model_uri, dst_path)
    meta = Model.load(os.path.join(local, MLMODEL_FILE))
    conf = meta.flavors.get(FLAVOR_NAME)
    if not isinstance(conf, dict) or MAIN not in conf:
        raise InvalidParameterValue(
            f"Model at {model_uri!r} has no python_function flavor with a loader_module "
            f"(flavors: {', '.join(meta.flavors) or 'none'}); load it with its own flavor's load_model"
        )
    if not suppress_warnings:
        _warn_requirement_mismatches(local)
    add_code_to_sys_path(local, conf)
    data_path = os.path.join(local, conf[DATA]) if conf.get(DATA) else local
    module = _import_loader(conf[MAIN])
    if model_config is not None and _accepts(module._load_pyfunc, "model_config"):
        impl = module._load_pyfunc(data_path, model_config=model_config)
    else:
        impl = module._load_pyfunc(data_path)
    return PyFuncModel(meta, impl, conf.get("predict_fn", "predict"))


def get_model_dependencies(model_uri: str, format: str = "pip") -> str:
    """Local path of the model's ``requirements.txt`` (``format="pip"``) or ``conda.yaml`` (``"conda"``)."""
    if format not in ("pip", "conda"):
        raise InvalidParameterValue(f"get_model_dependencies: format must be 'pip' or 'conda', got {format!r}")
    local = download_model(model_uri)
    name = _env.REQUIREMENTS_FILE if format == "pip" else _env.CONDA_ENV_FILE
    path = os.path.join(local, name)
    if not os.path.isfile(path):
        raise InvalidParameterValue(f"Model at {model_uri!r} has no {name}")
    return path
