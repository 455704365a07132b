"""The fluent API against the real default store (SQLite in the test's temp dir, set by tests/conftest.py)."""

import asyncio
import os
import re
import subprocess
import sys
import textwrap
import threading

import pytest

import tracklet
from tracklet.exceptions import InvalidParameterValue, TrackletException


def test_context_manager_finishes_run():
    with tracklet.start_run(run_name="r1", tags={"team": "a"}, description="hello") as run:
        tracklet.log_param("alpha", 0.5)
        tracklet.log_metric("loss", 1.0, step=0)
        tracklet.log_metric("loss", 0.5, step=1)
        assert tracklet.active_run().info.run_id == run.info.run_id
    assert tracklet.active_run() is None
    stored = tracklet.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.end_time >= stored.info.start_time
    assert stored.info.run_name == "r1"
    assert stored.data.params == {"alpha": "0.5"}
    assert stored.data.metrics == {"loss": 0.5}
    tags = stored.data.tags
    assert tags["team"] == "a"
    assert tags["mlflow.runName"] == "r1"
    assert tags["mlflow.note.content"] == "hello"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.user"]
    assert tags["mlflow.source.name"]
    assert tracklet.last_active_run().info.run_id == run.info.run_id


def test_block_that_raises_marks_run_failed_and_propagates():
    class Boom(Exception):
        pass

    with pytest.raises(Boom):
        with tracklet.start_run() as run:
            raise Boom()
    assert tracklet.get_run(run.info.run_id).info.status == "FAILED"


def test_keyboard_interrupt_marks_run_killed():
    with pytest.raises(KeyboardInterrupt):
        with tracklet.start_run() as run:
            raise KeyboardInterrupt
    assert tracklet.get_run(run.info.run_id).info.status == "KILLED"


def test_generated_run_name_pattern():
    with tracklet.start_run() as run:
        pass
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d{1,3}", run.info.run_name)
    assert tracklet.get_run(run.info.run_id).data.tags["mlflow.runName"] == run.info.run_name


def test_nested_runs_and_parent_tag():
    with tracklet.start_run() as parent:
        with pytest.raises(TrackletException, match="already active"):
            tracklet.start_run()
        with tracklet.start_run(nested=True) as child:
            assert tracklet.active_run().info.run_id == child.info.run_id
        assert tracklet.active_run().info.run_id == parent.info.run_id
    assert tracklet.get_run(child.info.run_id).data.tags["mlflow.parentRunId"] == parent.info.run_id


def test_logging_without_active_run_starts_one():
    tracklet.log_metric("m", 3.0)
    run = tracklet.active_run()
    assert run is not None
    tracklet.end_run()
    assert tracklet.get_run(run.info.run_id).data.metrics == {"m": 3.0}


def test_end_run_status_and_resume():
    run = tracklet.start_run()
    tracklet.end_run(status="KILLED")
    assert tracklet.get_run(run.info.run_id).info.status == "KILLED"
    with tracklet.start_run(run_id=run.info.run_id) as resumed:
        assert resumed.info.status == "RUNNING"
        tracklet.log_param("p", "1")
    assert tracklet.get_run(run.info.run_id).info.status == "FINISHED"


def test_bad_input_raises_named_error_and_writes_nothing():
    with tracklet.start_run() as run:
        with pytest.raises(InvalidParameterValue, match="metric values must be numeric"):
            tracklet.log_metric("m", "high")
        with pytest.raises(InvalidParameterValue, match="metric name"):
            tracklet.log_metric("bad//key", 1.0)
        tracklet.log_param("p", "1")
        with pytest.raises(InvalidParameterValue, match="(?i)changing param values is not allowed"):
            tracklet.log_param("p", "2")
        with pytest.raises(InvalidParameterValue):
            tracklet.log_metrics({"ok": 1.0, "bad": "x"})
    data = tracklet.get_run(run.info.run_id).data
    assert data.metrics == {}
    assert data.params == {"p": "1"}


