"""Garbage collection of deleted runs: their rows/files and their artifacts, removed for good.

Everything is checked before anything is removed: every id (an empty list is an error, not "all"), that each
run exists and is deleted, and that it belongs to the given experiments. A run's artifacts are removed only
where the store itself puts them (``<experiment artifact location>/<run_id>/artifacts``): a stored
``artifact_uri`` pointing anywhere else (a hand-edited ``meta.yaml``, a tampered row) is never trusted with a
delete; such runs are reported in ``GcResult.skipped`` and left in place.
"""

from __future__ import annotations

import os
from urllib.parse import urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.tracking import validation as V
from tracklet.tracking.entities import ViewType


class GcResult(list):
    """The ids of the runs removed (a list), plus ``skipped``: {run_id: why it was left in place}."""

    def __init__(self, removed=(), skipped: dict[str, str] | None = None):
        super().__init__(removed)
        self.skipped = dict(skipped or {})


def _ids(values, field: str, check) -> list[str]:
    if isinstance(values, str):
        values = [values]
    values = list(values)
    if not values:
        raise InvalidParameterValue(f"gc: {field} is empty; leave it out to collect every deleted run")
    out: list[str] = []
    for v in values:
        if isinstance(v, str) and not v.strip():
            raise InvalidParameterValue(f"gc: {field} contains an empty id ({values!r})")
        v = check(v.strip() if isinstance(v, str) else v)
        if v not in out:
            out.append(v)
    return out


def _local(uri: str) -> str | None:
    from tracklet.tracking.artifacts.local import local_path_from_uri

    scheme = urlparse(uri).scheme
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        return os.path.normpath(local_path_from_uri(uri))
    return None


def artifact_location_problem(run, experiment) -> str | None:
    """Why the run's stored artifact URI must not be deleted, or None when it is where the store puts it."""
    uri = run.info.artifact_uri or ""
    location = (experiment.artifact_location or "").rstrip("/")
    if not uri or not location:
        return "it has no artifact location on record"
    expected = f"{location}/{run.info.run_id}/artifacts"
    got_local, want_local = _local(uri), _local(expected)
    same = got_local == want_local if (got_local and want_local) else uri.rstrip("/") == expected
    if not same:
        from tracklet.tracking.artifacts.remote import redact

        return (
            f"its artifact location {redact(uri)!r} is not {redact(expected)!r}, where this store keeps the run's "
            "artifacts; "
            "nothing was deleted (remove the run's files by hand if that location is really its own)"
        )
    return None


def collect_garbage(client, run_ids=None, experiment_ids=None) -> GcResult:
    """Permanently remove deleted runs (``run_ids``, or every deleted run of ``experiment_ids`` / of the store)."""
    from tracklet.tracking.artifacts import get_artifact_repository

    store = client.store
    exp_ids = None
    if experiment_ids is not None:
        exp_ids = _ids(experiment_ids, "experiment_ids", V.validate_experiment_id)
        for eid in exp_ids:
            store.get_experiment(eid)  # RESOURCE_DOES_NOT_EXIST before anything is removed
    if run_ids is None:
        search_in = exp_ids or [e.experiment_id for e in client.search_experiments(ViewType.ALL, 50000)]
        run_ids, token = [], None
        while True:
            page = store.search_runs(search_in, None, ViewType.DELETED_ONLY, 50000, None, token)
            run_ids += [r.info.run_id for r in page]
            token = page.token
            if not token:
                break
        if not run_ids:
            return GcResult()
    ids = _ids(run_ids, "run_ids", V.validate_run_id)

    runs = []
    for rid in ids:
        run = store.get_run(rid)
        if run.info.lifecycle_stage != "deleted":
            raise InvalidParameterValue(
                f"gc: run {rid} is not deleted; only deleted runs can be garbage-collected (nothing was removed)"
            )
        if exp_ids is not None and run.info.experiment_id not in exp_ids:
            raise InvalidParameterValue(
                f"gc: run {rid} belongs to experiment {run.info.experiment_id}, not to {','.join(exp_ids)} "
                "(nothing was removed)"
            )
        runs.append(run)

    experiments: dict[str, object] = {}
    result = GcResult()
    for run in runs:
        eid = run.info.experiment_id
        if eid not in experiments:
            experiments[eid] = store.get_experiment(eid)
        problem = artifact_location_problem(run, experiments[eid])
        if problem:
            result.skipped[run.info.run_id] = problem
            continue
        try:
            get_artifact_repository(run.info.artifact_uri, client.tracking_uri).delete_artifacts()
        except ResourceDoesNotExist:
            pass
        local = _local(run.info.artifact_uri)
        if local:  # the emptied <run_id>/ folder of a SQL store (a file store's run folder is not empty: kept)
            try:
                os.rmdir(os.path.dirname(local))
            except OSError:
                pass
        store.hard_delete_run(run.info.run_id)
        result.append(run.info.run_id)
    return result
