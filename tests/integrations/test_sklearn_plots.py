"""scikit-learn classifier plots are drawn without matplotlib (issue 15: they were most of autolog's
overhead on a first fit) and still record what scikit-learn's displays show."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytest.importorskip("sklearn")
PIL = pytest.importorskip("PIL.Image")

import tracklet  # noqa: E402

_SCRIPT = """
import sys, tracklet
tracklet.set_tracking_uri({uri!r})
tracklet.autolog(log_models=False)
import numpy as np
from sklearn.linear_model import LogisticRegression
X = np.random.default_rng(0).normal(size=(80, 3))
LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))
run = tracklet.last_active_run()
print("matplotlib" in sys.modules, sorted(a.path for a in tracklet.MlflowClient().list_artifacts(run.info.run_id)))
"""


def test_a_classifier_fit_imports_no_matplotlib_and_logs_the_three_plots(tmp_path):
    script = _SCRIPT.format(uri=f"sqlite:///{tmp_path}/t.db")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path)
    loaded, artifacts = out.stdout.strip().split(" ", 1)
    assert loaded == "False"
    for name in ("training_confusion_matrix.png", "training_roc_curve.png", "training_precision_recall_curve.png"):
        assert name in artifacts


@pytest.mark.parametrize("n_classes", [2, 4])
def test_plots_are_real_images(tmp_path, n_classes):
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4))
    y = np.digitize(X[:, 0], np.linspace(-1, 1, n_classes - 1))
    tracklet.sklearn.autolog(log_models=False)
    RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y, sample_weight=np.linspace(0.5, 2, 120))
    run_id = tracklet.last_active_run().info.run_id
    client = tracklet.MlflowClient()
    names = ["training_confusion_matrix.png"]
    if n_classes == 2:
        names += ["training_roc_curve.png", "training_precision_recall_curve.png"]
    for name in names:
        path = client.download_artifacts(run_id, name, str(tmp_path))
        with PIL.open(path) as img:
            assert img.format == "PNG" and img.size == (600, 500)
            assert len(img.convert("RGB").getcolors(maxcolors=1 << 20)) > 5  # something was drawn
        os.remove(path)
