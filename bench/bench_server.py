"""Tracking servers side by side: ``tracklet server`` and ``mlflow server``, same machine, same client code.

    python bench/bench_server.py                     # both servers, 5 interleaved rounds
    python bench/bench_server.py --only tracklet --rounds 3 --seconds 3

Each server runs in its own process tree on 127.0.0.1 with a fresh SQLite backend and proxied artifacts.
Prints one JSON line per figure, ``{"server", "figure", "value", "unit", ...}``:

* ``ready_s``          -- from process start until ``GET /health`` answers, with ``first_api_s``: until the first
  API call (``experiments/search``) answers (tracklet listens first and opens its store in the background);
  medians of ``--ready-rounds`` cold starts on a fresh SQLite file (and, tracklet only, a fresh file store)
* ``log_batch_rps``    -- 4 client threads posting ``runs/log-batch`` with 10 metrics each, requests/s
  (median over rounds), with ``p99_ms`` (median over rounds of each round's p99)
* ``search_500_ms``    -- ``runs/search`` (a metric filter, ordered) over an experiment of 500 runs, median ms
* ``rss_mb``           -- resident memory of the whole process tree after the load, MB
* ``xgb_autolog_s``    -- (``--autolog``, tracklet only) ``xgboost.train`` 300 rounds, 2 eval sets, autologged to
  the server vs to a local SQLite file, median seconds of interleaved repeats

Rounds alternate between the servers so machine noise hits both alike. Every client request goes through
the same keep-alive ``http.client`` code.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

API = "/api/2.0/mlflow"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (from /proc), in MB."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration):
            pass
    return total / 1024


class Server:
    def __init__(self, kind: str, workdir: str, store: str = "sqlite"):
        self.kind, self.port = kind, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        db = f"sqlite:///{workdir}/{kind}.db" if store == "sqlite" else os.path.join(workdir, f"{kind}-mlruns")
        art = os.path.join(workdir, f"{kind}-artifacts")
        module = "tracklet" if kind == "tracklet" else "mlflow"
        self.args = [sys.executable, "-m", module, "server", "--host", "127.0.0.1", "--port", str(self.port)]
        self.args += ["--backend-store-uri", db, "--artifacts-destination", art, "--workers", "1"]
        self.env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
        self.env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def start(self) -> tuple[float, float]:
        """Start the server: (seconds until /health answers, seconds until the first API call answers)."""
        start = time.perf_counter()
        self.proc = subprocess.Popen(
            self.args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.kind} server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.02)
        ready = time.perf_counter() - start
        with urllib.request.urlopen(f"{self.url}{API}/experiments/search?max_results=1", timeout=120) as r:
            r.read()
        return ready, time.perf_counter() - start

    def stop(self) -> None:
        import signal

        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)


class Client:
    """One keep-alive connection; ``call`` returns the parsed JSON and raises on a non-200."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, endpoint: str, body: dict | None = None) -> dict:
        data = json.dumps(body or {}).encode()
        for attempt in (0, 1):  # servers close idle keep-alive connections (uvicorn after 5 s): reconnect once
            try:
                self.conn.request(method, API + endpoint, body=data, headers={"Content-Type": "application/json"})
                response = self.conn.getresponse()
                payload = response.read()
                break
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                self.conn.close()
                if attempt:
                    raise
        if response.status != 200:
            raise RuntimeError(f"{endpoint}: HTTP {response.status} {payload[:200]!r}")
        return json.loads(payload)


def new_run(client: Client, experiment_id: str, name: str) -> str:
    body = {"experiment_id": experiment_id, "run_name": name, "start_time": int(time.time() * 1000)}
    return client.call("POST", "/runs/create", body)["run"]["info"]["run_id"]


def log_batch_round(port: int, run_ids: list[str], seconds: float) -> tuple[float, float]:
    """4 threads posting 10-metric batches for ``seconds``: (requests/s, p99 ms)."""
    latencies: list[list[float]] = [[] for _ in run_ids]
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        client, step = Client(port), 0
        while time.perf_counter() < stop:
            ts = int(time.time() * 1000)
            metrics = [{"key": f"m{k}", "value": step * 0.1 + k, "timestamp": ts, "step": step} for k in range(10)]
            t0 = time.perf_counter()
            client.call("POST", "/runs/log-batch", {"run_id": run_ids[i], "metrics": metrics})
            latencies[i].append(time.perf_counter() - t0)
            step += 1

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(run_ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    every = sorted(x for per in latencies for x in per)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] * 1000
    return len(every) / elapsed, p99


def populate(client: Client, n_runs: int) -> str:
    eid = client.call("POST", "/experiments/create", {"name": "search-500"})["experiment_id"]
    for i in range(n_runs):
        run_id = new_run(client, eid, f"run-{i}")
        ts = int(time.time() * 1000)
        metrics = [{"key": k, "value": (i * 7 % 100) / 100 + j, "timestamp": ts, "step": 0} for j, k in enumerate("ab")]
        params = [{"key": "model", "value": "rf" if i % 2 else "lr"}, {"key": "depth", "value": str(i % 10)}]
        client.call("POST", "/runs/log-batch", {"run_id": run_id, "metrics": metrics, "params": params})
    return eid


