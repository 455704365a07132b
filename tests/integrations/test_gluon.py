"""MXNet Gluon autologging on tiny real Estimator fits (runs in the Gluon environment: .ci/gluon.sh)."""

from __future__ import annotations

import logging
import warnings

import pytest

mx = pytest.importorskip("mxnet")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

from mxnet import gluon  # noqa: E402
from mxnet.gluon.contrib.estimator import Estimator  # noqa: E402
from mxnet.gluon.contrib.estimator.event_handler import (  # noqa: E402
    CheckpointHandler,
    EarlyStoppingHandler,
    EpochEnd,
)

import tracklet  # noqa: E402
import tracklet.gluon  # noqa: E402

# MXNet's own warnings about its defaults, raised from MXNet code
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:mxnet")


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3)).astype("float32")
    y = (X[:, 0] + 0.2 * X[:, 1] > 0).astype("float32")
    return X, y


def _loader(X, y):
    return gluon.data.DataLoader(gluon.data.ArrayDataset(X, y), batch_size=20)


def _estimator(hybrid=True, optimizer="adam", opt_params=None, val=False):
    mx.random.seed(0)
    net = gluon.nn.HybridSequential() if hybrid else gluon.nn.Sequential()
    net.add(gluon.nn.Dense(8, activation="relu"), gluon.nn.Dense(2))
    net.initialize(mx.init.Xavier(), ctx=mx.cpu())
    if hybrid:
        net.hybridize()
    trainer = gluon.Trainer(net.collect_params(), optimizer, opt_params or {"learning_rate": 0.05})
    est = Estimator(
        net,
        gluon.loss.SoftmaxCrossEntropyLoss(),
        train_metrics=mx.metric.Accuracy(),
        val_metrics=mx.metric.Accuracy() if val else None,
        trainer=trainer,
        context=mx.cpu(),
    )
    est.logger.setLevel(logging.ERROR)
    return est


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*(No validation|ctx is not specified)")  # MXNet's own
        est.fit(*args, **kwargs)


def _run():
    tracklet.flush_async_logging()
    run = tracklet.last_active_run()
    assert run is not None
    return tracklet.MlflowClient().get_run(run.info.run_id)


def _history(run_id, key):
    ms = tracklet.MlflowClient().get_metric_history(run_id, key)
    return [(m.step, m.value) for m in sorted(ms, key=lambda m: m.step)]


def test_fit_logs_params_per_epoch_metrics_and_a_model_that_predicts_the_same():
    tracklet.gluon.autolog(log_input_examples=True)
    X, y = _data()
    est = _estimator(opt_params={"learning_rate": 0.05, "epsilon": 1e-7, "wd": 0.001}, val=True)
    _fit(est, _loader(X, y), val_data=_loader(*_data(20, 1)), epochs=3)
    run = _run()
    p = run.data.params
    assert p["num_layers"] == "2" and p["epochs"] == "3" and "batches" not in p
    assert p["optimizer_name"] == "Adam"
    assert float(p["learning_rate"]) == pytest.approx(0.05)
    assert float(p["epsilon"]) == pytest.approx(1e-7) and float(p["wd"]) == pytest.approx(0.001)
    assert run.data.tags["mlflow.autologging"] == "gluon"
    m = run.data.metrics
    assert {"training accuracy", "validation accuracy"} <= set(m)
    assert [s for s, _ in _history(run.info.run_id, "training accuracy")] == [0, 1, 2]
    assert m["training accuracy"] == pytest.approx(est.train_metrics[0].get()[1])

    loaded = tracklet.gluon.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded(mx.nd.array(X)).asnumpy(), est.net(mx.nd.array(X)).asnumpy(), rtol=1e-5)
    pyfunc = tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(pyfunc.predict(X), est.net(mx.nd.array(X)).asnumpy(), rtol=1e-5)
    assert pyfunc.metadata.signature is not None
    out = pyfunc.predict(pd.DataFrame(X, columns=["a", "b", "c"]))  # the tensor signature makes it an array
    np.testing.assert_allclose(np.asarray(out), est.net(mx.nd.array(X)).asnumpy(), rtol=1e-5)


def test_batches_limit_is_logged_instead_of_epochs():
    tracklet.gluon.autolog(log_models=False)
    est = _estimator(optimizer="sgd", opt_params={"learning_rate": 0.1, "momentum": 0.9})
    _fit(est, _loader(*_data()), batches=5)
    p = _run().data.params
    assert p["batches"] == "5" and "epochs" not in p
    assert p["optimizer_name"] == "SGD" and float(p["momentum"]) == pytest.approx(0.9)


def test_user_handlers_are_kept_and_their_list_not_mutated():
    seen = []

    class Count(EpochEnd):
        def epoch_end(self, estimator, *args, **kwargs):
            seen.append(1)

    tracklet.gluon.autolog(log_models=False)
    handlers = [Count()]
    _fit(_estimator(), _loader(*_data()), None, 2, handlers)  # event_handlers by position
    assert len(seen) == 2 and len(handlers) == 1
    assert _run().data.metrics["training accuracy"] >= 0


def test_early_stopping_logs_stopped_epoch_and_the_best_epoch(tmp_path):
    tracklet.gluon.autolog(log_models=False)
    est = _estimator(opt_params={"learning_rate": 0.0}, val=True)  # nothing improves: stops after patience
    monitor = est.val_metrics[0]
    stop = EarlyStoppingHandler(monitor=monitor, patience=1, mode="max")
    ckpt = CheckpointHandler(str(tmp_path), monitor=monitor, save_best=True, mode="max", verbose=0)
    _fit(est, _loader(*_data()), val_data=_loader(*_data(20, 1)), epochs=10, event_handlers=[stop, ckpt])
    run = _run()
    m = run.data.metrics
    assert m["stopped_epoch"] < 9
    assert m["best_epoch"] == 0  # a zero learning rate never beats the first epoch
    hist = _history(run.info.run_id, "validation accuracy")
    assert hist[-1][0] == m["stopped_epoch"] + 1 and hist[-1][1] == hist[0][1]


def test_a_plain_sequential_net_is_trained_and_logged_without_a_model():
    tracklet.gluon.autolog()
    with pytest.warns(tracklet.autolog.AutologWarning, match="not a HybridBlock"):
        _fit(_estimator(hybrid=False), _loader(*_data()), epochs=1)
    run = _run()
    assert "training accuracy" in run.data.metrics
    assert not [a for a in tracklet.MlflowClient().list_artifacts(run.info.run_id) if a.path == "model"]


def test_disable_and_user_exception():
    tracklet.gluon.autolog()
    tracklet.gluon.autolog(disable=True)
    _fit(_estimator(), _loader(*_data()), epochs=1)
    assert tracklet.search_runs(output_format="list") == []

    tracklet.gluon.autolog(log_models=False)

    class Boom(EpochEnd):
        def epoch_end(self, estimator, *args, **kwargs):
            raise KeyError("user's own")

    with pytest.raises(KeyError, match="user's own"):
        _fit(_estimator(), _loader(*_data()), epochs=2, event_handlers=[Boom()])
    (run,) = tracklet.search_runs(output_format="list")
    assert run.info.status == "FAILED"