def test_experiment_resolution_order(monkeypatch):
    eid = tracklet.create_experiment("by-id")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "mlflow-name")
    with tracklet.start_run() as r:
        pass
    assert tracklet.get_experiment(r.info.experiment_id).name == "mlflow-name"
    monkeypatch.setenv("TRACKLET_EXPERIMENT_NAME", "tracklet-name")  # TRACKLET_* wins
    with tracklet.start_run() as r:
        pass
    assert tracklet.get_experiment(r.info.experiment_id).name == "tracklet-name"
    tracklet.set_experiment("explicit")  # set_experiment beats env
    with tracklet.start_run() as r:
        pass
    assert tracklet.get_experiment(r.info.experiment_id).name == "explicit"
    with tracklet.start_run(experiment_id=eid) as r:  # the argument beats everything
        pass
    assert r.info.experiment_id == eid


def test_experiment_id_env_and_default(monkeypatch):
    with tracklet.start_run() as r:
        pass
    assert r.info.experiment_id == "0"
    assert tracklet.get_experiment("0").name == "Default"
    eid = tracklet.create_experiment("e2")
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", eid)
    with tracklet.start_run() as r:
        pass
    assert r.info.experiment_id == eid


def test_run_id_env_resumes(monkeypatch):
    with tracklet.start_run() as r:
        tracklet.log_param("a", "1")
    monkeypatch.setenv("TRACKLET_RUN_ID", r.info.run_id)
    with tracklet.start_run() as again:
        tracklet.log_param("b", "2")
    assert again.info.run_id == r.info.run_id
    assert tracklet.get_run(r.info.run_id).data.params == {"a": "1", "b": "2"}


def test_set_experiment_creates_and_tags():
    exp = tracklet.set_experiment("new-exp")
    assert tracklet.get_experiment_by_name("new-exp").experiment_id == exp.experiment_id
    tracklet.set_experiment_tags({"owner": "me"})
    assert tracklet.get_experiment(exp.experiment_id).tags["owner"] == "me"
    assert [e.name for e in tracklet.search_experiments(filter_string="name = 'new-exp'")] == ["new-exp"]


