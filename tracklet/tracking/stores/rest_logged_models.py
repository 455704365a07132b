"""Logged models through a tracking server (``/api/2.0/mlflow/logged-models``): the REST store's
``logged_models``. The server applies the rules; this side only shapes requests and replies."""

from __future__ import annotations

from urllib.parse import quote

from tracklet.exceptions import ResourceDoesNotExist
from tracklet.tracking import wire
from tracklet.tracking.entities import PagedList
from tracklet.tracking.stores.logged_models import LoggedModel, LoggedModelStore, parse_order_by


def _kv(items: dict | None) -> list[dict]:
    return [{"key": k, "value": "" if v is None else str(v)} for k, v in (items or {}).items()]


class RestLoggedModels(LoggedModelStore):
    """The logged models of a :class:`~tracklet.tracking.stores.rest.RestStore`'s server."""

    def _path(self, model_id: str, suffix: str = "") -> str:
        if not isinstance(model_id, str) or not model_id.replace("-", "").replace("_", "").isalnum():
            raise ResourceDoesNotExist(f"Logged model '{model_id}' not found")  # no id has '/', '.' or '%'
        return f"logged-models/{quote(str(model_id), safe='')}{suffix}"

    def create(self, experiment_id, name=None, source_run_id=None, tags=None, params=None, model_type=None):
        body = {
            "experiment_id": experiment_id,
            "name": name,
            "source_run_id": source_run_id,
            "model_type": model_type,
            "tags": _kv(tags),
            "params": _kv(params),
        }
        return wire.logged_model_from_json(self.store.call("logged-models", body=body, idempotent=False)["model"])

    def get(self, model_id, allow_deleted: bool = False) -> LoggedModel:
        query = {"allow_deleted": "true"} if allow_deleted else {}
        return wire.logged_model_from_json(self.store.call(self._path(model_id), "GET", query)["model"])

    def finalize(self, model_id, status) -> LoggedModel:
        from tracklet.tracking.stores.logged_models import normalize_status

        status = {"READY": "LOGGED_MODEL_READY", "FAILED": "LOGGED_MODEL_UPLOAD_FAILED"}.get(
            normalize_status(status), "LOGGED_MODEL_PENDING"
        )
        body = {"model_id": model_id, "status": status}
        return wire.logged_model_from_json(self.store.call(self._path(model_id), "PATCH", body)["model"])

    def delete(self, model_id) -> None:
        self.store.call(self._path(model_id), "DELETE", {})

    def set_tags(self, model_id, tags) -> None:
        self.store.call(self._path(model_id, "/tags"), "PATCH", {"tags": _kv(tags)})

    def delete_tag(self, model_id, key) -> None:
        self.store.call(self._path(model_id, f"/tags/{quote(str(key), safe='')}"), "DELETE", {})

    def log_params(self, model_id, params) -> None:
        self.store.call(self._path(model_id, "/params"), body={"model_id": model_id, "params": _kv(params)})

    def search(self, experiment_ids, filter_string=None, max_results=None, order_by=None, page_token=None):
        orders = [{"field_name": _field(o), "ascending": o.ascending} for o in parse_order_by(order_by)]
        body = {
            "experiment_ids": [str(e) for e in experiment_ids or []],
            "filter": filter_string,
            "max_results": max_results,
            "order_by": orders,
            "page_token": page_token,
        }
        data = self.store.call("logged-models/search", body=body)
        return PagedList([wire.logged_model_from_json(m) for m in data.get("models", [])], data.get("next_page_token"))

    def log_outputs(self, run_id, outputs) -> None:
        models = [{"model_id": m, "step": s} for m, s in outputs]
        self.store.call("runs/outputs", body={"run_id": run_id, "models": models})

    def run_outputs(self, run_id) -> list[tuple[str, int]]:
        run = self.store.call("runs/get", "GET", {"run_id": run_id})["run"]
        items = (run.get("outputs") or {}).get("model_outputs") or []
        return [(o["model_id"], wire.int_from_json(o.get("step", 0), "step")) for o in items]

    # the server does the storing: the primitives are never reached
    def _insert(self, model):  # pragma: no cover
        raise NotImplementedError

    _load = _load_all = _update = _set_tags = _delete_tag = _set_params = _add_outputs = _outputs = _insert


def _field(order) -> str:
    from tracklet.tracking import search
    from tracklet.tracking.stores.logged_models import ATTRIBUTES

    if order.kind == search.ATTRIBUTE:
        return next(k for k, v in ATTRIBUTES.items() if v == order.key)
    return f"{'tags' if order.kind == search.TAG else 'params'}.{order.key}"
