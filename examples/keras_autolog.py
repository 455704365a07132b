"""Keras autologging (Keras 3, any backend): EarlyStopping with restore_best_weights, then the model reloaded.

python examples/keras_autolog.py       # then: tracklet runs list
"""

import keras
import numpy as np

import tracklet

tracklet.set_experiment("keras-autolog")
tracklet.keras.autolog()  # = tracklet.tensorflow.autolog(); before or after importing keras

rng = np.random.default_rng(0)
X = rng.normal(size=(2000, 10)).astype("float32")
y = (X[:, :3].sum(axis=1) + 0.3 * rng.normal(size=2000) > 0).astype("float32")

keras.utils.set_random_seed(0)
model = keras.Sequential(
    [keras.Input((10,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(1, "sigmoid")]
)
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
model.fit(X, y, epochs=50, batch_size=64, validation_split=0.2, callbacks=[stop], verbose=0)

# params (fit arguments, optimizer_*, EarlyStopping's), loss/accuracy/val_* per epoch, model_summary.txt, model/
run = tracklet.last_active_run()
m = run.data.metrics
print(f"run {run.info.run_id}: stopped_epoch={m['stopped_epoch']:.0f} restored_epoch={m['restored_epoch']:.0f}")
print(f"val_loss of the kept model (logged again at step stopped_epoch + 1): {m['val_loss']:.4f}")

reloaded = tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
print("reloaded model predicts:", reloaded.predict(X[:3]).ravel())
assert np.allclose(reloaded.predict(X[:3]), model.predict(X[:3], verbose=0))
print(f"stored in {tracklet.get_tracking_uri()}; see it: tracklet runs describe {run.info.run_id}")
