"""The ``gluon`` flavor: save, log and load MXNet Gluon networks, in MLflow 1.x's format.

A hybridizable net is saved with ``net.export`` (the symbol graph and its parameters)::

    data/net-symbol.json, data/net-0000.params
    gluon:            {mxnet_version, code: null}
    python_function:  {loader_module: mlflow.gluon, data: data, ...}

``load_model`` returns a ``mxnet.gluon.SymbolBlock`` (input name ``data``) that predicts as the saved net did;
the pyfunc model predicts on numpy arrays (returns numpy) and pandas DataFrames (returns a DataFrame).
"""

from __future__ import annotations

import os
import shutil
import warnings
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
    flavor_config,
    model_dir_of,
    prepare_model_dir,
    resolve_signature,
    save_input_example,
)
from tracklet.flavors.signature import ModelSignature

FLAVOR_NAME = "gluon"
LOADER_MODULE = "mlflow.gluon"
_DATA = "data"
_PREFIX = "net"  # net.export(<data>/net) writes net-symbol.json and net-0000.params


def get_default_pip_requirements() -> list[str]:
    """Pinned requirements of a saved Gluon model (installed versions)."""
    return _env.default_requirements(["mxnet", "numpy", "pandas"])


def _predict_array(net: Any, data: Any):
    """``net`` applied to a numpy array (or anything ``numpy.asarray`` takes), as numpy."""
    import mxnet as mx
    import numpy as np

    return net(mx.nd.array(np.asarray(data, dtype="float32"))).asnumpy()


def save_model(
    gluon_model: Any,
    path: str,
    conda_env=None,
    code_paths: list | None = None,
    mlflow_model: Model | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata: dict | None = None,
) -> None:
    """Save a hybridized, already-run Gluon ``HybridBlock`` to a new directory ``path`` (``net.export``)."""
    import mxnet as mx
    from mxnet import gluon

    if not isinstance(gluon_model, gluon.HybridBlock):
        raise InvalidParameterValue(
            f"gluon_model must be a mxnet.gluon.HybridBlock (net.export needs a hybridizable net), "
            f"got {type(gluon_model).__name__}"
        )
    path = prepare_model_dir(path)
    model = mlflow_model if mlflow_model is not None else Model()
    code = copy_code_paths(code_paths, path)
    example = save_input_example(model, input_example, path)
    sig = resolve_signature(signature, example, lambda x: _predict_array(gluon_model, x))
    os.makedirs(os.path.join(path, _DATA))
    try:
        gluon_model.export(os.path.join(path, _DATA, _PREFIX))
    except (RuntimeError, AssertionError, mx.base.MXNetError) as exc:
        shutil.rmtree(path, ignore_errors=True)  # prepare_model_dir made it new and empty: leave nothing behind
        raise InvalidParameterValue(
            f"gluon_model can't be exported: call net.hybridize() and run it on one batch first ({exc})"
        ) from exc
    _pyfunc.add_to_model(model, LOADER_MODULE, data=_DATA, code=code)
    model.add_flavor(FLAVOR_NAME, mxnet_version=mx.__version__, code=code)
    _env.write_env_files(path, get_default_pip_requirements(), pip_requirements, extra_pip_requirements, conda_env)
    finish_model_dir(model, path, sig, metadata)


def log_model(
    gluon_model: Any,
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
    **kwargs: Any,
) -> ModelInfo:
    """Save a Gluon net and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or ``name``) defaults to ``"model"``; returns a ModelInfo with ``model_uri``
    ``runs:/<run_id>/<artifact_path>``.
    """
    return _log_model(
        save_model,
        gluon_model,
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
    )


def _load_from_dir(model_dir: str, ctx=None) -> Any:
    import mxnet as mx
    from mxnet import gluon

    conf = flavor_config(model_dir, FLAVOR_NAME)
    add_code_to_sys_path(model_dir, conf)
    base = os.path.join(model_dir, _DATA, _PREFIX)
    symbol_file, params_file = base + "-symbol.json", base + "-0000.params"
    for file in (symbol_file, params_file):
        if not os.path.isfile(file):
            raise InvalidParameterValue(f"gluon model at {model_dir!r}: missing {os.path.relpath(file, model_dir)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # MXNet warns the input name is "data"
        return gluon.SymbolBlock.imports(symbol_file, ["data"], params_file, ctx=ctx or mx.cpu())


def load_model(model_uri: str, dst_path: str | None = None, ctx=None) -> Any:
    """Load the Gluon net at ``model_uri`` as a ``mxnet.gluon.SymbolBlock`` on ``ctx`` (default: CPU)."""
    return _load_from_dir(download_model(model_uri, dst_path), ctx)


class _GluonModelWrapper:
    """The pyfunc object: numpy in, numpy out; a DataFrame in, a DataFrame out."""

    def __init__(self, net: Any):
        self.net = net

    def get_raw_model(self) -> Any:
        return self.net

    def predict(self, data: Any, params: dict | None = None):
        if type(data).__module__.split(".")[0] == "pandas" and hasattr(data, "to_numpy"):
            import pandas as pd

            out = _predict_array(self.net, data.to_numpy())
            return pd.DataFrame(out.reshape(len(out), -1), index=data.index)
        return _predict_array(self.net, data)


def _load_pyfunc(path: str) -> _GluonModelWrapper:
    """Called by ``pyfunc.load_model`` with ``<model dir>/data`` (or the model directory)."""
    path = model_dir_of(path)
    if not os.path.isfile(os.path.join(path, MLMODEL_FILE)):  # the data directory: the model is its parent
        path = os.path.dirname(os.path.abspath(path))
    return _GluonModelWrapper(_load_from_dir(path))
