"""The ``keras`` flavor: save, log and load Keras models (Keras 3 on any backend, and legacy ``tf_keras``).

A model is saved in the native ``.keras`` format, in the layout MLflow's ``keras`` flavor writes and reads::

    data/model.keras        model.save(...)
    data/keras_module.txt   "keras" (Keras 3, also ``tf.keras`` in TensorFlow >= 2.16) or "tf_keras"
    MLmodel:
      keras:           {data: data, keras_version, keras_backend, save_exported_model: false}
      python_function: {loader_module: mlflow.keras, ...}

so ``mlflow.pyfunc.load_model`` / ``mlflow.keras.load_model`` load it, and ``load_model`` here also loads
models MLflow saved with ``mlflow.keras`` or (Keras models only) ``mlflow.tensorflow``. The pyfunc ``predict``
takes numpy arrays, lists or dicts of arrays (multi-input models) and DataFrames; a DataFrame gives a
DataFrame back with the same index, anything else what ``model.predict`` returns.
"""

from __future__ import annotations

import os
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import env as _env
from tracklet.flavors import log_model as _log_model
from tracklet.flavors import pyfunc as _pyfunc
from tracklet.flavors.mlmodel import (
    MLMODEL_FILE,
    Model,
    ModelInfo,
    add_code_to_sys_path,
    copy_code_paths,
    download_model,
    finish_model_dir,
    prepare_model_dir,
    resolve_signature,
    save_input_example,
)
from tracklet.flavors.signature import ModelSignature

FLAVOR_NAME = "keras"
LOADER_MODULE = "mlflow.keras"
DATA_DIR = "data"
MODEL_NAME = "model"  # data/model.keras
MODULE_FILE = "keras_module.txt"
# what keras_module.txt may name (a model directory is data, not code): the module whose load_model reads it
_KERAS_MODULES = {"keras": "keras", "tensorflow.keras": "keras", "tf_keras": "tf_keras"}
_BACKEND_DISTS = {"tensorflow": ["tensorflow", "tensorflow-cpu"], "jax": ["jax", "jaxlib"], "torch": ["torch"]}


def keras_package_of(model: Any) -> str:
    """``"keras"`` or ``"tf_keras"``: the package whose ``Model`` ``model`` is (raises for anything else)."""
    for klass in type(model).__mro__:
        root = klass.__module__.split(".")[0]
        if klass.__name__ == "Model" and root in ("keras", "tf_keras"):
            return root
    raise InvalidParameterValue(f"model must be a keras.Model (Keras 3 or tf_keras), got {type(model).__name__}")


def _backend(keras_module: str) -> str:
    if keras_module == "tf_keras":
        return "tensorflow"
    import keras

    return keras.backend.backend()


def get_default_pip_requirements(keras_module: str = "keras") -> list[str]:
    """Pinned requirements of a saved Keras model: Keras and its backend's package (installed versions)."""
    backend = _backend(keras_module)
    dist = "tf-keras" if keras_module == "tf_keras" else "keras"
    return _env.default_requirements([dist, *_BACKEND_DISTS.get(backend, [backend]), "numpy"])


def save_model(
    model: Any,
    path: str,
    save_exported_model: bool = False,
    conda_env=None,
    code_paths: list | None = None,
    mlflow_model: Model | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    save_model_kwargs: dict | None = None,
    metadata: dict | None = None,
    keras_model_kwargs: dict | None = None,
) -> None:
    """Save a Keras model to a new directory ``path`` in the ``.keras`` format.

    ``save_model_kwargs`` (or ``keras_model_kwargs``, ``mlflow.tensorflow``'s name) go to ``model.save``.
    ``save_exported_model=True`` (MLflow's SavedModel export) is not supported.
    """
    if save_exported_model:
        raise InvalidParameterValue("save_model: save_exported_model=True is not supported; models are saved as .keras")
    keras_module = keras_package_of(model)
    kwargs = dict(keras_model_kwargs or {})
    kwargs.update(save_model_kwargs or {})
    path = prepare_model_dir(path)
    mlflow_model = mlflow_model if mlflow_model is not None else Model()
    code = copy_code_paths(code_paths, path)
    example = save_input_example(mlflow_model, input_example, path)
    sig = resolve_signature(signature, example, _KerasModelWrapper(model).predict)
    data = os.path.join(path, DATA_DIR)
    os.makedirs(data)
    model.save(os.path.join(data, MODEL_NAME + ".keras"), **kwargs)
    with open(os.path.join(data, MODULE_FILE), "w") as f:
        f.write(keras_module)
    version = __import__(keras_module).__version__
    mlflow_model.add_flavor(
        FLAVOR_NAME,
        data=DATA_DIR,
        keras_version=version,
        keras_backend=_backend(keras_module),
        save_exported_model=False,
        code=code,
    )
    _pyfunc.add_to_model(mlflow_model, LOADER_MODULE, code=code)
    _env.write_env_files(
        path, get_default_pip_requirements(keras_module), pip_requirements, extra_pip_requirements, conda_env
    )
    finish_model_dir(mlflow_model, path, sig, metadata)


