"""The patched ``Estimator.fit``: one run per top-level fit of a Spark ML estimator.

Before training: the flattened params (:mod:`.params`), the tags ``estimator_name`` / ``estimator_class``,
``estimator_info.json`` and the training DataFrame as a dataset input -- queued together, one batched write.
After: the tuning results and child runs (:mod:`.tuning`), the model (``model/``, and ``best_model/`` for a
tuning model) and the link from the model to its run for post-training metrics.

Not runs of their own: estimators in ``pyspark.ml.feature`` (fitted directly; inside a Pipeline they are part
of its run), ``fit(df, params=[...])`` with a list of param maps (warned about once: it fits many models), and
every fit nested in a logged one (Pipeline stages, tuning and OneVsRest fits -- also those Spark runs in its
thread pool, which get the autolog context handed over by :func:`handing_over`).
"""

from __future__ import annotations

import functools

from tracklet.autolog import kit, session
from tracklet.autolog.patching import PatchHooks
from tracklet.autolog.pyspark import model as M
from tracklet.autolog.pyspark import params as P
from tracklet.autolog.pyspark import post_metrics, tuning
from tracklet.autolog.pyspark.common import INTEGRATION, PySparkOptions, class_name, jsonable
from tracklet.autolog.pyspark.datasets import dataset_input

FEATURE_MODULE = "pyspark.ml.feature."


def _params_arg(args: tuple, kwargs: dict):
    return args[1] if len(args) > 1 else kwargs.get("params")


class FitHooks(PatchHooks):
    """``pyspark.ml.base.Estimator.fit(dataset, params=None)``."""

    def applies(self, instance, args, kwargs) -> bool:
        if class_name(instance).startswith(FEATURE_MODULE):
            return False
        if isinstance(_params_arg(args, kwargs), (list, tuple)):
            from tracklet.autolog.config import get_config

            session.warn_once(  # no Call yet (applies() runs before one exists): kit.warn needs one
                (INTEGRATION, "param-list"),
                f"tracklet: {class_name(instance)}.fit with a list of param maps fits several models and is not "
                "autologged; call fit once per param map to log each",
                get_config(INTEGRATION).silent,
            )
            return False
        return True

    def before(self, call) -> None:
        df = call.bound.arguments.get("dataset")
        extra = call.bound.arguments.get("params")
        estimator = call.instance.copy(extra) if extra else call.instance
        names = P.stage_names(estimator)
        call.state.update(df=df, estimator=estimator, names=names)
        kit.log_params(call, P.flat_params(estimator, names))
        call.logger.set_tags(P.estimator_tags(estimator))
        info = P.estimator_info(estimator, names)
        if info:
            call.logger.log_dict(jsonable(info), "estimator_info.json")
        if call.config.log_datasets and df is not None:
            kit.log_datasets(call, [dataset_input(df, "train")])

    def after(self, call, spark_model) -> None:
        from pyspark.ml.base import Model

        if not isinstance(spark_model, Model):
            return
        estimator, names, df = call.state["estimator"], call.state["names"], call.state["df"]
        options = kit.options(call.config, PySparkOptions)
        if P.is_tuning(estimator):
            tuning.log_search(call, estimator, spark_model, names)
        if call.config.log_models:
            allowlist = options.allowlist()
            logged = M.log_model(call, spark_model, df, allowlist, registered_model_name=options.registered_model_name)
            if logged and hasattr(spark_model, "bestModel"):
                M.log_model(call, spark_model.bestModel, df, allowlist, artifact_path="best_model")
        if options.log_post_training_metrics:
            post_metrics.register_model(spark_model, call.run_id)


def handing_over(original):
    """Wrap ``pyspark.inheritable_thread_target`` as Spark's tuning and OneVsRest use it: a task it prepares
    inside an autologged fit runs in (a copy of) that fit's autolog context, in whichever pool thread, so its
    nested fits, transforms and evaluations are not logged as runs or metrics of their own."""

    @functools.wraps(original)
    def inheritable_thread_target(f):
        prepared = original(f)
        captured = session.capture_context()
        if captured is None:
            return prepared
        if callable(f):  # decorating a thread target
            return _in_context(captured, prepared)
        return lambda target: _in_context(captured, prepared(target))  # given a session: a decorator

    return inheritable_thread_target


def _in_context(captured, fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        return captured.copy().run(fn, *args, **kwargs)  # a copy: pool threads may run tasks at once

    return run