def test_threads_have_separate_active_runs():
    seen = {}
    barrier = threading.Barrier(2)

    def work(name):
        with tracklet.start_run(run_name=name) as run:
            barrier.wait()
            tracklet.log_param("who", name)
            seen[name] = (run.info.run_id, tracklet.active_run().info.run_id)
            barrier.wait()

    threads = [threading.Thread(target=work, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["t1"][0] == seen["t1"][1] and seen["t2"][0] == seen["t2"][1]
    assert seen["t1"][0] != seen["t2"][0]
    for name, (run_id, _) in seen.items():
        assert tracklet.get_run(run_id).data.params == {"who": name}
    assert tracklet.active_run() is None


def test_asyncio_tasks_have_separate_active_runs():
    async def work(name):
        with tracklet.start_run(run_name=name) as run:
            await asyncio.sleep(0.01)
            assert tracklet.active_run().info.run_id == run.info.run_id
            return run.info.run_id

    async def main():
        return await asyncio.gather(work("a"), work("b"))

    a, b = asyncio.run(main())
    assert a != b


def test_async_logging_returns_future_and_end_run_drains():
    with tracklet.start_run() as run:
        futures = [tracklet.log_metric("m", float(i), step=i, synchronous=False) for i in range(2500)]
        f2 = tracklet.log_param("p", "v", synchronous=False)
        f3 = tracklet.set_tag("t", "v", synchronous=False)
    for f in futures + [f2, f3]:
        assert f.done() and f.exception() is None
    client = tracklet.MlflowClient()
    hist = client.get_metric_history(run.info.run_id, "m")
    assert [m.step for m in hist] == list(range(2500))
    data = client.get_run(run.info.run_id).data
    assert data.params == {"p": "v"} and data.tags["t"] == "v"


def test_async_logging_error_surfaces_on_future(caplog):
    with tracklet.start_run():
        tracklet.log_param("p", "1")
        fut = tracklet.log_param("p", "2", synchronous=False)
        with pytest.raises(InvalidParameterValue):
            fut.wait(timeout=30)


def test_artifacts_files_dirs_dict_text(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("hi")
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x.txt").write_text("x")
    with tracklet.start_run() as run:
        tracklet.log_artifact(str(f))
        tracklet.log_artifact(str(f), artifact_path="nested")
        tracklet.log_artifact(str(d))
        tracklet.log_artifacts(str(d), artifact_path="flat")
        tracklet.log_dict({"a": 1}, "cfg/d.json")
        tracklet.log_dict({"a": 1}, "cfg/d.yaml")
        tracklet.log_text("text", "notes.txt")
        with pytest.raises(InvalidParameterValue, match="artifact"):
            tracklet.log_text("evil", "../escape.txt")
        uri = tracklet.get_artifact_uri()
    client = tracklet.MlflowClient()
    names = {fi.path for fi in client.list_artifacts(run.info.run_id)}
    assert names == {"a.txt", "nested", "dir", "flat", "cfg", "notes.txt"}
    assert {fi.path for fi in client.list_artifacts(run.info.run_id, "cfg")} == {"cfg/d.json", "cfg/d.yaml"}
    local = client.download_artifacts(run.info.run_id, "cfg", str(tmp_path / "dl"))
    assert open(os.path.join(local, "d.yaml")).read().strip() == "a: 1"
    assert '"a": 1' in open(os.path.join(local, "d.json")).read()
    root = uri.replace("file://", "")
    assert open(os.path.join(root, "dir", "sub", "x.txt")).read() == "x"
    assert open(os.path.join(root, "flat", "sub", "x.txt")).read() == "x"
    assert not (tmp_path / "escape.txt").exists()


def test_log_figure_matplotlib_and_plotly():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3])
    with tracklet.start_run() as run:
        for ext in ("png", "svg", "pdf"):
            tracklet.log_figure(fig, f"plots/fig.{ext}")
        with pytest.raises(InvalidParameterValue, match="must end in"):
            tracklet.log_figure(fig, "plots/fig.txt")
        go = pytest.importorskip("plotly.graph_objects")
        tracklet.log_figure(go.Figure(data=[go.Bar(y=[1, 2])]), "plots/fig.html")
    plt.close(fig)
    files = {fi.path: fi.file_size for fi in tracklet.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert set(files) == {"plots/fig.png", "plots/fig.svg", "plots/fig.pdf", "plots/fig.html"}
    assert all(size > 100 for size in files.values())


def test_log_image_variants(tmp_path):
    np = pytest.importorskip("numpy")
    Image = pytest.importorskip("PIL.Image")
    cases = {
        "bool.png": (np.eye(4, dtype=bool), "L"),
        "gray.png": (np.full((4, 5), 7, dtype=np.uint8), "L"),
        "gray1.png": (np.zeros((4, 5, 1), dtype=np.int64), "L"),
        "rgb.png": (np.random.rand(4, 5, 3), "RGB"),
        "rgba.png": (np.random.rand(4, 5, 4) * 2 - 0.5, "RGBA"),  # floats clipped to 0..1
        "pil.png": (Image.new("RGB", (3, 3)), "RGB"),
    }
    with tracklet.start_run() as run:
        for name, (img, _mode) in cases.items():
            tracklet.log_image(img, f"img/{name}")
        with pytest.raises(InvalidParameterValue, match=r"range \[0, 255\]"):
            tracklet.log_image(np.full((2, 2), 300), "img/bad.png")
        with pytest.raises(InvalidParameterValue, match="shape"):
            tracklet.log_image(np.zeros((2, 2, 2)), "img/bad.png")
    out = tracklet.MlflowClient().download_artifacts(run.info.run_id, "img", str(tmp_path))
    for name, (_img, mode) in cases.items():
        with Image.open(os.path.join(out, name)) as loaded:
            assert loaded.mode == mode
    with Image.open(os.path.join(out, "bool.png")) as loaded:
        assert np.asarray(loaded)[0, 0] == 255 and np.asarray(loaded)[0, 1] == 0
    with Image.open(os.path.join(out, "rgba.png")) as loaded:
        arr = np.asarray(loaded)
        assert arr.min() >= 0 and arr.max() <= 255


def test_search_runs_pandas_and_list():
    pytest.importorskip("pandas")
    for i, model in enumerate(["rf", "rf", "gbm"]):
        with tracklet.start_run():
            tracklet.log_param("model", model)
            tracklet.log_metric("acc", 0.5 + i * 0.1)
    df = tracklet.search_runs(filter_string="params.model = 'rf'", order_by=["metrics.acc DESC"])
    assert list(df["params.model"]) == ["rf", "rf"]
    assert list(df["metrics.acc"]) == pytest.approx([0.6, 0.5])
    assert {"run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"} <= set(df.columns)
    assert str(df["start_time"].dtype).startswith("datetime64")
    runs = tracklet.search_runs(filter_string="metrics.acc > 0.55", output_format="list")
    assert sorted(r.data.params["model"] for r in runs) == ["gbm", "rf"]


def test_git_and_source_tags_from_a_script(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    script = repo / "train.py"
    script.write_text(
        textwrap.dedent(f"""
        import tracklet as mlflow
        mlflow.set_tracking_uri({"sqlite:///" + str(tmp_path / "git.db")!r})
        with mlflow.start_run() as run:
            mlflow.log_param("x", 1)
        print(run.info.run_id)
    """)
    )
    git = ["git", "-c", "user.email=a@b.c", "-c", "user.name=t"]
    subprocess.run(git + ["init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run(git + ["-C", str(repo), "remote", "add", "origin", "https://example.com/r.git"], check=True)
    subprocess.run(git + ["-C", str(repo), "add", "."], check=True)
    subprocess.run(git + ["-C", str(repo), "commit", "-qm", "init"], check=True)
    commit = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, cwd=repo)
    run_id = out.stdout.strip().splitlines()[-1]
    tags = tracklet.MlflowClient(f"sqlite:///{tmp_path / 'git.db'}").get_run(run_id).data.tags
    assert tags["mlflow.source.name"] == str(script)
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == "https://example.com/r.git"


def test_mlflow_tutorial_code_runs_unchanged(tmp_path):
    pytest.importorskip("pandas")  # search_runs returns a DataFrame by default, as in MLflow
    script = tmp_path / "tutorial.py"
    script.write_text(
        textwrap.dedent("""
        import tracklet as mlflow
        from tracklet import MlflowClient
        from tracklet.entities import Metric, Param, RunTag
        import time

        mlflow.set_experiment("tutorial")
        with mlflow.start_run(run_name="baseline") as run:
            mlflow.log_params({"lr": 0.01, "epochs": 3})
            for epoch in range(3):
                mlflow.log_metrics({"loss": 1.0 / (epoch + 1), "acc": 0.3 * epoch}, step=epoch)
            mlflow.set_tags({"stage": "dev"})
            mlflow.log_dict({"k": "v"}, "config.json")
        client = MlflowClient()
        ts = int(time.time() * 1000)
        client.log_batch(run.info.run_id, metrics=[Metric("extra", 1.0, ts, 0)], params=[Param("p", "v")],
                         tags=[RunTag("t", "v")])
        runs = mlflow.search_runs(filter_string="metrics.loss < 0.5", order_by=["metrics.acc DESC"])
        assert len(runs) == 1, runs
        hist = client.get_metric_history(run.info.run_id, "loss")
        assert [m.step for m in hist] == [0, 1, 2]
        print("OK", run.info.run_id)
    """)
    )
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "TRACKLET_TRACKING_URI": f"sqlite:///{tmp_path / 'tut.db'}"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("OK")
