"""Params of a Spark ML estimator, flattened the way MLflow logs them, and its stage hierarchy.

Every nested ``Params`` instance (Pipeline stages, ``OneVsRest.classifier``, a tuning estimator's
``estimator`` and ``evaluator``, any Params-valued param) gets a *stage name*: its class name, or
``<Class>_<k>`` (k = 1, 2, ... in depth-first order) when the class occurs more than once. The estimator's
own params are logged by their plain name, nested ones as ``<StageName>.<param>``; a Pipeline's ``stages``
is the list of stage names, a Params-valued param the stage name of its value. A tuning estimator's
``estimatorParamMaps`` are not params: they go to ``estimator_info.json`` (and its ``estimator``'s params to
the child runs), like MLflow.
"""

from __future__ import annotations

from collections import Counter


def is_tuning(stage) -> bool:
    """CrossValidator or TrainValidationSplit."""
    from pyspark.ml.tuning import CrossValidator, TrainValidationSplit

    return isinstance(stage, (CrossValidator, TrainValidationSplit))


def _defined(stage) -> dict:
    """``{param name: value}`` of the params ``stage`` has a value or default for (params sorted by name)."""
    return {p.name: stage.getOrDefault(p) for p in stage.params if stage.isDefined(p)}


def _nested(stage) -> dict:
    from pyspark.ml.param import Params

    return {k: v for k, v in _defined(stage).items() if isinstance(v, Params)}


def traverse(stage):
    """``stage`` and every stage nested in it, depth first (Pipeline stages, then Params-valued params)."""
    from pyspark.ml import Pipeline

    yield stage
    children = stage.getStages() if isinstance(stage, Pipeline) else _nested(stage).values()
    for child in children:
        yield from traverse(child)


def stage_names(estimator) -> dict[str, str]:
    """``{uid: stage name}`` for ``estimator`` and everything nested in it."""
    order = []
    for stage in traverse(estimator):
        if stage.uid not in dict(order):
            order.append((stage.uid, type(stage).__name__))
    totals = Counter(name for _, name in order)
    seen: Counter = Counter()
    names = {}
    for uid, name in order:
        seen[name] += 1
        names[uid] = f"{name}_{seen[name]}" if totals[name] > 1 else name
    return names


def flat_params(stage, names: dict[str, str], prefix: bool = False) -> dict:
    """The params of ``stage`` and of its nested stages, flattened with stage-name prefixes."""
    from pyspark.ml import Pipeline
    from pyspark.ml.param import Params

    head = f"{names[stage.uid]}." if prefix else ""
    out: dict = {}
    for name, value in _defined(stage).items():
        key = head + name
        if isinstance(stage, Pipeline) and name == "stages":
            out[key] = [names[s.uid] for s in stage.getStages()]
            for sub in stage.getStages():
                out.update(flat_params(sub, names, prefix=True))
        elif is_tuning(stage) and name == "estimatorParamMaps":
            continue
        elif is_tuning(stage) and name == "estimator":
            out[key] = names[value.uid]  # its params go to estimator_info.json and the child runs
        elif isinstance(value, Params):
            out[key] = names[value.uid]
            out.update(flat_params(value, names, prefix=True))
        else:
            out[key] = value
    return out


def hierarchy(stage, names: dict[str, str]) -> dict:
    """The ``hierarchy`` tree of ``estimator_info.json``."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    node: dict = {"name": names[stage.uid]}
    if isinstance(stage, Pipeline):
        node["stages"] = [hierarchy(s, names) for s in stage.getStages()]
    elif isinstance(stage, OneVsRest):
        node["classifier"] = hierarchy(stage.getClassifier(), names)
    elif is_tuning(stage):
        node["evaluator"] = hierarchy(stage.getEvaluator(), names)
        node["tuned_estimator"] = hierarchy(stage.getEstimator(), names)
    elif _nested(stage):
        node["params"] = {k: hierarchy(v, names) for k, v in _nested(stage).items()}
    return node


def tuning_param_maps(search, names: dict[str, str]) -> list[dict]:
    """A tuning estimator's param maps keyed ``<StageName>.<param>``."""
    maps = []
    for param_map in search.getEstimatorParamMaps():
        row = {}
        for param, value in param_map.items():
            if param.parent not in names:
                raise ValueError(f"the tuning param map has a param {param} of a stage outside the tuned estimator")
            row[f"{names[param.parent]}.{param.name}"] = value
        maps.append(row)
    return maps


def estimator_info(estimator, names: dict[str, str]) -> dict | None:
    """The ``estimator_info.json`` content, or None for a plain estimator with nothing nested."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import OneVsRest

    info: dict = {}
    if isinstance(estimator, (Pipeline, OneVsRest)) or is_tuning(estimator) or _nested(estimator):
        info["hierarchy"] = hierarchy(estimator, names)
    for stage in traverse(estimator):
        if is_tuning(stage):
            info[names[stage.uid]] = {
                "tuning_parameter_map_list": tuning_param_maps(stage, names),
                "tuned_estimator_parameter_map": flat_params(stage.getEstimator(), names, prefix=True),
            }
    return info or None


def estimator_tags(estimator) -> dict[str, str]:
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}
