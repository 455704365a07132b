import json
import os
import re
import sqlite3
import subprocess
import sys

import pytest
import yaml

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
    assert json.loads(out) == {"removed": [rid], "skipped": {}}
    code, _, err = _run(capsys, "runs", "describe", rid)
    assert code == 1 and "RESOURCE_DOES_NOT_EXIST" in err


def test_console_script_entry_point():
    out = subprocess.run([sys.executable, "-m", "tracklet.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "experiments" in out.stdout


# ---------------------------------------------------------------------- gc: checks before it removes anything
def _deleted_runs(n: int, experiment_id: str = "0") -> list[str]:
    client = tracklet.MlflowClient()
    ids = []
    for i in range(n):
        rid = client.create_run(experiment_id).info.run_id
        client.log_text(rid, "data", f"f{i}.txt")
        client.delete_run(rid)
        ids.append(rid)
    return ids


def _still_there(rid: str) -> bool:
    run = tracklet.MlflowClient().get_run(rid)
    return run.info.lifecycle_stage == "deleted" and bool(tracklet.MlflowClient().list_artifacts(rid))


@pytest.mark.parametrize(
    "argv",
    [
        ["--run-ids", ""],
        ["--run-ids", " "],
        ["--run-ids", ","],
        ["--run-ids", "a,,b"],
        ["--experiment-ids", ""],
        ["--experiment-ids", "../0"],
        ["--experiment-ids", "0,../0"],
        ["--run-ids", "../x"],
        ["--experiment-ids", "424242"],
    ],
)
def test_gc_rejects_empty_or_invalid_ids_and_removes_nothing(capsys, argv):
    ids = _deleted_runs(2)
    code, out, err = _run(capsys, "gc", *argv)
    assert code == 1 and re.match(r"error: (INVALID_PARAMETER_VALUE|RESOURCE_DOES_NOT_EXIST): ", err), err
    assert all(_still_there(rid) for rid in ids)


def test_gc_client_empty_list_is_an_error_not_all():
    ids = _deleted_runs(1)
    with pytest.raises(tracklet.MlflowException, match="empty"):
        tracklet.MlflowClient().gc(run_ids=[])
    with pytest.raises(tracklet.MlflowException, match="empty"):
        tracklet.MlflowClient().gc(experiment_ids=[])
    assert _still_there(ids[0])


def test_gc_validates_every_id_before_removing_any(capsys):
    del1, del2 = _deleted_runs(2)
    active = tracklet.MlflowClient().create_run("0").info.run_id
    code, _, err = _run(capsys, "gc", "--run-ids", f"{del1},{active},{del2}")
    assert code == 1 and "INVALID_PARAMETER_VALUE" in err and active in err
    assert _still_there(del1) and _still_there(del2)
    code, _, err = _run(capsys, "gc", "--run-ids", f"{del1},{'0' * 32}")
    assert code == 1 and "RESOURCE_DOES_NOT_EXIST" in err and _still_there(del1)
    other = tracklet.create_experiment("other")
    code, _, err = _run(capsys, "gc", "--run-ids", del1, "--experiment-ids", other)
    assert code == 1 and "belongs to experiment" in err and _still_there(del1)
    code, out, _ = _run(capsys, "gc", "--run-ids", f" {del1} ,{del1}", "--json")
    assert code == 0 and json.loads(out) == {"removed": [del1], "skipped": {}}
    assert _still_there(del2)


def _cli(*argv: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command in a fresh process (no store cached from the test), PYTHONPATH inherited."""
    return subprocess.run(
        [sys.executable, "-m", "tracklet.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_gc_never_deletes_outside_where_the_store_keeps_artifacts(tmp_path, kind):
    uri = f"sqlite:///{tmp_path}/t.db" if kind == "sqlite" else str(tmp_path / "mlruns")
    tracklet.set_tracking_uri(uri)
    tampered, honest = _deleted_runs(2)
    victim = tmp_path / "some" / "dir"
    victim.mkdir(parents=True)
    (victim / "precious.txt").write_text("keep me")
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "t.db") as conn:
            conn.execute("UPDATE runs SET artifact_uri = ? WHERE run_uuid = ?", (victim.as_uri(), tampered))
    else:
        meta = next((tmp_path / "mlruns").glob(f"*/{tampered}/meta.yaml"))
        data = yaml.safe_load(meta.read_text())
        data["artifact_uri"] = victim.as_uri()
        meta.write_text(yaml.safe_dump(data))
    out = _cli("gc", "--tracking-uri", uri, "--json")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    result = json.loads(out.stdout)
    assert result["removed"] == [honest] and list(result["skipped"]) == [tampered]
    assert "is not" in result["skipped"][tampered]
    assert (victim / "precious.txt").read_text() == "keep me"
    text = _cli("gc", "--tracking-uri", uri)
    assert text.returncode == 1 and tampered in text.stdout and "Left 1 run(s) in place" in text.stdout


# ---------------------------------------------------------------------- errors: one line, never a traceback
def _cli_error_cases(tmp_path) -> list[list[str]]:
    plain = tmp_path / "plain-file"
    plain.write_text("not a directory")
    return [
        ["runs", "list", "--tracking-uri", "sqlite:////proc/tracklet-forbidden/t.db"],
        ["runs", "list", "--tracking-uri", str(plain)],
        ["experiments", "search", "--tracking-uri", f"file://{plain}"],
        ["runs", "list", "--tracking-uri", "postgresql+pg8000://u:p@127.0.0.1:1/db"],
        ["runs", "list", "--tracking-uri", f"sqlite:///{tmp_path}/x.db", "--filter", "metrics.m > -" + "9" * 30],
        ["runs", "list", "--tracking-uri", "nosuchscheme://x"],
        ["runs", "describe", "nope-" + "x" * 300, "--tracking-uri", f"sqlite:///{tmp_path}/x.db"],
    ]


def test_cli_errors_are_one_line_with_a_code_never_a_traceback(tmp_path):
    for argv in _cli_error_cases(tmp_path):
        out = _cli(*argv)
        assert "Traceback" not in out.stderr, (argv, out.stderr)
        if out.returncode == 0:  # a filter the store can answer is fine too
            assert argv[-2] == "--filter", argv
            continue
        assert out.returncode == 1, (argv, out.returncode)
        assert re.fullmatch(r"error: [A-Z_]+: .+\n", out.stderr), (argv, out.stderr)
        assert not out.stderr.startswith("error: INTERNAL_ERROR: unexpected"), (argv, out.stderr)


def test_console_script_prints_errors_the_same_way(tmp_path):
    out = _cli("runs", "describe", "0" * 32, "--tracking-uri", f"sqlite:///{tmp_path}/y.db")
    assert out.returncode == 1 and out.stderr.startswith("error: RESOURCE_DOES_NOT_EXIST: ")
