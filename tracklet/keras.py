"""Keras models and autologging, as ``mlflow.keras``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Keras 3 on any backend (TensorFlow, JAX, PyTorch) and the legacy ``tf_keras``. ``tracklet.tensorflow`` is the
same integration and flavor under MLflow's other name. Importing this module imports neither Keras nor the
autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.autolog.core import FrameworkAutolog as _FrameworkAutolog
from tracklet.flavors.keras import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)

autolog = _FrameworkAutolog("keras")
"""Enable (or with ``disable=True`` revert) Keras / TensorFlow autologging; see ``tracklet.autolog.keras.autolog``."""

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
