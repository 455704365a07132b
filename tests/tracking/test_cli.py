import json
import subprocess
import sys

import tracklet
from tracklet.cli import main


def _run(capsys, *argv):
    code = main(list(argv) + ["--tracking-uri", tracklet.get_tracking_uri()])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_experiments_commands(capsys):
    code, out, _ = _run(capsys, "experiments", "create", "cli-exp")
    assert code == 0 and "cli-exp" in out
    eid = tracklet.get_experiment_by_name("cli-exp").experiment_id
    code, out, _ = _run(capsys, "experiments", "search", "--json")
    assert {e["name"] for e in json.loads(out)} == {"Default", "cli-exp"}
    code, out, _ = _run(capsys, "experiments", "search")
    assert "experiment_id" in out.splitlines()[0] and "cli-exp" in out
    assert _run(capsys, "experiments", "rename", eid, "renamed")[0] == 0
    assert tracklet.get_experiment(eid).name == "renamed"
    assert _run(capsys, "experiments", "delete", eid)[0] == 0
    assert tracklet.get_experiment(eid).lifecycle_stage == "deleted"
    assert _run(capsys, "experiments", "restore", eid)[0] == 0
    assert tracklet.get_experiment(eid).lifecycle_stage == "active"
    code, _, err = _run(capsys, "experiments", "create", "renamed")
    assert code == 1 and "RESOURCE_ALREADY_EXISTS" in err


def test_runs_commands_and_gc(capsys):
    with tracklet.start_run(run_name="cli-run") as run:
        tracklet.log_metric("acc", 0.9)
        tracklet.log_param("model", "rf")
    rid = run.info.run_id
    code, out, _ = _run(capsys, "runs", "list", "--filter", "metrics.acc > 0.5")
    assert code == 0 and rid in out and "cli-run" in out
    code, out, _ = _run(capsys, "runs", "describe", rid, "--json")
    assert json.loads(out)["data"]["params"] == {"model": "rf"}
    code, out, _ = _run(capsys, "runs", "describe", rid)
    assert "acc: 0.9" in out
    assert _run(capsys, "runs", "delete", rid)[0] == 0
    code, out, _ = _run(capsys, "runs", "list", "--view", "DELETED_ONLY", "--json")
    assert [r["info"]["run_id"] for r in json.loads(out)] == [rid]
    code, out, _ = _run(capsys, "gc", "--json")
    assert json.loads(out) == {"removed": [rid]}
    code, _, err = _run(capsys, "runs", "describe", rid)
    assert code == 1 and "RESOURCE_DOES_NOT_EXIST" in err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "tracklet.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "experiments" in out.stdout
