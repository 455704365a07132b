"""Replaying spooled records to a tracking server, exactly once: shared by the in-process drain and ``tracklet sync``.

Exactly once, against any MLflow-compatible server (no server extension is needed):

* every send is preceded by ``begin A B`` and followed by ``ack A B`` in the journal's state log;
* a record that was begun but never acknowledged (the process died, or the connection broke after the request
  left) may or may not be on the server. Before resending it, the replay asks the server: for ``log-batch`` it
  reads the history of each metric key and drops the points already there (a batch is one transaction on the
  server: all of it or none landed); params and tags are idempotent (same key, same value); a run created
  offline is looked up by its ``tracklet.offline.runId`` tag before creating it again.
* runs created offline get their server id from ``runs/create`` (MLflow's API has no client-chosen run ids, and
  the same journal must upload to a real ``mlflow server``); ``map <local> <server>`` is recorded before the
  run's next record is sent, and later records are rewritten to the server id as they are sent.

The one case this cannot tell apart: a spooled point identical (key, step, timestamp and value) to one the
same run already holds from elsewhere is taken as already delivered.
"""

from __future__ import annotations

import math
import os
from collections import Counter

from tracklet.exceptions import TrackletException
from tracklet.tracking import validation as V
from tracklet.tracking.entities import RunTag, ViewType

OFFLINE_RUN_TAG = "tracklet.offline.runId"
LOG_BATCH = "runs/log-batch"
_TRANSIENT_CODES = frozenset({"INTERNAL_ERROR", "TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED"})
# answers about the caller, not the record: keep the record for a later `tracklet sync` with other credentials
_CREDENTIAL_CODES = frozenset({"UNAUTHENTICATED", "PERMISSION_DENIED"})


# (local folder, run artifact URI, tracking URI) -> None; set by tracklet.tracking.artifacts when it loads (it
# reaches the stores through the current tracking URI, so the stores' side may not import it)
_artifact_uploader = None
_prepare_upload = None


def set_artifact_uploader(upload, prepare=None) -> None:
    """Install how spooled files are uploaded into a run's artifact root (called by tracking.artifacts);
    ``prepare()`` is called when files start being spooled, while the interpreter is not shutting down yet."""
    global _artifact_uploader, _prepare_upload
    _artifact_uploader, _prepare_upload = upload, prepare


def prepare_artifact_upload() -> None:
    """Get ready to upload spooled files later, possibly at interpreter exit."""
    if _prepare_upload is not None:
        _prepare_upload()


class Unreachable(Exception):
    """The server could not be reached (or answered a transient error): stop, try again later.
    ``done`` records at the head of the list were handled before that."""

    def __init__(self, cause: BaseException, done: int):
        super().__init__(str(cause))
        self.cause, self.done = cause, done


class ReplayError(Unreachable):
    """Replaying failed on this side (not a refusal by the server): stop; the record stays pending."""


def is_transient(exc: BaseException) -> bool:
    """A connection failure or a 5xx/429-like answer: worth retrying later, not a refusal of the record."""
    if isinstance(exc, ConnectionError):
        return True
    return isinstance(exc, TrackletException) and exc.error_code in _TRANSIENT_CODES


def _stop_unless_refused(exc: BaseException, done: int) -> None:
    """Raise :class:`Unreachable` / :class:`ReplayError` unless ``exc`` is the server refusing the record."""
    if is_transient(exc):
        raise Unreachable(exc, done) from None
    if not isinstance(exc, TrackletException) or exc.error_code in _CREDENTIAL_CODES:
        raise ReplayError(exc, done) from None


