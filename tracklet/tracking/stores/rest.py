"""The REST store: the Store contract over HTTP, for ``http(s)://`` tracking URIs (a tracklet or MLflow server).

It builds requests and parses responses (``tracking/wire.py``); a :class:`~tracklet.tracking.stores._http.Transport`
does the I/O, so the same code runs over sockets and, in tests, against ``create_app`` in-process. Calls that
are idempotent are retried on connection errors, 429 and 5xx; the server's ``{"error_code", "message"}``
becomes the matching TrackletException.

Writes that cannot reach the server (connection refused, reset, timed out) are not lost and do not make the
caller wait: they go to the store's offline spool (``tracking/spool.py``), which replays them when the server
answers again, or leaves them for ``tracklet sync``.
"""

from __future__ import annotations

import functools
import json
import numbers
from urllib.parse import urlparse

from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.tracking import wire
from tracklet.tracking.entities import (
    Experiment,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.tracking.stores._http import (
    HttpRequest,
    StdlibTransport,
    Transport,
    TransportError,
    auth_headers,
    parse_json_response,
    send_with_retries,
)
from tracklet.tracking.stores.base import Store

API = "/api/2.0/mlflow"
HISTORY_PAGE = 25000


def _metric_json(m: Metric) -> dict:
    value = m.value
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        value = wire.float_to_json(float(value))
    step = int(m.step) if isinstance(m.step, numbers.Integral) and not isinstance(m.step, bool) else m.step
    ts = m.timestamp
    if isinstance(ts, numbers.Integral) and not isinstance(ts, bool):
        ts = int(ts)
    return {"key": m.key, "value": value, "timestamp": ts, "step": 0 if step is None else step}


def _text(value) -> str:
    return "" if value is None else str(value)


def _kv(items) -> list[dict]:
    return [{"key": i.key, "value": _text(i.value)} for i in items]


class RestStore(Store):
    """A Store backed by a tracking server at ``uri`` (``http://host:port[/prefix]``)."""

    def __init__(self, uri: str, transport: Transport | None = None, spool: bool = True):
        parsed = urlparse(uri)
        self.uri = uri.rstrip("/")
        self._prefix = parsed.path.rstrip("/")
        self._transport = transport or StdlibTransport(f"{parsed.scheme}://{parsed.netloc}")
        self.artifact_root_uri = "mlflow-artifacts:/"
        self._spool = None  # the offline spool, created by the first write that cannot reach the server
        self._may_spool = spool and isinstance(self._transport, StdlibTransport)

    @functools.cached_property
    def _logged_models(self):
        from tracklet.tracking.stores.rest_logged_models import RestLoggedModels

        return RestLoggedModels(self)

    @property
    def logged_models(self):
        """The server's logged models (``stores/rest_logged_models.py``); None while writes are spooled (a
        model logged offline is kept as files in its run's artifacts, ``runs:/<run>/<path>``)."""
        return None if self._spool is not None and self._spool.active else self._logged_models

    # ------------------------------------------------------------------ offline spool
    def spool(self):
        """The store's offline spool (created on first use)."""
        if self._spool is None:
            from tracklet.tracking.spool import Spool

            self._spool = Spool(self)
        return self._spool

    def _spooling(self) -> bool:
        from tracklet.tracking.spool import enabled

        return self._may_spool and enabled()

    def _run_id(self, run_id: str) -> str:
        """The server's id of ``run_id`` (differs for a run created offline and replayed since)."""
        spool = self._spool
        return spool.mapping.get(run_id, run_id) if spool is not None else run_id

    def _write(self, endpoint: str, body: dict, appends: bool = False) -> dict | None:
        """POST a run write; while the spool holds records (or the server is unreachable) spool it instead.
        ``appends``: resending would add data twice (metric points), so an unanswered send is reconciled."""
        spool = self._spool
        if spool is not None and spool.active:
            spool.call(endpoint, body)
            return None
        spooling = self._spooling()
        try:
            return self.call(endpoint, body=body, idempotent=not appends, retry_connection=not spooling)
        except TransportError as exc:
            if not spooling:
                raise
            self.spool().call(endpoint, body, uncertain=exc.sent and appends, down=True)
            return None

    def spill_batch(self, run_id, metrics, params, tags) -> None:
        """Spool a batch without trying the server (the batching logger's buffer is full)."""
        if not self._spooling():
            raise TransportError("offline spool disabled", sent=False)
        self.spool().call("runs/log-batch", self._batch_body(run_id, metrics, params, tags))

    def ping(self) -> None:
        """One request to the server's ``/health`` (any HTTP answer counts); TransportError if none."""
        request = HttpRequest("GET", f"{self._prefix}/health", headers=auth_headers())
        send_with_retries(self._transport, request, True, retry_connection=False)

    def _offline_read(self, run_id: str, exc: TransportError) -> Run:
        """``get_run`` while the server is unreachable: the spool's stand-in, else the connection error."""
        run = self._spool.offline_run(run_id) if self._spool is not None else None
        if run is None:
            raise exc
        return run

    # ------------------------------------------------------------------ plumbing
    def call(
        self,
        endpoint: str,
        method: str = "POST",
        body: dict | None = None,
        idempotent: bool = True,
        retry_connection: bool | None = None,
    ) -> dict:
        """Call ``<prefix>/api/2.0/mlflow/<endpoint>``; GET fields go in the query string, others as JSON.
        Connection errors are retried unless ``retry_connection`` is False (default: not while the server is
        known to be unreachable, so a read fails at once instead of making the caller wait)."""
        headers = {"Accept": "application/json", **auth_headers()}
        request = HttpRequest(method, f"{self._prefix}{API}/{endpoint}", headers=headers)
        if method == "GET":
            for key, value in (body or {}).items():
                for item in value if isinstance(value, list) else [value]:
                    if item is not None:
                        request.query.append((key, str(item)))
        else:
            request.body = json.dumps(body or {}, default=str).encode()
            headers["Content-Type"] = "application/json"
        if retry_connection is None:
            retry_connection = self._spool is None or not self._spool.down
        response = send_with_retries(self._transport, request, idempotent or method == "GET", retry_connection)
        return parse_json_response(response, f"{method} {endpoint}")

    # ------------------------------------------------------------------ experiments
    def create_experiment(self, name, artifact_location=None, tags=None) -> str:
        body = {"name": name, "artifact_location": artifact_location, "tags": _kv(tags or [])}
        return str(self.call("experiments/create", body=body, idempotent=False)["experiment_id"])

    def get_experiment(self, experiment_id) -> Experiment:
        data = self.call("experiments/get", "GET", {"experiment_id": experiment_id})
        return wire.experiment_from_json(data["experiment"])

    def get_experiment_by_name(self, name) -> Experiment | None:
        try:
            data = self.call("experiments/get-by-name", "GET", {"experiment_name": name})
        except TrackletException as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            raise
        return wire.experiment_from_json(data["experiment"])

    def search_experiments(self, view_type=1, max_results=1000, filter_string=None, order_by=None, page_token=None):
        body = {
            "view_type": ViewType.to_string(ViewType.normalize(view_type)),
            "max_results": max_results,
            "filter": filter_string,
            "order_by": order_by or [],
            "page_token": page_token,
        }
        data = self.call("experiments/search", body=body)
        return PagedList(
            [wire.experiment_from_json(e) for e in data.get("experiments", [])], data.get("next_page_token")
        )

    def delete_experiment(self, experiment_id) -> None:
        self.call("experiments/delete", body={"experiment_id": experiment_id})

    def restore_experiment(self, experiment_id) -> None:
        self.call("experiments/restore", body={"experiment_id": experiment_id})

    def rename_experiment(self, experiment_id, new_name) -> None:
        self.call("experiments/update", body={"experiment_id": experiment_id, "new_name": new_name})

    def set_experiment_tag(self, experiment_id, tag: RunTag) -> None:
        body = {"experiment_id": experiment_id, "key": tag.key, "value": _text(tag.value)}
        self.call("experiments/set-experiment-tag", body=body)

    def delete_experiment_tag(self, experiment_id, key) -> None:
        self.call("experiments/delete-experiment-tag", body={"experiment_id": experiment_id, "key": key})

    # ------------------------------------------------------------------ runs
    def create_run(self, experiment_id, user_id, start_time, tags, run_name) -> Run:
        spool = self._spool
        if spool is not None and spool.down:  # known unreachable: don't make start_run wait
            return spool.create_run(experiment_id, user_id, start_time, tags, run_name)
        spooling = self._spooling()
        try:
            run = self.create_run_online(experiment_id, user_id, start_time, tags, run_name, not spooling)
        except TransportError:
            if not spooling:
                raise
            return self.spool().create_run(experiment_id, user_id, start_time, tags, run_name)
        return self._seen(run)

    def create_run_online(self, experiment_id, user_id, start_time, tags, run_name, retry_connection=False) -> Run:
        """``runs/create`` on the server, never spooled (the spool's replay uses it)."""
        body = {
            "experiment_id": experiment_id,
            "user_id": user_id,
            "start_time": start_time,
            "tags": _kv(tags or []),
            "run_name": run_name,
        }
        data = self.call("runs/create", body=body, idempotent=False, retry_connection=retry_connection)
        return wire.run_from_json(data["run"])

    def get_run_online(self, run_id) -> Run:
        """``runs/get`` on the server, never answered from the spool."""
        return wire.run_from_json(self.call("runs/get", "GET", {"run_id": run_id}, retry_connection=False)["run"])

    def _seen(self, run: Run) -> Run:
        """Remember ``run`` so that ``get_run`` can answer for it if the server goes away."""
        if self._spool is None and not self._spooling():
            return run
        return self.spool().remember(run)

    def get_run(self, run_id) -> Run:
        spool = self._spool
        if spool is not None and (
            (run_id in spool.local_runs and run_id not in spool.mapping) or (spool.down and spool.knows(run_id))
        ):
            return spool.offline_run(run_id)
        try:
            run = wire.run_from_json(self.call("runs/get", "GET", {"run_id": self._run_id(run_id)})["run"])
        except TransportError as exc:
            return self._offline_read(run_id, exc)
        return self._seen(run)

    def update_run_info(self, run_id, run_status, end_time, run_name) -> RunInfo | None:
        spool = self._spool
        if spool is not None and run_status is not None and RunStatus.is_terminated(run_status):
            spool.run_ending(run_id)
        body = {"run_id": self._run_id(run_id), "status": run_status, "end_time": end_time, "run_name": run_name}
        data = self._write("runs/update", body)
        return None if data is None else wire.run_info_from_json(data["run_info"])

    def delete_run(self, run_id) -> None:
        self.call("runs/delete", body={"run_id": self._run_id(run_id)})

    def restore_run(self, run_id) -> None:
        self.call("runs/restore", body={"run_id": self._run_id(run_id)})

    def hard_delete_run(self, run_id) -> None:
        """Permanent removal through tracklet's own endpoint (an MLflow server has none: it raises there)."""
        self.call_tracklet("runs/hard-delete", {"run_id": self._run_id(run_id)})

    def call_tracklet(self, endpoint: str, body: dict) -> dict:
        headers = {"Accept": "application/json", "Content-Type": "application/json", **auth_headers()}
        request = HttpRequest("POST", f"{self._prefix}/api/2.0/tracklet/{endpoint}", body=json.dumps(body).encode())
        request.headers = headers
        return parse_json_response(send_with_retries(self._transport, request, True), f"POST {endpoint}")

    def _batch_body(self, run_id, metrics, params, tags) -> dict:
        return {
            "run_id": self._run_id(run_id),
            "metrics": [_metric_json(m) for m in metrics],
            "params": _kv(params),
            "tags": _kv(tags),
        }

    def log_batch(self, run_id, metrics, params, tags) -> None:
        # metric points are appended, so a retried batch could land twice: retry only if it never left (the
        # spool reconciles a batch whose answer was lost with the server before sending it again)
        self._write("runs/log-batch", self._batch_body(run_id, metrics, params, tags), appends=bool(metrics))

    def log_metric(self, run_id, metric: Metric) -> None:
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id, param: Param) -> None:
        self._write(
            "runs/log-parameter", {"run_id": self._run_id(run_id), "key": param.key, "value": _text(param.value)}
        )

    def set_tag(self, run_id, tag: RunTag) -> None:
        self._write("runs/set-tag", {"run_id": self._run_id(run_id), "key": tag.key, "value": _text(tag.value)})

    def delete_tag(self, run_id, key) -> None:
        self._write("runs/delete-tag", {"run_id": self._run_id(run_id), "key": key})

    def get_metric_history(self, run_id, key) -> list[Metric]:
        out, token = [], None
        while True:
            query = {
                "run_id": self._run_id(run_id),
                "metric_key": key,
                "max_results": HISTORY_PAGE,
                "page_token": token,
            }
            data = self.call("metrics/get-history", "GET", query)
            out += wire.metrics_from_json(data.get("metrics"))
            token = data.get("next_page_token")
            if not token:
                return out

    def search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string,
            "run_view_type": ViewType.to_string(ViewType.normalize(run_view_type)),
            "max_results": max_results,
            "order_by": order_by or [],
            "page_token": page_token,
        }
        data = self.call("runs/search", body=body)
        return PagedList([wire.run_from_json(r) for r in data.get("runs", [])], data.get("next_page_token"))

    def record_logged_model(self, run_id, model_dict) -> None:
        self._write("runs/log-model", {"run_id": self._run_id(run_id), "model_json": json.dumps(model_dict)}, True)

    def log_inputs(self, run_id, datasets) -> None:
        items = []
        for item in datasets or []:
            ds = getattr(item, "dataset", None)
            if ds is None:
                items.append(item)  # not a DatasetInput: let the server reject it with its message
                continue
            entry = {"dataset": {k: v for k, v in ds.to_dict().items() if v is not None}}
            entry["tags"] = _kv(item.tags)
            items.append(entry)
        self._write("runs/log-inputs", {"run_id": self._run_id(run_id), "datasets": items})

    def close(self) -> None:
        close = getattr(self._transport, "close", None)
        if close is not None:
            close()
