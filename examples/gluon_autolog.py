"""MXNet Gluon autologging of ``Estimator.fit``, with early stopping; then the model reloaded.

Runs in the Gluon environment (MXNet 1.9.1 needs numpy < 1.24; see the README):
venv-gluon/bin/python examples/gluon_autolog.py       # then: tracklet runs list
"""

import logging
import tempfile

import mxnet as mx
import numpy as np
from mxnet import gluon
from mxnet.gluon.contrib.estimator import Estimator
from mxnet.gluon.contrib.estimator.event_handler import CheckpointHandler, EarlyStoppingHandler

import tracklet
import tracklet.gluon

tracklet.set_experiment("gluon-autolog")
tracklet.gluon.autolog()  # before or after importing mxnet

rng = np.random.default_rng(0)
X = rng.normal(size=(600, 4)).astype("float32")
y = ((X[:, 0] + 0.5 * X[:, 1]) > 0).astype("float32")
train = gluon.data.DataLoader(gluon.data.ArrayDataset(X[:480], y[:480]), batch_size=32, shuffle=True)
valid = gluon.data.DataLoader(gluon.data.ArrayDataset(X[480:], y[480:]), batch_size=32)

net = gluon.nn.HybridSequential()  # hybridizable: logged as a model (net.export)
net.add(gluon.nn.Dense(16, activation="relu"), gluon.nn.Dense(2))
net.initialize(mx.init.Xavier())
net.hybridize()
trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.01, "epsilon": 1e-7})
est = Estimator(
    net,
    gluon.loss.SoftmaxCrossEntropyLoss(),
    train_metrics=mx.metric.Accuracy(),
    val_metrics=mx.metric.Accuracy(),
    trainer=trainer,
    context=mx.cpu(),
)
est.logger.setLevel(logging.WARNING)

# params (num_layers, epochs, optimizer_name, learning_rate, epsilon, ...), "training accuracy" and
# "validation accuracy" per epoch, stopped_epoch / best_epoch when early stopping ends training, the model
monitor = est.val_metrics[0]
with tempfile.TemporaryDirectory() as checkpoints:
    est.fit(
        train,
        val_data=valid,
        epochs=30,
        event_handlers=[
            EarlyStoppingHandler(monitor=monitor, patience=3, mode="max"),
            CheckpointHandler(checkpoints, monitor=monitor, save_best=True, mode="max", verbose=0),
        ],
    )

run = tracklet.last_active_run()
print(f"run {run.info.run_id}: metrics {sorted(run.data.metrics)}")
loaded = tracklet.gluon.load_model(f"runs:/{run.info.run_id}/model")
same = np.allclose(loaded(mx.nd.array(X[:5])).asnumpy(), net(mx.nd.array(X[:5])).asnumpy(), atol=1e-5)
print(f"reloaded model predicts the same: {same}")
