"""What ``--auth basic`` costs per request: ``runs/log-batch`` throughput with and without auth.

    python bench/bench_auth.py                       # 5 interleaved rounds of 3 s per variant
    python bench/bench_auth.py --rounds 3 --seconds 2

Variants, each its own ``tracklet server`` process (SQLite, one worker) on 127.0.0.1:

* ``none``           -- no auth
* ``basic``          -- ``--auth basic``, Basic credentials (bcrypt cost 12), verified credentials cached 30 s
* ``token``          -- ``--auth basic``, a Bearer token (SHA-256 lookup), cached 30 s
* ``basic_nocache``  -- ``--auth basic --auth-cache-seconds 0``: bcrypt on every request (why the cache exists)

4 client threads on keep-alive connections post 10-metric batches to their own run; the user is no admin and has
EDIT through ``--default-permission EDIT``, so every request is checked. Each round starts with one warm-up
request (the credential verified once). Prints one JSON line per variant: median requests/s, p50 and p99 (ms), and
the server process's CPU time per request (steadier than throughput on a shared machine); and
first ``cached_auth_check_us``: the in-process cost of the auth checks of one cached request (median of 5 runs).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from bench_server import free_port

API = "/api/2.0/mlflow"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _tracklet(*args: str, env: dict) -> str:
    return subprocess.run([sys.executable, "-m", "tracklet", *args], env=env, check=True, capture_output=True).stdout


class Variant:
    def __init__(self, name: str, workdir: str):
        self.name, self.port = name, free_port()
        db = f"sqlite:///{workdir}/{name}.db"
        env = dict(os.environ, PYTHONPATH=ROOT, TRACKLET_USER_PASSWORD="bench-password")
        self.headers = {"Content-Type": "application/json"}
        args = [sys.executable, "-m", "tracklet", "server", "--port", str(self.port), "--backend-store-uri", db]
        args += ["--artifacts-destination", os.path.join(workdir, name)]
        if name != "none":
            _tracklet("users", "create", "bench", "--backend-store-uri", db, env=env)  # not an admin: checks run
            args += ["--auth", "basic", "--default-permission", "EDIT"]
            args += ["--auth-cache-seconds", "0"] if name == "basic_nocache" else []
            if name == "token":
                out = _tracklet("users", "token", "bench", "--json", "--backend-store-uri", db, env=env)
                self.headers["Authorization"] = "Bearer " + json.loads(out)["token"]
            else:
                self.headers["Authorization"] = "Basic " + base64.b64encode(b"bench:bench-password").decode()
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"{name}: the server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", self.port)
        self.run_ids = [self.call(conn, "/runs/create", {})["run"]["info"]["run_id"] for _ in range(4)]
        conn.close()

    def call(self, conn, endpoint: str, body: dict) -> dict:
        conn.request("POST", API + endpoint, body=json.dumps(body).encode(), headers=self.headers)
        response = conn.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"{self.name} {endpoint}: HTTP {response.status} {payload[:200]!r}")
        return json.loads(payload)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used (from /proc: steadier than wall time when shared)."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def round(self, seconds: float) -> tuple[float, float, float, float]:
        """(requests/s, p50 ms, p99 ms, server CPU ms per request) of 4 threads posting log-batch for ``seconds``."""
        latencies: list[list[float]] = [[] for _ in self.run_ids]
        warm = http.client.HTTPConnection("127.0.0.1", self.port)  # the steady state: credentials verified
        self.call(warm, "/runs/log-batch", {"run_id": self.run_ids[0]})
        warm.close()
        stop = time.perf_counter() + seconds

        def worker(i: int) -> None:
            conn, step = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120), 0
            while time.perf_counter() < stop:
                ts = int(time.time() * 1000)
                metrics = [{"key": f"m{k}", "value": k + step, "timestamp": ts, "step": step} for k in range(10)]
                t0 = time.perf_counter()
                self.call(conn, "/runs/log-batch", {"run_id": self.run_ids[i], "metrics": metrics})
                latencies[i].append(time.perf_counter() - t0)
                step += 1
            conn.close()

        start, cpu = time.perf_counter(), self.cpu_seconds()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(self.run_ids))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        every = sorted(x for per in latencies for x in per)
        pick = lambda q: every[min(len(every) - 1, int(len(every) * q))] * 1000  # noqa: E731
        cpu_ms = (self.cpu_seconds() - cpu) * 1000 / len(every)
        return len(every) / (time.perf_counter() - start), pick(0.5), pick(0.99), cpu_ms

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def fast_path_us(workdir: str, n: int = 20000) -> float:
    """Microseconds of the auth work one cached ``log-batch`` request does in the server: the header's HMAC and
    cache lookup, the run's experiment, the permission lookup (all in memory after the first request)."""
    sys.path.insert(0, ROOT)
    from tracklet.server.auth import set_current_principal
    from tracklet.server.auth_basic import BasicAuth
    from tracklet.server.auth_gate import AuthGate
    from tracklet.server.auth_store import AuthStore
    from tracklet.tracking.stores.sql import SqlStore

    uri = f"sqlite:///{workdir}/micro.db"
    store, users = SqlStore(uri, "mlflow-artifacts:/"), AuthStore(uri)
    users.create_user("bench", "bench-password")
    auth = BasicAuth(users, default_permission="EDIT")
    gate = AuthGate(type("Ctx", (), {"store": store})(), auth)
    run_id = store.create_run("0", "bench", 0, [], "r").info.run_id
    header = "Basic " + base64.b64encode(b"bench:bench-password").decode()
    set_current_principal(auth.authenticate(header))
    start = time.perf_counter()
    for _ in range(n):
        principal = auth.authenticate_cached(header)
        gate.require(principal, gate.experiment_of_run(run_id), "update")
    elapsed = time.perf_counter() - start
    store.close()
    users.close()
    return elapsed / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--variants", default="none,basic,token,basic_nocache")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        micro = statistics.median(fast_path_us(workdir + f"/{i}") for i in range(5))
        print(json.dumps({"figure": "cached_auth_check_us", "value": round(micro, 2), "unit": "us"}), flush=True)
        variants = [Variant(name, workdir) for name in opts.variants.split(",")]
        results: dict[str, list] = {v.name: [] for v in variants}
        try:
            for _ in range(opts.rounds):  # interleaved, so machine noise hits every variant alike
                for v in variants:
                    results[v.name].append(v.round(opts.seconds))
        finally:
            for v in variants:
                v.stop()
    for name, rounds in results.items():
        rps, p50, p99, cpu = (statistics.median(r[i] for r in rounds) for i in range(4))
        line = {"variant": name, "log_batch_rps": round(rps, 1), "p50_ms": round(p50, 2), "p99_ms": round(p99, 1)}
        line["server_cpu_ms_per_request"] = round(cpu, 3)
        print(json.dumps(dict(line, rounds_rps=[round(r[0]) for r in rounds], threads=4)), flush=True)


if __name__ == "__main__":
    main()
