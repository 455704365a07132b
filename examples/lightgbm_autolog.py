"""LightGBM autologging: the native API with early stopping, then the scikit-learn API.

python examples/lightgbm_autolog.py       # then: tracklet runs list
"""

import warnings

import lightgbm as lgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tracklet

tracklet.set_experiment("lightgbm-autolog")
tracklet.lightgbm.autolog()  # before or after importing lightgbm
warnings.filterwarnings("ignore", message="The argument 'eval_set' is deprecated")  # lightgbm>=4.7 prefers eval_X

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, random_state=0)

# native API: params, train-/valid- metrics per round, best_iteration (0-based), split/gain importance, model
dtrain = lgb.Dataset(X_train, label=y_train)
dvalid = lgb.Dataset(X_valid, label=y_valid, reference=dtrain)
params = {"objective": "binary", "metric": ["binary_logloss", "auc"], "learning_rate": 0.1, "verbose": -1}
booster = lgb.train(
    params,
    dtrain,
    num_boost_round=200,
    valid_sets=[dtrain, dvalid],
    valid_names=["train", "valid"],
    callbacks=[lgb.early_stopping(10, verbose=False)],
)
native_run = tracklet.last_active_run()
print(f"native run {native_run.info.run_id}: best_iteration={native_run.data.metrics['best_iteration']:.0f}")

# scikit-learn API: get_params() as params, valid_0-binary_logloss per round, the model as LGBMClassifier
clf = lgb.LGBMClassifier(n_estimators=100, learning_rate=0.1, verbose=-1)
clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], callbacks=[lgb.early_stopping(10, verbose=False)])
sk_run = tracklet.last_active_run()
print(f"sklearn run {sk_run.info.run_id}: metrics {sorted(sk_run.data.metrics)}")

model = tracklet.pyfunc.load_model(f"runs:/{sk_run.info.run_id}/model")
print("reloaded model predicts:", model.predict(X_valid.head(3)))
print(
    f"stored in {tracklet.get_tracking_uri()}; see it: tracklet runs describe {native_run.info.run_id}"
    " (or: tracklet runs list)"
)
