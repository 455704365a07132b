"""Logged models (MLflow 3's first-class models, id ``m-<32 hex>``), shared by every store.

A store exposes them as ``store.logged_models``: a :class:`LoggedModelStore` whose public methods hold the
rules (validation, ids, artifact location ``<experiment artifact location>/models/<model_id>/artifacts``,
lifecycle, search) and whose few ``_primitives`` each backend implements: SQL tables
(``stores/sql/logged_models.py``), MLflow 3's folder layout in an ``mlruns`` tree (``file_logged_models.py``),
or a tracking server (``rest_logged_models.py``, which overrides the public methods instead).
"""

from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass, field

from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from tracklet.tracking import search
from tracklet.tracking import validation as V
from tracklet.tracking.entities import LifecycleStage, PagedList
from tracklet.tracking.stores.base import now_ms

PENDING, READY, FAILED = "PENDING", "READY", "FAILED"
STATUSES = (PENDING, READY, FAILED)
MAX_NAME_LENGTH = 500
MAX_SEARCH_RESULTS = 1000
# tag of a model logged with ``log_model(artifact_path=...)``: its files are ``runs:/<source run>/<path>``
RUN_ARTIFACTS_TAG = "tracklet.model.run_artifacts"

# attributes a logged-model filter or order_by may name (timestamps reuse the numeric attribute names)
ATTRIBUTES = {
    "name": "name",
    "model_id": "model_id",
    "model_type": "model_type",
    "status": "status",
    "source_run_id": "source_run_id",
    "experiment_id": "experiment_id",
    "creation_timestamp": "creation_time",
    "creation_time": "creation_time",
    "last_updated_timestamp": "last_update_time",
    "last_update_time": "last_update_time",
}
_FIELD_OF = {"creation_time": "creation_timestamp", "last_update_time": "last_updated_timestamp"}


@dataclass(frozen=True)
class LoggedModel:
    """A model logged with ``log_model(name=...)``: its artifacts live at ``artifact_location``."""

    model_id: str
    experiment_id: str
    name: str
    artifact_location: str
    creation_timestamp: int
    last_updated_timestamp: int
    status: str = PENDING
    model_type: str | None = None
    source_run_id: str | None = None
    status_message: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    lifecycle_stage: str = LifecycleStage.ACTIVE

    @property
    def model_uri(self) -> str:
        return f"models:/{self.model_id}"


def normalize_status(status) -> str:
    """``READY``/``FAILED``/``PENDING``, also MLflow's ``LOGGED_MODEL_READY`` / ``LOGGED_MODEL_UPLOAD_FAILED``."""
    text = str(status or "").upper().removeprefix("LOGGED_MODEL_")
    text = {"UPLOAD_FAILED": FAILED}.get(text, text)
    if text not in STATUSES:
        raise InvalidParameterValue(f"Invalid logged model status {status!r}: must be one of {', '.join(STATUSES)}")
    return text


def validate_name(name) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(f"Invalid logged model name {name!r}: a non-empty string of <= {MAX_NAME_LENGTH}")
    if any(ch in name for ch in "/:%\"'"):
        raise InvalidParameterValue(f"Invalid logged model name {name!r}: may not contain / : % \" or '")
    return name


def _value(model: LoggedModel, kind: str, key: str):
    if kind == search.TAG:
        return model.tags.get(key)
    if kind == search.PARAM:
        return model.params.get(key)
    if kind == search.ATTRIBUTE:
        return getattr(model, _FIELD_OF.get(key, key), None)
    return None


def parse_order_by(order_by) -> list[search.OrderBy]:
    """MLflow's ``[{"field_name": "creation_timestamp", "ascending": false}]`` or ``["name DESC"]`` strings."""
    out = []
    for item in order_by or []:
        if isinstance(item, dict):
            name, ascending = item.get("field_name"), item.get("ascending", True)
        else:
            name, _, direction = str(item).strip().partition(" ")
            ascending = direction.strip().upper() != "DESC"
        if not isinstance(name, str) or not isinstance(ascending, bool):
            raise InvalidParameterValue(f"Invalid logged model order_by {item!r}")
        prefix, _, key = name.rpartition(".")
        kind = {"tags": search.TAG, "params": search.PARAM, "": search.ATTRIBUTE}.get(prefix)
        if kind == search.ATTRIBUTE:
            if key not in ATTRIBUTES:
                raise InvalidParameterValue(f"Invalid logged model order_by field {name!r}")
            key = ATTRIBUTES[key]
        if kind is None or not key:
            raise InvalidParameterValue(f"Invalid logged model order_by field {name!r}")
        out.append(search.OrderBy(kind, key, ascending))
    return out