def search_round(client: Client, eid: str, n_runs: int, repeats: int = 5) -> float:
    body = {"experiment_ids": [eid], "filter": "metrics.a > 0.2", "order_by": ["metrics.a DESC"], "max_results": 1000}
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        found = client.call("POST", "/runs/search", body)
        times.append((time.perf_counter() - t0) * 1000)
    assert len(found.get("runs", [])) > 0.6 * n_runs, "search returned too few runs"
    return statistics.median(times)


def autolog_round(uri: str) -> float:
    """Seconds of an autologged 300-round ``xgboost.train`` (metrics flushed, run ended) logging to ``uri``."""
    import numpy as np
    import xgboost as xgb

    import tracklet

    tracklet.set_tracking_uri(uri)
    tracklet.xgboost.autolog(log_models=False, log_datasets=False)
    rng = np.random.default_rng(0)
    X, y = rng.random((2000, 10)), rng.random(2000)
    train, valid = xgb.DMatrix(X[:1500], label=y[:1500]), xgb.DMatrix(X[1500:], label=y[1500:])
    t0 = time.perf_counter()
    xgb.train(
        {"max_depth": 3, "nthread": 1}, train, 300, evals=[(train, "train"), (valid, "valid")], verbose_eval=False
    )
    elapsed = time.perf_counter() - t0
    tracklet.xgboost.autolog(disable=True)
    return elapsed


def ready_rounds(kind: str, store: str, rounds: int) -> None:
    """Start and stop a fresh server ``rounds`` times; emit the median ``ready_s`` and ``first_api_s``."""
    ready, first_api = [], []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory(prefix="bench-ready-") as workdir:
            server = Server(kind, workdir, store)
            try:
                r, f = server.start()
            finally:
                server.stop()
            ready.append(r)
            first_api.append(f)
    emit(
        kind, "ready_s", statistics.median(ready), "s", store=store, first_api_s=round(statistics.median(first_api), 3)
    )


def emit(server: str, figure: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"server": server, "figure": figure, "value": round(value, 3), "unit": unit, **extra}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["tracklet", "mlflow"], help="benchmark one server")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each log-batch round")
    parser.add_argument("--runs", type=int, default=500, help="runs in the searched experiment")
    parser.add_argument("--autolog", action="store_true", help="also time xgboost autolog over REST vs SQLite")
    parser.add_argument("--ready-rounds", type=int, default=5, help="cold starts per server and store (0: skip)")
    args = parser.parse_args()
    kinds = [args.only] if args.only else ["tracklet", "mlflow"]
    if args.ready_rounds:
        for store in ("sqlite", "file"):
            for kind in kinds:
                if store == "sqlite" or kind == "tracklet":  # MLflow 3 deprecates its file store
                    ready_rounds(kind, store, args.ready_rounds)
    with tempfile.TemporaryDirectory(prefix="bench-server-") as workdir:
        servers = {k: Server(k, workdir) for k in kinds}
        state: dict[str, dict] = {}
        try:
            for kind, server in servers.items():
                server.start()
                client = Client(server.port)
                batch_eid = client.call("POST", "/experiments/create", {"name": "batch"})["experiment_id"]
                runs = [new_run(client, batch_eid, f"load-{i}") for i in range(4)]
                state[kind] = {"client": client, "runs": runs, "eid": populate(client, args.runs), "rps": [], "p99": []}
                state[kind]["search"] = []
            for _ in range(args.rounds):  # interleaved: each round measures every server once
                for kind, server in servers.items():
                    rps, p99 = log_batch_round(server.port, state[kind]["runs"], args.seconds)
                    state[kind]["rps"].append(rps)
                    state[kind]["p99"].append(p99)
                    state[kind]["search"].append(search_round(state[kind]["client"], state[kind]["eid"], args.runs))
            for kind, server in servers.items():
                s = state[kind]
                emit(
                    kind,
                    "log_batch_rps",
                    statistics.median(s["rps"]),
                    "req/s",
                    p99_ms=round(statistics.median(s["p99"]), 2),
                )
                emit(kind, "search_500_ms", statistics.median(s["search"]), "ms", runs=args.runs)
                emit(kind, "rss_mb", tree_rss_mb(server.proc.pid), "MB")
            if args.autolog and "tracklet" in servers:
                rest, local = [], []
                for i in range(args.rounds):
                    rest.append(autolog_round(servers["tracklet"].url))
                    local.append(autolog_round(f"sqlite:///{workdir}/autolog-{i}.db"))
                ratio = statistics.median(rest) / statistics.median(local)
                emit(
                    "tracklet",
                    "xgb_autolog_s",
                    statistics.median(rest),
                    "s",
                    sqlite_s=round(statistics.median(local), 3),
                    rest_over_sqlite=round(ratio, 3),
                )
        finally:
            for server in servers.values():
                if getattr(server, "proc", None) is not None:
                    server.stop()


if __name__ == "__main__":
    main()
