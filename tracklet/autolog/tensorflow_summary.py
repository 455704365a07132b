"""TensorFlow Core: ``tf.summary.scalar(name, data, step)`` calls become metrics (part of the keras integration).

``tf.summary.scalar`` hands every call to TensorBoard's ``tensorboard.summary.v2.scalar`` (imported on the
first call; TensorFlow >= 2.21 needs the ``tensorboard`` package for summaries): that function is patched when
it is imported, so every alias of ``tf.summary`` (``import tensorflow.summary`` makes a second module object)
is covered without importing TensorBoard early.

A call is captured when it runs eagerly while a run is active (the user's, or the run of an autologged Keras
``fit`` in progress): metric key = the summary's ``name``, value = ``data``, step = ``step`` (or
``tf.summary.experimental.get_step()``, else 0). The original call always runs first and its result is
returned unchanged, so the user's own summary writer keeps working (with no default writer TensorFlow writes
nothing, and the metric is still logged). Calls made by Keras itself (its ``TensorBoard`` callback writes
``epoch_loss`` and friends) are not captured: the Keras integration already logs those values. Calls traced
inside a ``tf.function`` have no value yet and are not captured either.
"""

from __future__ import annotations

import sys

from tracklet.autolog import session
from tracklet.autolog.patching import LightHooks, wrap_light

_OWN_PREFIXES = ("tracklet.", "wrapt", "tensorflow.", "tensorboard.")
_KERAS_PREFIXES = ("keras.", "tf_keras.")


def install(integration: str, summary_v2) -> None:
    """Capture ``tf.summary.scalar`` calls (``summary_v2`` is the imported ``tensorboard.summary.v2``)."""
    wrap_light(integration, summary_v2, "scalar", _ScalarHooks())


def _called_by_keras() -> bool:
    """Whether the code calling ``tf.summary.scalar`` is Keras's (its TensorBoard callback): the first frame
    outside tracklet, wrapt, TensorFlow and TensorBoard."""
    frame = sys._getframe(2)
    for _ in range(8):
        if frame is None:
            return False
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(_OWN_PREFIXES):
            return module.startswith(_KERAS_PREFIXES)
        frame = frame.f_back
    return False


def _argument(args: tuple, kwargs: dict, index: int, name: str):
    return args[index] if len(args) > index else kwargs.get(name)


class _ScalarHooks(LightHooks):
    def before(self, instance, args, kwargs):
        """Where the metric goes: the autologged fit's logger, the user's active run, or nowhere (None)."""
        tf = sys.modules.get("tensorflow")  # TensorBoard's summaries can be imported without TensorFlow
        if tf is None:
            return None
        call = session.current()
        if call is not None and call.logger is not None and call.logging:
            target = call.logger
        else:
            from tracklet.tracking import fluent

            target = fluent.active_run()
        if target is None or _called_by_keras() or not tf.executing_eagerly():
            return None
        return target

    def after(self, target, instance, args, kwargs, result) -> None:
        name = _argument(args, kwargs, 0, "name")
        data = _argument(args, kwargs, 1, "data")
        step = _argument(args, kwargs, 2, "step")
        if step is None:
            step = sys.modules["tensorflow"].summary.experimental.get_step()
        value, step = float(data), int(step) if step is not None else 0
        if isinstance(target, session.RunLogger):
            target.log_metrics({str(name): value}, step=step)
        else:
            from tracklet.tracking import fluent

            fluent.log_metric(str(name), value, step=step, synchronous=False)
