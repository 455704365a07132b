"""JSON <-> entities, in MLflow's REST shapes (protobuf JSON mapping); shared by ``stores/rest.py`` and ``server/``.

Conventions of that mapping that matter here: tags, params and metrics are lists of ``{"key", "value"}``
objects; unset fields are omitted; int64 fields may arrive as numbers or numeric strings; a double that is
NaN or infinite travels as the string ``"NaN"``, ``"Infinity"`` or ``"-Infinity"`` (bare ``NaN`` is not JSON).
"""

from __future__ import annotations

import math

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
    make_run_data,
)

_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf, "nan": math.nan}


def float_to_json(value: float):
    """A double as protobuf JSON writes it: a number, or one of the strings for NaN and the infinities."""
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def float_from_json(value, field: str = "value") -> float:
    """Parse a double: a JSON number, a numeric string or NaN/Infinity/-Infinity; bool and the rest are rejected."""
    if isinstance(value, bool) or value is None:
        raise InvalidParameterValue(f"Invalid value {value!r} for field '{field}': expected a number")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        if value in _SPECIAL_FLOATS:
            return _SPECIAL_FLOATS[value]
        try:
            return float(value)
        except ValueError:
            pass
    raise InvalidParameterValue(f"Invalid value {value!r} for field '{field}': expected a number")


def int_from_json(value, field: str) -> int:
    """Parse an int64: a JSON integer (or integral float) or a decimal string; bool is rejected."""
    if isinstance(value, bool) or value is None:
        raise InvalidParameterValue(f"Invalid value {value!r} for field '{field}': expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit() and len(text) <= 20:
            return int(text)
    raise InvalidParameterValue(f"Invalid value {value!r} for field '{field}': expected an integer")


def str_from_json(value, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidParameterValue(f"Invalid value {value!r} for field '{field}': expected a string")
    return value


def _items(value, field: str) -> list[dict]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidParameterValue(f"Invalid value for field '{field}': expected a list of objects")
    return value


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


# ------------------------------------------------------------------ key/value entities


def kv_to_json(items) -> list[dict]:
    return [{"key": i.key, "value": i.value} for i in items]


def tags_from_json(value, field: str = "tags") -> list[RunTag]:
    """``[{"key", "value"}]`` -> RunTags; the key must be a string, a missing value is ''."""
    out = []
    for item in _items(value, field):
        key = str_from_json(item.get("key"), f"{field}.key")
        raw = item.get("value", "")
        out.append(RunTag(key, raw if isinstance(raw, str) else _scalar_text(raw, f"{field}.value")))
    return out


def params_from_json(value, field: str = "params") -> list[Param]:
    return [Param(t.key, t.value) for t in tags_from_json(value, field)]


def _scalar_text(raw, field: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        return str(raw)
    raise InvalidParameterValue(f"Invalid value {raw!r} for field '{field}': expected a string")


def metric_to_json(m: Metric) -> dict:
    return {"key": m.key, "value": float_to_json(m.value), "timestamp": m.timestamp, "step": m.step}


def metric_from_json(item: dict, field: str = "metrics") -> Metric:
    if not isinstance(item, dict):
        raise InvalidParameterValue(f"Invalid value for field '{field}': expected an object")
    key = str_from_json(item.get("key"), f"{field}.key")
    if "value" not in item:
        raise InvalidParameterValue(f"Missing value for required field '{field}.value' (metric '{key}')")
    value = float_from_json(item["value"], f"{field}.value")
    if item.get("timestamp") is None:
        raise InvalidParameterValue(f"Missing value for required field '{field}.timestamp' (metric '{key}')")
    timestamp = int_from_json(item["timestamp"], f"{field}.timestamp")
    step = int_from_json(item["step"], f"{field}.step") if item.get("step") is not None else 0
    return Metric(key, value, timestamp, step)


def metrics_from_json(value, field: str = "metrics") -> list[Metric]:
    return [metric_from_json(item, field) for item in _items(value, field)]


# ------------------------------------------------------------------ experiments


def experiment_to_json(exp: Experiment) -> dict:
    out = {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
    }
    if exp.tags:
        out["tags"] = [{"key": k, "value": v} for k, v in exp.tags.items()]
    return _drop_none(out)


def experiment_from_json(d: dict) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]),
        name=d.get("name", ""),
        artifact_location=d.get("artifact_location", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        tags={t.key: t.value for t in tags_from_json(d.get("tags"))},
        creation_time=_opt_int(d.get("creation_time"), "creation_time"),
        last_update_time=_opt_int(d.get("last_update_time"), "last_update_time"),
    )


def _opt_int(value, field: str) -> int | None:
    return None if value is None else int_from_json(value, field)


# ------------------------------------------------------------------ runs


def run_info_to_json(info: RunInfo) -> dict:
    return _drop_none(
        {
            "run_id": info.run_id,
            "run_uuid": info.run_id,
            "run_name": info.run_name,
            "experiment_id": info.experiment_id,
            "user_id": info.user_id,
            "status": info.status,
            "start_time": info.start_time,
            "end_time": info.end_time,
            "artifact_uri": info.artifact_uri,
            "lifecycle_stage": info.lifecycle_stage,
        }
    )


def run_info_from_json(d: dict) -> RunInfo:
    return RunInfo(
        run_id=d.get("run_id") or d.get("run_uuid"),
        experiment_id=str(d.get("experiment_id", "")),
        user_id=d.get("user_id", ""),
        status=d.get("status", "RUNNING"),
        start_time=_opt_int(d.get("start_time"), "start_time"),
        end_time=_opt_int(d.get("end_time"), "end_time"),
        artifact_uri=d.get("artifact_uri", ""),
        lifecycle_stage=d.get("lifecycle_stage", "active"),
        run_name=d.get("run_name", ""),
    )


def dataset_input_to_json(item: DatasetInput) -> dict:
    out = {"dataset": _drop_none(item.dataset.to_dict())}
    if item.tags:
        out["tags"] = kv_to_json(item.tags)
    return out


def dataset_inputs_from_json(value, field: str = "datasets") -> list[DatasetInput]:
    out = []
    for item in _items(value, field):
        ds = item.get("dataset")
        if not isinstance(ds, dict):
            raise InvalidParameterValue(f"Invalid value for field '{field}.dataset': expected an object")
        fields = {}
        for name in ("name", "digest", "source_type", "source", "schema", "profile"):
            raw = ds.get(name)
            fields[name] = None if raw is None else str_from_json(raw, f"{field}.dataset.{name}")
        dataset = Dataset(
            name=fields["name"],
            digest=fields["digest"],
            source_type=fields["source_type"] or "",
            source=fields["source"] or "",
            schema=fields["schema"],
            profile=fields["profile"],
        )
        out.append(DatasetInput(dataset, tuple(tags_from_json(item.get("tags"), f"{field}.tags"))))
    return out


def run_to_json(run: Run) -> dict:
    data: dict = {}
    if run.data.metric_objs:
        data["metrics"] = [metric_to_json(m) for m in run.data.metric_objs]
    if run.data.params:
        data["params"] = [{"key": k, "value": v} for k, v in run.data.params.items()]
    if run.data.tags:
        data["tags"] = [{"key": k, "value": v} for k, v in run.data.tags.items()]
    out = {"info": run_info_to_json(run.info), "data": data, "inputs": {}}
    if run.inputs.dataset_inputs:
        out["inputs"] = {"dataset_inputs": [dataset_input_to_json(i) for i in run.inputs.dataset_inputs]}
    return out


def run_from_json(d: dict) -> Run:
    data = d.get("data") or {}
    metrics = metrics_from_json(data.get("metrics"))
    run_data: RunData = make_run_data(
        metrics,
        {p.key: p.value for p in params_from_json(data.get("params"))},
        {t.key: t.value for t in tags_from_json(data.get("tags"))},
    )
    inputs = RunInputs(tuple(dataset_inputs_from_json((d.get("inputs") or {}).get("dataset_inputs"))))
    return Run(run_info_from_json(d.get("info") or {}), run_data, inputs)


# ------------------------------------------------------------------ logged models (MLflow 3)

_MODEL_STATUS_TO_JSON = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}


