"""The explicit client API: experiments, runs, batches, search, history, artifacts.

python examples/client_api.py
"""

import time

from tracklet import MlflowClient
from tracklet.entities import Metric, Param, RunTag

client = MlflowClient()  # default store: sqlite:///tracklet.db (or TRACKLET_TRACKING_URI)
exp = client.get_experiment_by_name("client-api")
exp_id = exp.experiment_id if exp else client.create_experiment("client-api", tags={"team": "docs"})

for lr in (0.01, 0.1, 0.3):
    run = client.create_run(exp_id, run_name=f"lr-{lr}")
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (1 + lr * step), now + step, step) for step in range(50)]
    client.log_batch(run.info.run_id, metrics=metrics, params=[Param("lr", str(lr))], tags=[RunTag("kind", "sweep")])
    client.log_dict(run.info.run_id, {"lr": lr}, "config.json")
    client.set_terminated(run.info.run_id)

best = client.search_runs(
    [exp_id], "params.lr != '0.01' and tags.kind = 'sweep'", order_by=["metrics.loss ASC"], max_results=1
)[0]
history = client.get_metric_history(best.info.run_id, "loss")
print(f"best run {best.info.run_name}: loss={best.data.metrics['loss']:.4f} after {len(history)} steps")
print("artifacts:", [f.path for f in client.list_artifacts(best.info.run_id)])
