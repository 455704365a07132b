"""XGBoost autologging: the native API with early stopping, then the scikit-learn API.

python examples/xgboost_autolog.py        # then: tracklet runs list
"""

import xgboost as xgb
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

import tracklet

tracklet.set_experiment("xgboost-autolog")
tracklet.xgboost.autolog(importance_types=["weight", "gain"])  # before or after importing xgboost

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X_train, X_valid, y_train, y_valid = train_test_split(X, y, random_state=0)

# native API: params, train-/valid- metrics per round, best_iteration, importance plots, the model
dtrain, dvalid = xgb.DMatrix(X_train, label=y_train), xgb.DMatrix(X_valid, label=y_valid)
params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "eta": 0.3, "max_depth": 3}
booster = xgb.train(
    params,
    dtrain,
    num_boost_round=200,
    evals=[(dtrain, "train"), (dvalid, "valid")],
    early_stopping_rounds=10,
    verbose_eval=False,
)
native_run = tracklet.last_active_run()
print(f"native run {native_run.info.run_id}: best_iteration={booster.best_iteration}")

# scikit-learn API: get_params() as params, validation_0-logloss per round, the model as XGBClassifier
clf = xgb.XGBClassifier(n_estimators=100, max_depth=3, early_stopping_rounds=10)
clf.fit(X_train, y_train, eval_set=[(X_valid, y_valid)], verbose=False)
sk_run = tracklet.last_active_run()
print(f"sklearn run {sk_run.info.run_id}: metrics {sorted(sk_run.data.metrics)}")

model = tracklet.pyfunc.load_model(f"runs:/{sk_run.info.run_id}/model")
print("reloaded model predicts:", model.predict(X_valid.head(3)))
print(
    f"stored in {tracklet.get_tracking_uri()}; see it: tracklet runs describe {native_run.info.run_id}"
    " (or: tracklet runs list)"
)
