"""TensorFlow autologging and Keras models, as ``mlflow.tensorflow``: ``autolog``, ``save_model``, ``log_model``,
``load_model``.

One integration with ``tracklet.keras`` under MLflow's other name: ``autolog()`` patches Keras ``fit`` (on any
backend, and legacy ``tf_keras``) and captures ``tf.summary.scalar`` calls made during a run; models are saved
in the ``keras`` flavor (``.keras`` format). ``load_model`` also reads Keras models MLflow saved with
``mlflow.tensorflow``. ``tf.estimator`` no longer exists in TensorFlow >= 2.16 and is not supported.
"""

from __future__ import annotations

from tracklet.keras import FLAVOR_NAME, autolog, get_default_pip_requirements, load_model, log_model, save_model

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
