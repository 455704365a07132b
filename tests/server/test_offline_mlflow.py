"""``tracklet sync`` to a real ``mlflow server``: MLflow's API has no client-chosen run ids, so sync creates the
run there and finds it again by its offline-id tag when a crashed sync left the journal unacknowledged."""

from __future__ import annotations

import shutil
from collections import Counter

from tests.server.test_mlflow_client import mlflow_server  # noqa: F401 - the module-scoped server fixture
from tests.server.test_offline import Server, _spool_offline, journals, step_counts, sync, the_run
from tracklet.tracking.client import TrackletClient
from tracklet.tracking.spool_journal import Journal


def test_sync_to_mlflow_server_exactly_once_even_after_a_lost_ack(tmp_path, mlflow_server):  # noqa: F811
    url = mlflow_server
    dead = Server(tmp_path)  # never started: its port is the unreachable tracking URI of the training
    try:
        local_id = _spool_offline(tmp_path, dead)
    finally:
        dead.stop()
    (name,) = journals(tmp_path)
    shutil.copytree(tmp_path / "spool" / name, tmp_path / "backup")
    first = sync(tmp_path, url=url)
    assert first.returncode == 0, first.stdout + first.stderr
    run = the_run(url)
    assert run.data.tags["tracklet.offline.runId"] == local_id and run.info.status == "FINISHED"
    # the journal as a sync that crashed after sending everything, before any ack, leaves it
    shutil.copytree(tmp_path / "backup", tmp_path / "spool" / name)
    journal = Journal(str(tmp_path / "spool" / name))
    records = journal.read().records
    journal.mark("begin", records[0]["seq"], records[-1]["seq"])
    journal.close()
    again = sync(tmp_path, url=url)
    assert again.returncode == 0, again.stdout + again.stderr
    assert the_run(url).info.run_id == run.info.run_id
    assert step_counts(url, run.info.run_id, "loss") == Counter(range(500))
    assert run.data.params == {"lr": "0.1"}
    assert [f.path for f in TrackletClient(url).list_artifacts(run.info.run_id, "notes")] == ["notes/a.txt"]
