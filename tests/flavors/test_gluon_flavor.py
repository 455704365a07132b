"""gluon flavor: net.export files, MLmodel, load_model / pyfunc round trips (Gluon environment: .ci/gluon.sh)."""

import numpy as np
import pandas as pd
import pytest
import yaml

mx = pytest.importorskip("mxnet")

from mxnet import gluon  # noqa: E402

import tracklet  # noqa: E402
import tracklet.gluon  # noqa: E402
import tracklet.pyfunc  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mxnet")


@pytest.fixture(scope="module")
def net():
    mx.random.seed(0)
    net = gluon.nn.HybridSequential()
    net.add(gluon.nn.Dense(5, activation="relu"), gluon.nn.Dense(3))
    net.initialize(mx.init.Xavier())
    net.hybridize()
    net(mx.nd.zeros((1, 4)))  # export needs the graph of one forward pass
    return net


def _predict(net, X):
    return net(mx.nd.array(X.astype("float32"))).asnumpy()


def test_save_writes_mlflow_1x_layout_and_load_model_predicts_the_same(tmp_path, net, iris_like):
    X, _, _ = iris_like
    tracklet.gluon.save_model(net, str(tmp_path / "m"), input_example=X[:2])
    mlmodel = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert mlmodel["flavors"]["gluon"] == {"mxnet_version": mx.__version__, "code": None}
    conf = mlmodel["flavors"]["python_function"]
    assert conf["loader_module"] == "mlflow.gluon" and conf["data"] == "data"
    assert (tmp_path / "m" / "data" / "net-symbol.json").is_file()
    assert (tmp_path / "m" / "data" / "net-0000.params").is_file()
    assert f"mxnet=={mx.__version__}" in (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert mlmodel["signature"]["outputs"]  # inferred from the example

    loaded = tracklet.gluon.load_model(str(tmp_path / "m"))
    assert isinstance(loaded, gluon.SymbolBlock)
    np.testing.assert_allclose(_predict(loaded, X), _predict(net, X), rtol=1e-5)


def test_pyfunc_predicts_on_numpy_and_pandas(tmp_path, net, iris_like):
    X, _, df = iris_like
    tracklet.gluon.save_model(net, str(tmp_path / "m"), signature=False)
    model = tracklet.pyfunc.load_model(str(tmp_path / "m"))
    out = model.predict(X.astype("float32"))
    assert isinstance(out, np.ndarray)
    np.testing.assert_allclose(out, _predict(net, X), rtol=1e-5)
    frame = model.predict(df)
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == list(df.index)
    np.testing.assert_allclose(frame.to_numpy(), _predict(net, X), rtol=1e-5)


def test_log_model_into_a_run_and_load_by_runs_uri(net, iris_like):
    X, _, _ = iris_like
    with tracklet.start_run() as run:
        info = tracklet.gluon.log_model(net, "net")
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/net"):  # a logged model, and in the run's artifacts
        np.testing.assert_allclose(_predict(tracklet.gluon.load_model(uri), X), _predict(net, X), rtol=1e-5)


def test_non_hybrid_and_not_yet_run_nets_are_rejected_naming_the_rule(tmp_path):
    plain = gluon.nn.Sequential()
    plain.add(gluon.nn.Dense(2))
    plain.initialize()
    with pytest.raises(TrackletException, match="HybridBlock"):
        tracklet.gluon.save_model(plain, str(tmp_path / "a"))
    fresh = gluon.nn.HybridSequential()
    fresh.add(gluon.nn.Dense(2))
    fresh.initialize()
    with pytest.raises(TrackletException, match="hybridize"):
        tracklet.gluon.save_model(fresh, str(tmp_path / "b"), signature=False)
    assert not (tmp_path / "b").exists()  # no half-written model directory