def log_model(
    model: Any,
    artifact_path: str | None = None,
    save_exported_model: bool = False,
    conda_env=None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    registered_model_name: str | None = None,
    *,
    code_paths: list | None = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    save_model_kwargs: dict | None = None,
    keras_model_kwargs: dict | None = None,
    metadata: dict | None = None,
    name: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save a Keras model and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or MLflow 3's ``name``) defaults to ``"model"``; returns a ModelInfo with
    ``model_uri`` ``runs:/<run_id>/<artifact_path>``.
    """
    kwargs.pop("saved_model_kwargs", None)  # mlflow.tensorflow's, for non-Keras tf.Modules: nothing to pass on
    kwargs.pop("custom_objects", None)  # custom objects are registered with Keras and saved in the .keras file
    return _log_model(
        save_model,
        model,
        artifact_path,
        name,
        run_id,
        registered_model_name,
        ignored=kwargs,
        save_exported_model=save_exported_model,
        conda_env=conda_env,
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        save_model_kwargs=save_model_kwargs,
        keras_model_kwargs=keras_model_kwargs,
        metadata=metadata,
    )


def _model_dir(path: str) -> str:
    """``pyfunc`` hands over the model directory (keras flavor) or its ``data`` folder (MLflow's tensorflow)."""
    if os.path.isfile(path):
        path = os.path.dirname(path)
    if not os.path.isfile(os.path.join(path, MLMODEL_FILE)) and os.path.isfile(
        os.path.join(os.path.dirname(path), MLMODEL_FILE)
    ):
        return os.path.dirname(path)
    return path


def _load_from_dir(model_dir: str, custom_objects: dict | None = None, **load_kwargs: Any) -> Any:
    meta = Model.load(os.path.join(model_dir, MLMODEL_FILE))
    if FLAVOR_NAME in meta.flavors:
        conf = meta.flavors[FLAVOR_NAME]
        if conf.get("save_exported_model"):
            raise InvalidParameterValue(
                f"Model at {model_dir!r} was saved with save_exported_model=True (a TensorFlow SavedModel export); "
                "tracklet loads .keras models only"
            )
    elif "tensorflow" in meta.flavors and meta.flavors["tensorflow"].get("model_type", "keras") == "keras":
        conf = meta.flavors["tensorflow"]  # mlflow.tensorflow.save_model of a Keras model
    else:
        raise InvalidParameterValue(
            f"Model at {model_dir!r} has no keras flavor and is not a Keras model saved with the tensorflow flavor "
            f"(flavors: {', '.join(meta.flavors) or 'none'})"
        )
    add_code_to_sys_path(model_dir, conf)
    data = os.path.join(model_dir, conf.get("data") or DATA_DIR)
    module = "keras"
    if os.path.isfile(os.path.join(data, MODULE_FILE)):
        with open(os.path.join(data, MODULE_FILE)) as f:
            named = f.read().strip()
        if named not in _KERAS_MODULES:
            raise InvalidParameterValue(f"{MODULE_FILE} names {named!r}; expected one of {sorted(_KERAS_MODULES)}")
        module = _KERAS_MODULES[named]
    file = next(
        (
            os.path.join(data, MODEL_NAME + ext)
            for ext in (".keras", ".h5")
            if os.path.isfile(os.path.join(data, MODEL_NAME + ext))
        ),
        None,
    )
    if file is None:
        raise InvalidParameterValue(f"Model at {model_dir!r} has no {DATA_DIR}/{MODEL_NAME}.keras (or .h5) file")
    keras = __import__(module)
    return keras.models.load_model(file, custom_objects=custom_objects, **load_kwargs)


def load_model(
    model_uri: str,
    dst_path: str | None = None,
    custom_objects: dict | None = None,
    load_model_kwargs: dict | None = None,
) -> Any:
    """Load the Keras model at ``model_uri`` (``runs:/<run_id>/model``, a path or ``file://`` URI).

    ``custom_objects`` and ``load_model_kwargs`` go to ``keras.models.load_model``.
    """
    return _load_from_dir(download_model(model_uri, dst_path), custom_objects, **(load_model_kwargs or {}))


def predict_arrays(model: Any, data: Any):
    """``model.predict`` on arrays (a DataFrame as its values), without a progress bar: numpy out."""
    if type(data).__module__.split(".")[0] == "pandas":
        data = data.to_numpy()
    return model.predict(data, verbose=0)


def predict_eager(model: Any, data: Any):
    """The model called directly on a few rows (no ``predict`` function to trace: milliseconds, not the
    hundreds ``model.predict`` takes on its first call), as numpy; for inferring a signature."""
    import numpy as np

    if type(data).__module__.split(".")[0] == "pandas":
        data = data.to_numpy()
    out = model(np.asarray(data) if isinstance(data, (list, tuple)) else data, training=False)
    if hasattr(out, "numpy"):  # TensorFlow tensors (tf_keras)
        return out.numpy()
    import keras

    return keras.ops.convert_to_numpy(out)


class _KerasModelWrapper:
    """The pyfunc object: ``predict`` runs ``model.predict`` without a progress bar."""

    def __init__(self, model: Any):
        self.model = model

    def get_raw_model(self) -> Any:
        return self.model

    def predict(self, data: Any, params: dict | None = None):
        if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "columns"):
            import pandas as pd

            return pd.DataFrame(predict_arrays(self.model, data), index=data.index)
        if isinstance(data, list):
            import numpy as np

            data = np.asarray(data)
        return predict_arrays(self.model, data)


def _load_pyfunc(path: str) -> _KerasModelWrapper:
    """Called by ``pyfunc.load_model`` with the model directory (or MLflow tensorflow's ``data`` folder)."""
    return _KerasModelWrapper(_load_from_dir(_model_dir(path)))
