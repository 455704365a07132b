"""A tracking server and a remote client: start `tracklet server`, autolog a fit to it over HTTP, read it back.

pip install "tracklet[server,sklearn]"
python examples/remote_server.py            # starts its own server on a free port, in a temporary folder
"""

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import tracklet

with socket.socket() as s:  # a free port on this machine
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
workdir = tempfile.mkdtemp(prefix="tracklet-server-")
server = subprocess.Popen([sys.executable, "-m", "tracklet", "server", "--port", str(port)], cwd=workdir)
url = f"http://127.0.0.1:{port}"
for _ in range(300):  # wait until it answers
    try:
        urllib.request.urlopen(f"{url}/health", timeout=1)
        break
    except OSError:
        time.sleep(0.1)

try:
    tracklet.set_tracking_uri(url)  # or: export TRACKLET_TRACKING_URI=http://host:5000 (MLFLOW_TRACKING_URI works too)
    tracklet.set_experiment("remote-demo")
    tracklet.autolog()
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    Ridge(alpha=0.5).fit(X, y)  # params, metrics and the model go to the server (artifacts through its proxy)
    run = tracklet.last_active_run()
    print(f"run {run.info.run_id}: {sorted(run.data.metrics)}; artifacts at {run.info.artifact_uri}")
    try:
        import mlflow  # the real MLflow client reads the same server

        print("mlflow sees params:", mlflow.MlflowClient(url).get_run(run.info.run_id).data.params)
    except ImportError:
        pass
finally:
    server.terminate()
    server.wait()