class LoggedModelStore(abc.ABC):
    """The logged models of one tracking ``store`` (used for experiments and runs it must check)."""

    def __init__(self, store):
        self.store = store

    # ------------------------------------------------------------------ the public API
    def create(self, experiment_id, name=None, source_run_id=None, tags=None, params=None, model_type=None):
        """A new PENDING model; its artifacts go to ``<experiment artifact location>/models/<id>/artifacts``."""
        experiment = self.store.get_experiment(V.validate_experiment_id(experiment_id))
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidState(f"Cannot create a logged model in deleted experiment {experiment_id}")
        if source_run_id:
            self.store.get_run(V.validate_run_id(source_run_id))
        from tracklet.tracking.system_tags import generate_run_name

        name = validate_name(name) if name else generate_run_name()
        model_id = f"m-{uuid.uuid4().hex}"
        now = now_ms()
        model = LoggedModel(
            model_id=model_id,
            experiment_id=experiment.experiment_id,
            name=name,
            artifact_location=f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
            creation_timestamp=now,
            last_updated_timestamp=now,
            model_type=None if model_type is None else str(model_type),
            source_run_id=source_run_id or None,
            tags=self._valid_tags(tags),
            params=self._valid_params(params),
        )
        self._insert(model)
        return self.get(model_id)

    def get(self, model_id, allow_deleted: bool = False) -> LoggedModel:
        model = self._load(model_id) if isinstance(model_id, str) and model_id else None
        if model is None or (model.lifecycle_stage == LifecycleStage.DELETED and not allow_deleted):
            raise ResourceDoesNotExist(f"Logged model '{model_id}' not found")
        return model

    def finalize(self, model_id, status) -> LoggedModel:
        self.get(model_id)
        self._update(model_id, status=normalize_status(status), last_updated_timestamp=now_ms())
        return self.get(model_id)

    def delete(self, model_id) -> None:
        self.get(model_id)
        self._update(model_id, lifecycle_stage=LifecycleStage.DELETED, last_updated_timestamp=now_ms())

    def set_tags(self, model_id, tags) -> None:
        self.get(model_id)
        self._set_tags(model_id, self._valid_tags(tags))

    def delete_tag(self, model_id, key) -> None:
        if key not in self.get(model_id).tags:
            raise ResourceDoesNotExist(f"Logged model '{model_id}' has no tag '{key}'")
        self._delete_tag(model_id, key)

    def log_params(self, model_id, params) -> None:
        self.get(model_id)
        self._set_params(model_id, self._valid_params(params))

    def search(self, experiment_ids, filter_string=None, max_results=None, order_by=None, page_token=None):
        """Active models of ``experiment_ids`` matching ``filter_string`` (attributes, tags., params.), paged."""
        max_results = V.validate_max_results(max_results or 100, MAX_SEARCH_RESULTS)
        ids = [V.validate_experiment_id(e) for e in experiment_ids or []]
        comparisons = search.parse_entity_filter(filter_string, ATTRIBUTES)
        models = [
            m
            for m in self._load_all(ids)
            if m.lifecycle_stage == LifecycleStage.ACTIVE
            and all(search.compare(c.op, _value(m, c.kind, c.key), c.value) for c in comparisons)
        ]
        default = [search.OrderBy(search.ATTRIBUTE, "creation_time", False), search.OrderBy("attribute", "model_id")]
        ordered = search.sort_entities(models, parse_order_by(order_by) + default, _value)
        page, token = search.paginate(ordered, max_results, page_token)
        return PagedList(page, token)

    def log_outputs(self, run_id, outputs) -> None:
        """Link ``[(model_id, step)]`` to ``run_id`` as its outputs (the run writes them: it must be active)."""
        run = self.store.get_run(V.validate_run_id(run_id))
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise InvalidState(f"Run {run_id} is deleted: its outputs cannot change")
        checked = []
        for model_id, step in outputs:
            self.get(model_id)
            if isinstance(step, bool) or not isinstance(step, int):
                raise InvalidParameterValue(f"Invalid step {step!r} for model output {model_id}: must be an integer")
            checked.append((model_id, step))
        self._add_outputs(run.info.run_id, run.info.experiment_id, checked)

    def run_outputs(self, run_id) -> list[tuple[str, int]]:
        """``[(model_id, step)]`` logged as outputs of ``run_id``."""
        return self._outputs(run_id)

    @staticmethod
    def _valid_tags(tags) -> dict[str, str]:
        return dict(V.validate_tag(k, v) for k, v in (tags or {}).items())

    @staticmethod
    def _valid_params(params) -> dict[str, str]:
        return dict(V.validate_param(k, v) for k, v in (params or {}).items())

    # ------------------------------------------------------------------ what a backend implements
    @abc.abstractmethod
    def _insert(self, model: LoggedModel) -> None: ...

    @abc.abstractmethod
    def _load(self, model_id: str) -> LoggedModel | None: ...

    @abc.abstractmethod
    def _load_all(self, experiment_ids: list[str]) -> list[LoggedModel]: ...

    @abc.abstractmethod
    def _update(self, model_id: str, **fields) -> None: ...

    @abc.abstractmethod
    def _set_tags(self, model_id: str, tags: dict[str, str]) -> None: ...

    @abc.abstractmethod
    def _delete_tag(self, model_id: str, key: str) -> None: ...

    @abc.abstractmethod
    def _set_params(self, model_id: str, params: dict[str, str]) -> None: ...

    @abc.abstractmethod
    def _add_outputs(self, run_id: str, experiment_id: str, outputs: list[tuple[str, int]]) -> None: ...

    @abc.abstractmethod
    def _outputs(self, run_id: str) -> list[tuple[str, int]]: ...