def _ranges(seqs: list[int]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for s in sorted(seqs):
        if out and out[-1][1] == s - 1:
            out[-1] = (out[-1][0], s)
        else:
            out.append((s, s))
    return out


def _value_key(value) -> str:
    v = float(value)
    return "nan" if math.isnan(v) else repr(v)


class Replayer:
    """Sends records of one journal through ``store`` (a RestStore) in order.

    ``mapping`` (offline run id -> server run id) and ``begun`` (seqs begun, not acknowledged) are shared with
    the caller and kept up to date; ``on_refused(record, exc)`` is told about each record the server refused."""

    def __init__(self, store, journal, mapping: dict, begun: set, on_refused=None):
        self.store, self.journal, self.mapping, self.begun = store, journal, mapping, begun
        self.on_refused = on_refused or (lambda record, exc: None)
        self.sent = 0  # records acknowledged by this replayer
        self.refused = 0

    def run(self, records: list[dict]) -> int:
        """Replay ``records`` (pending, in order); returns how many were handled (acknowledged or refused).
        Raises :class:`Unreachable` when the server cannot be reached, after acknowledging what went through."""
        done = 0
        while done < len(records):
            group = self._group(records, done)
            try:
                self._send(group)
            except Exception as exc:
                _stop_unless_refused(exc, done)
                if len(group) > 1:  # find the refused record: send one by one
                    group = group[:1]
                    try:
                        self._send(group)
                    except Exception as exc2:
                        _stop_unless_refused(exc2, done)
                        self._refuse(group[0], exc2)
                else:
                    self._refuse(group[0], exc)
            done += len(group)
        return done

    # ------------------------------------------------------------------ one group
    def _group(self, records: list[dict], start: int) -> list[dict]:
        """Consecutive log-batch records of one run that fit one call, or a single record."""
        first = records[start]
        if not _is_batch(first):
            return [first]
        group, counts, params = [first], _counts(first["body"]), {p["key"] for p in first["body"].get("params", [])}
        for record in records[start + 1 :]:
            if not _is_batch(record) or record["run"] != first["run"]:
                break
            c = _counts(record["body"])
            keys = {p["key"] for p in record["body"].get("params", [])}
            total = [a + b for a, b in zip(counts, c, strict=True)]
            if (
                keys & params
                or total[0] > V.MAX_METRICS_PER_BATCH
                or total[1] > V.MAX_PARAMS_PER_BATCH
                or total[2] > V.MAX_TAGS_PER_BATCH
                or sum(total) > V.MAX_ENTITIES_PER_BATCH
            ):
                break
            group.append(record)
            counts, params = total, params | keys
        return group

    def _send(self, group: list[dict]) -> None:
        seqs = [r["seq"] for r in group]
        uncertain = any(s in self.begun for s in seqs)
        first = group[0]
        op = first["op"]
        if op == "create_run":
            self._create_run(first, uncertain)
            return
        remote = self.mapping.get(first["run"], first["run"])
        if op == "artifacts":
            self._begin(seqs)
            self._upload_artifacts(first["run"], remote)
        elif _is_batch(first):
            body = _merge_bodies([r["body"] for r in group], remote)
            if uncertain and body["metrics"]:
                body["metrics"] = self._not_on_server(remote, body["metrics"])
            self._begin(seqs)
            if body["metrics"] or body["params"] or body["tags"]:
                self.store.call(LOG_BATCH, body=body, idempotent=not body["metrics"], retry_connection=False)
        else:
            body = dict(first["body"], run_id=remote)
            self._begin(seqs)
            self.store.call(first["endpoint"], body=body, idempotent=False, retry_connection=False)
        self._ack(seqs)

    def _begin(self, seqs: list[int]) -> None:
        for a, b in _ranges(seqs):
            self.journal.mark("begin", a, b)
        self.begun.update(seqs)

    def _ack(self, seqs: list[int]) -> None:
        for a, b in _ranges(seqs):
            self.journal.mark("ack", a, b)
        self.begun.difference_update(seqs)
        self.sent += len(seqs)

    def _refuse(self, record: dict, exc: BaseException) -> None:
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
        self.journal.mark("fail", record["seq"], message)
        self.begun.discard(record["seq"])
        self.refused += 1
        self.on_refused(record, exc)

    # ------------------------------------------------------------------ record kinds
    def _create_run(self, record: dict, uncertain: bool) -> None:
        local = record["run"]
        if local in self.mapping:  # created by an earlier replay that died before its ack
            self._ack([record["seq"]])
            return
        remote = None
        if uncertain:
            found = self.store.search_runs(
                [record["experiment_id"]],
                f"tags.\"{OFFLINE_RUN_TAG}\" = '{local}'",
                ViewType.ALL,
                1,
                None,
                None,
            )
            remote = found[0].info.run_id if found else None
        self._begin([record["seq"]])
        if remote is None:
            tags = [RunTag(k, v) for k, v in record["tags"]] + [RunTag(OFFLINE_RUN_TAG, local)]
            run = self.store.create_run_online(
                record["experiment_id"], record["user_id"], record["start_time"], tags, record["run_name"]
            )
            remote = run.info.run_id
        self.journal.mark("map", local, remote)
        self.mapping[local] = remote
        self._ack([record["seq"]])

    def _not_on_server(self, run_id: str, metrics: list[dict]) -> list[dict]:
        """The points of ``metrics`` the server does not hold yet (an earlier send may have landed)."""
        have: Counter = Counter()
        for key in {m["key"] for m in metrics}:
            for m in self.store.get_metric_history(run_id, key):
                have[(key, int(m.step), int(m.timestamp), _value_key(m.value))] += 1
        out = []
        for m in metrics:
            k = (m["key"], int(m.get("step") or 0), int(m["timestamp"]), _value_key(m["value"]))
            if have[k]:
                have[k] -= 1
            else:
                out.append(m)
        return out

    def _upload_artifacts(self, spooled_id: str, remote: str) -> None:
        local_dir = self.journal.artifact_dir(spooled_id)
        if not os.path.isdir(local_dir) or not os.listdir(local_dir):
            return
        if _artifact_uploader is None:
            raise RuntimeError("no artifact uploader: import tracklet.tracking.artifacts first")
        uri = self.store.get_run_online(remote).info.artifact_uri
        _artifact_uploader(local_dir, uri, self.store.uri)  # each file to the same path: idempotent


def _is_batch(record: dict) -> bool:
    return record["op"] == "call" and record["endpoint"] == LOG_BATCH


def _counts(body: dict) -> list[int]:
    return [len(body.get("metrics", [])), len(body.get("params", [])), len(body.get("tags", []))]


def _merge_bodies(bodies: list[dict], run_id: str) -> dict:
    tags = {}
    for b in bodies:
        tags.update((t["key"], t) for t in b.get("tags", []))
    return {
        "run_id": run_id,
        "metrics": [m for b in bodies for m in b.get("metrics", [])],
        "params": [p for b in bodies for p in b.get("params", [])],
        "tags": list(tags.values()),
    }
