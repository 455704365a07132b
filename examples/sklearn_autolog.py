"""Zero-code scikit-learn tracking: one call before training, then train as usual.

pip install "tracklet[sklearn]"
python examples/sklearn_autolog.py
"""

import tracklet

tracklet.autolog()  # patch scikit-learn (and any other supported framework) when it is imported

from sklearn.datasets import load_diabetes  # noqa: E402
from sklearn.ensemble import RandomForestRegressor  # noqa: E402
from sklearn.metrics import mean_squared_error  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

X, y = load_diabetes(return_X_y=True, as_frame=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

model = RandomForestRegressor(n_estimators=100, max_depth=6, random_state=0)
model.fit(X_train, y_train)  # params, training metrics, estimator.html and the model are logged
mse = mean_squared_error(y_test, model.predict(X_test))  # logged as mean_squared_error_X_test

run = tracklet.last_active_run()
print(f"run {run.info.run_id} ({run.info.run_name}) in {tracklet.get_tracking_uri()}")
print("metrics:", {k: round(v, 3) for k, v in sorted(run.data.metrics.items())})
print(f"model:   tracklet.sklearn.load_model('runs:/{run.info.run_id}/model')")
print(f"browse:  tracklet runs describe {run.info.run_id}   (or: tracklet runs list)")