# ------------------------------------------------------------------ model URIs (used by flavors' loaders)


def model_uri_location(client, model_uri: str) -> str:
    """``models:/<model_id>[/<path>]`` -> the artifact location of that logged model (plus the path)."""
    rest = model_uri[len("models:") :].lstrip("/")
    model_id, _, path = rest.partition("/")
    if not model_id.startswith("m-"):
        raise InvalidParameterValue(
            f"Cannot load {model_uri!r}: only models:/<model_id> (a logged model, m-...) is supported; "
            "registered model names need a model registry, which tracklet does not have"
        )
    models = getattr(client.store, "logged_models", None)
    if models is None:
        raise InvalidParameterValue(f"Cannot load {model_uri!r}: the {type(client.store).__name__} keeps no models")
    model = models.get(model_id)
    run_files = model.tags.get(RUN_ARTIFACTS_TAG, "")  # log_model(artifact_path=...): the run's
    if model.source_run_id and run_files.startswith(f"runs:/{model.source_run_id}/"):  # own artifacts only
        location = run_files.rstrip("/")
    else:
        location = model.artifact_location.rstrip("/")
    return f"{location}/{V.validate_artifact_path(path)}" if path.strip("/") else location


def run_model_location(client, run_id: str, rel_path: str) -> str | None:
    """MLflow 3 writes ``log_model(name=...)`` into a logged model, not the run: ``runs:/<run_id>/<name>/<path>``
    then names that model's files. The location, or None when the run has no model of that name."""
    name, _, path = rel_path.partition("/")
    models = getattr(client.store, "logged_models", None)
    if models is None or not name or any(ch in name for ch in "'\"\\"):
        return None
    outputs = {model_id for model_id, _ in models.run_outputs(run_id)}
    experiment_id = client.get_run(run_id).info.experiment_id
    for model in models.search([experiment_id], f"name = '{name}'", max_results=MAX_SEARCH_RESULTS):
        if model.source_run_id == run_id or model.model_id in outputs:
            location = model.artifact_location.rstrip("/")
            return f"{location}/{path}" if path else location
    return None