def logged_model_to_json(model) -> dict:
    info = _drop_none(
        {
            "experiment_id": model.experiment_id,
            "model_id": model.model_id,
            "name": model.name,
            "artifact_uri": model.artifact_location,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status": _MODEL_STATUS_TO_JSON.get(model.status, "LOGGED_MODEL_STATUS_UNSPECIFIED"),
            "status_message": model.status_message,
        }
    )
    if model.tags:
        info["tags"] = [{"key": k, "value": v} for k, v in model.tags.items()]
    data = {"params": [{"key": k, "value": v} for k, v in model.params.items()]} if model.params else {}
    return {"info": info, "data": data}


def logged_model_from_json(d: dict):
    from tracklet.tracking.stores.logged_models import PENDING, LoggedModel, normalize_status

    info, data = d.get("info") or {}, d.get("data") or {}
    status = info.get("status")
    return LoggedModel(
        model_id=info.get("model_id", ""),
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("name", ""),
        artifact_location=info.get("artifact_uri", ""),
        creation_timestamp=_opt_int(info.get("creation_timestamp_ms"), "creation_timestamp_ms"),
        last_updated_timestamp=_opt_int(info.get("last_updated_timestamp_ms"), "last_updated_timestamp_ms"),
        status=normalize_status(status) if status and "UNSPECIFIED" not in str(status) else PENDING,
        model_type=info.get("model_type"),
        source_run_id=info.get("source_run_id"),
        status_message=info.get("status_message"),
        tags={t.key: t.value for t in tags_from_json(info.get("tags"))},
        params={p.key: p.value for p in params_from_json(data.get("params"))},
    )


def model_outputs_to_json(outputs) -> dict:
    """``[(model_id, step)]`` -> a Run's ``outputs`` object."""
    return {"model_outputs": [{"model_id": m, "step": s} for m, s in outputs]} if outputs else {}
