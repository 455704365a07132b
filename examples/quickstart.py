"""Quickstart: a real run with params, metrics over steps, a figure and an artifact — then autolog a fit.

python examples/quickstart.py
"""

import math
import os
import tempfile

import tracklet

tracklet.set_experiment("quickstart")

with tracklet.start_run(run_name="manual-logging", description="params, metrics, a figure, an artifact") as run:
    tracklet.log_params({"learning_rate": 0.1, "epochs": 20, "optimizer": "sgd"})
    for step in range(20):
        tracklet.log_metrics({"loss": math.exp(-step / 5), "accuracy": 1 - math.exp(-step / 4)}, step=step)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.plot([math.exp(-s / 5) for s in range(20)], label="loss")
        ax.legend()
        tracklet.log_figure(fig, "plots/loss.png")
    except ImportError:
        print("matplotlib not installed: skipping the figure")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "notes.txt")
        with open(path, "w") as f:
            f.write("trained with the quickstart\n")
        tracklet.log_artifact(path)

autolog_run = None
try:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import RandomForestRegressor

    tracklet.autolog()
    X, y = load_diabetes(return_X_y=True)
    RandomForestRegressor(n_estimators=20, max_depth=4).fit(X, y)  # recorded by autolog
    autolog_run = tracklet.last_active_run()
except ImportError:
    print("scikit-learn not installed: skipping the autolog part (pip install -e '.[all]')")
except AttributeError:
    pass  # autolog not available in this version

stored = tracklet.get_run(run.info.run_id)
print(f"Run '{stored.info.run_name}' ({stored.info.run_id}) finished: {stored.info.status}")
print(f"  metrics: { {k: round(v, 4) for k, v in stored.data.metrics.items()} }")
if autolog_run is not None:
    print(
        f"Autologged run '{autolog_run.info.run_name}' ({autolog_run.info.run_id}):"
        f" {len(autolog_run.data.params)} params, metrics {sorted(autolog_run.data.metrics)}"
    )
print(f"Stored in: {tracklet.get_tracking_uri()}  (artifacts: {stored.info.artifact_uri})")
print("See it with:  tracklet runs list   |   tracklet runs describe " + stored.info.run_id)
print("Browse it:    tracklet ui   then open http://127.0.0.1:5000/#/runs/" + stored.info.run_id)
print("             (the same server answers MLflow and tracklet clients: TRACKLET_TRACKING_URI=http://127.0.0.1:5000)")
