"""Keras / TensorFlow autologging on real Keras 3 (TensorFlow backend in this process; the JAX backend and
TensorFlow's legacy-Keras mode run in subprocesses, because the backend is chosen when Keras is imported)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")
tf = pytest.importorskip("tensorflow")

import tracklet  # noqa: E402
import tracklet.keras  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.tensorflow  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype("float32")
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).astype("float32")


def _model(lr=0.05):
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return m


def _run():
    tracklet.flush_async_logging()
    return tracklet.get_run(tracklet.last_active_run().info.run_id)


def _history(run, key):
    return [(m.step, m.value) for m in tracklet.MlflowClient().get_metric_history(run.info.run_id, key)]


def _artifacts(run, path=None):
    return sorted(a.path for a in tracklet.MlflowClient().list_artifacts(run.info.run_id, path))


def test_fit_records_params_epoch_metrics_summary_datasets_and_model(data):
    X, y = data
    tracklet.keras.autolog()
    model = _model()
    history = model.fit(X, y, epochs=3, batch_size=16, validation_data=(X[:30], y[:30]), verbose=0)
    run = _run()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "keras"
    params = run.data.params
    assert params["epochs"] == "3" and params["batch_size"] == "16" and params["initial_epoch"] == "0"
    assert params["optimizer_name"] == "adam" and float(params["optimizer_learning_rate"]) == pytest.approx(0.05)
    assert params["loss"] == "mse" and "monitor" not in params
    for key in ("loss", "mae", "val_loss", "val_mae"):
        steps = _history(run, key)
        assert [s for s, _ in steps] == [0, 1, 2]
        assert [v for _, v in steps] == pytest.approx(history.history[key], rel=1e-6)
    assert _artifacts(run) == ["model", "model_summary.txt"]
    summary = tracklet.MlflowClient().download_artifacts(run.info.run_id, "model_summary.txt")
    assert "dense" in open(summary).read().lower()
    contexts = sorted(i.tags[0].value for i in run.inputs.dataset_inputs)
    assert contexts == ["eval", "train"]
    loaded = tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_allclose(loaded.predict(X), model.predict(X, verbose=0), rtol=1e-6)
    assert loaded.metadata.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == [-1, 4]


def test_early_stopping_logs_the_epoch_of_the_model_you_keep(data):
    X, y = data
    tracklet.autolog(log_models=False)  # the global switch covers Keras too

    class Worsen(keras.callbacks.Callback):  # makes val_loss rise after epoch 1, so EarlyStopping fires
        def on_epoch_end(self, epoch, logs=None):
            if epoch >= 1:
                logs["val_loss"] = 10.0 + epoch

    stopper = keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    model = _model()
    model.fit(X, y, epochs=20, validation_split=0.25, callbacks=[Worsen(), stopper], verbose=0)
    run = _run()
    assert run.data.params["patience"] == "2" and run.data.params["restore_best_weights"] == "True"
    assert run.data.params["monitor"] == "val_loss" and run.data.params["validation_split"] == "0.25"
    # epoch 0 is the best; patience runs out at epoch 2
    assert run.data.metrics["stopped_epoch"] == 2 and run.data.metrics["restored_epoch"] == stopper.best_epoch == 0
    loss, val_loss = _history(run, "loss"), _history(run, "val_loss")
    assert [s for s, _ in loss] == [0, 1, 2, 3]  # the restored epoch once more, at stopped_epoch + 1
    assert loss[-1][1] == pytest.approx(loss[0][1]) and val_loss[-1][1] == pytest.approx(val_loss[0][1])
    assert [v for _, v in val_loss[1:3]] == [11.0, 12.0]
    assert _artifacts(run) == ["model_summary.txt"]


def test_log_every_n_steps_logs_training_metrics_per_step_and_validation_on_the_same_axis(data):
    X, y = data
    tracklet.tensorflow.autolog(log_every_n_steps=2, log_models=False)  # MLflow's other name, same integration
    _model().fit(X, y, epochs=2, batch_size=30, validation_split=0.25, verbose=0)  # 3 steps per epoch
    run = _run()
    assert [s for s, _ in _history(run, "loss")] == [2, 4, 6]
    assert [s for s, _ in _history(run, "val_loss")] == [3, 6]
    with pytest.raises(TrackletException, match="log_every_n_steps"):
        tracklet.keras.autolog(log_every_n_steps=0)


def test_initial_epoch_continues_the_axis_and_a_second_fit_in_a_user_run_gets_a_child_run(data):
    X, y = data
    tracklet.keras.autolog(log_models=False)
    model = _model()
    with tracklet.start_run() as parent:
        model.fit(X, y, epochs=2, verbose=0)
        model.fit(X, y, epochs=4, initial_epoch=2, verbose=0)
    tracklet.flush_async_logging()
    runs = {r.info.run_id: r for r in tracklet.search_runs(output_format="list")}
    child = next(r for r in runs.values() if r.info.run_id != parent.info.run_id)
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert [s for s, _ in _history(runs[parent.info.run_id], "loss")] == [0, 1]
    assert [s for s, _ in _history(child, "loss")] == [2, 3]


def test_tf_data_and_pydataset_inputs_batch_size_and_datasets(data):
    X, y = data
    tracklet.keras.autolog(log_models=False)
    ds = tf.data.Dataset.from_tensor_slices((X, y)).batch(24).prefetch(1)
    _model().fit(ds, epochs=1, verbose=0)
    run = _run()
    assert run.data.params["batch_size"] == "24"
    (entry,) = run.inputs.dataset_inputs
    assert entry.dataset.name == "tf.data.Dataset" and json.loads(entry.dataset.profile)["cardinality"] == 5

    class Batches(keras.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return X[i * 30 : (i + 1) * 30], y[i * 30 : (i + 1) * 30]

    _model().fit(Batches(), epochs=1, verbose=0)
    run = _run()
    assert run.data.params["batch_size"] == "30"
    (entry,) = run.inputs.dataset_inputs
    assert entry.dataset.name == "Batches" and json.loads(entry.dataset.profile) == {"num_batches": 4}


def test_checkpoints_keep_the_best_model_during_training(data):
    X, y = data
    tracklet.keras.autolog(log_models=False, checkpoint=True, checkpoint_monitor="loss")
    model = _model()
    model.fit(X, y, epochs=3, verbose=0)
    run = _run()
    assert _artifacts(run, "checkpoints") == [
        "checkpoints/latest_checkpoint.keras",
        "checkpoints/latest_checkpoint_metrics.json",
    ]
    path = tracklet.MlflowClient().download_artifacts(run.info.run_id, "checkpoints/latest_checkpoint.keras")
    np.testing.assert_allclose(  # loss improved every epoch: the last one is the best
        keras.models.load_model(path).predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6
    )


def test_input_example_and_signature_options(data):
    X, y = data
    tracklet.keras.autolog(log_input_examples=True, log_model_signatures=False)
    _model().fit(X, y, epochs=1, verbose=0)
    meta = tracklet.pyfunc.load_model(f"runs:/{_run().info.run_id}/model").metadata
    assert meta.signature is None
    np.testing.assert_allclose(meta.load_input_example(meta_path(meta)), X[:5], rtol=1e-6)


def meta_path(meta):
    from tracklet.flavors.mlmodel import download_model

    return download_model(f"runs:/{meta.run_id}/{meta.artifact_path}")


def test_tf_summary_scalar_is_captured_in_runs_but_not_keras_own_tensorboard_scalars(data, tmp_path):
    X, y = data
    tracklet.keras.autolog(log_models=False)

    class Custom(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            tf.summary.scalar("custom", 2.0 * epoch, step=epoch)

    logdir = str(tmp_path / "tb")
    _model().fit(X, y, epochs=2, verbose=0, callbacks=[keras.callbacks.TensorBoard(logdir), Custom()])
    run = _run()
    assert _history(run, "custom") == [(0, 0.0), (1, 2.0)]
    assert not any(k.startswith(("epoch_", "batch_", "evaluation_")) for k in run.data.metrics)
    assert any(p.startswith("tensorboard_logs/") for p in _artifacts(run, "tensorboard_logs"))
    assert os.listdir(logdir)  # the user's own writer still wrote its event files

    assert tf.summary.scalar("no_run", 1.0, step=0) is not None  # no active run: nothing to log, no run made
    writer = tf.summary.create_file_writer(str(tmp_path / "mine"))
    with tracklet.start_run() as user_run, writer.as_default():
        assert bool(tf.summary.scalar("lr", 0.5, step=3))  # the user's writer still writes
        tf.summary.experimental.set_step(7)
        tf.summary.scalar("acc", 0.9)
    tf.summary.experimental.set_step(None)
    run = tracklet.get_run(user_run.info.run_id)
    assert _history(run, "lr") == [(3, 0.5)] and _history(run, "acc") == [(7, pytest.approx(0.9))]
    assert len(tracklet.search_runs(output_format="list")) == 2


def test_legacy_tf_keras_fit_is_autologged(data):
    tf_keras = pytest.importorskip("tf_keras")
    X, y = data
    tracklet.keras.autolog()
    m = tf_keras.Sequential([tf_keras.layers.Dense(4, input_shape=(4,)), tf_keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(X, y, epochs=2, verbose=0, validation_split=0.2, callbacks=[tf_keras.callbacks.EarlyStopping(patience=5)])
    run = _run()
    assert run.data.tags["mlflow.autologging"] == "keras" and run.data.params["optimizer_name"] == "SGD"
    assert [s for s, _ in _history(run, "val_loss")] == [0, 1] and run.data.metrics["stopped_epoch"] == 1
    loaded = tracklet.keras.load_model(f"runs:/{run.info.run_id}/model")
    assert isinstance(loaded, tf_keras.Model)


_SUBPROCESS = textwrap.dedent(
    """
    import json, os, numpy as np, tracklet
    tracklet.set_tracking_uri({uri!r})
    tracklet.autolog()
    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
        import tensorflow as tf
        keras = tf.keras  # tf_keras: Keras 3 is never imported
    else:
        import keras
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype("float32")
    y = X.sum(axis=1)
    m = keras.Sequential([keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    stop = keras.callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    m.fit(X, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=[stop])
    run = tracklet.get_run(tracklet.last_active_run().info.run_id)
    client = tracklet.MlflowClient()
    pred = tracklet.pyfunc.load_model("runs:/" + run.info.run_id + "/model").predict(X)
    print(json.dumps({{
        "module": type(m).__module__.split(".")[0], "backend": getattr(keras.backend, "backend", lambda: "tf")(),
        "status": run.info.status, "params": run.data.params, "metrics": sorted(run.data.metrics),
        "steps": [h.step for h in client.get_metric_history(run.info.run_id, "val_loss")],
        "same": bool(np.allclose(pred, m.predict(X, verbose=0), rtol=1e-5)),
    }}))
    """
)


def test_jax_backend_and_tensorflow_legacy_keras_mode_in_subprocesses(tmp_path):
    runs = {
        "jax": {"KERAS_BACKEND": "jax"},
        "legacy": {"TF_USE_LEGACY_KERAS": "1"},
    }
    procs = {}
    for name, extra in runs.items():
        env = dict(os.environ, TRACKLET_AUTOLOG_STRICT="1", **extra)
        script = _SUBPROCESS.format(uri=f"sqlite:///{tmp_path}/{name}.db")
        procs[name] = subprocess.Popen(
            [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"{name}: {err[-3000:]}"
        result = json.loads(out.strip().splitlines()[-1])
        assert result["status"] == "FINISHED" and result["same"], name
        assert result["params"]["epochs"] == "3" and result["params"]["batch_size"] == "16", name
        assert {"loss", "val_loss", "stopped_epoch"} <= set(result["metrics"]), name
        assert result["steps"][:3] == [0, 1, 2], name
        if name == "jax":
            assert result["backend"] == "jax" and result["module"] == "keras"
        else:
            assert result["module"] == "tf_keras"
