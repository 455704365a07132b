"""``tracklet sync``: upload what the offline spool kept while the tracking server was unreachable.

    tracklet sync [--spool-dir D] [--tracking-uri U] [--dry-run] [--json]

Each journal (``tracking/spool_journal.py``) is replayed in order (``tracking/spool_replay.py``) to the server
it was meant for (``--tracking-uri`` sends it elsewhere), under the journal's lock: a journal still owned by a
running process, or being synced by another ``tracklet sync``, is skipped and reported. Every record is
acknowledged in the journal as it is sent, so a sync that is interrupted (or run twice) sends nothing twice.
A fully uploaded journal is deleted; a corrupt one is reported and kept. Exit status 1 if anything is left.
"""

from __future__ import annotations

import json
import os

from tracklet.exceptions import InvalidParameterValue


def add_parser(sub, common) -> None:
    """Register ``tracklet sync`` on the CLI's subparsers."""
    p = sub.add_parser("sync", parents=[common], help="upload runs logged while the tracking server was unreachable")
    p.add_argument("--spool-dir", help="the spool folder (default: TRACKLET_SPOOL_DIR or ~/.tracklet/spool)")
    p.add_argument("--dry-run", action="store_true", help="report what would be uploaded; send nothing")
    p.set_defaults(func=cmd_sync)


def _summary(records: list[dict]) -> dict:
    runs: dict[str, int] = {}
    for r in records:
        runs[r["run"]] = runs.get(r["run"], 0) + 1
    return runs


def sync_journal(journal, tracking_uri: str | None, dry_run: bool) -> dict:
    """Upload one journal; returns a report (``status``: synced, nothing, dry-run, locked, unreachable, partial)."""
    import tracklet.tracking.artifacts  # noqa: F401 - installs the upload of spooled files
    from tracklet.tracking.spool_replay import Replayer, ReplayError, Unreachable
    from tracklet.tracking.stores.rest import RestStore

    report: dict = {"journal": journal.path, "sent": 0, "refused": 0, "left": 0, "runs": {}, "created": {}}
    if not journal.try_lock():
        report["status"] = "locked" if journal.exists() else "gone"
        return report
    try:
        state = journal.read()
        report["corrupt"] = state.corrupt
        pending = state.pending()
        report["runs"] = _summary(pending)
        uri = tracking_uri or state.meta.get("tracking_uri") or ""
        report["tracking_uri"] = uri
        if dry_run:
            report.update(status="dry-run", left=len(pending))
            return report
        if not uri.startswith(("http://", "https://")):
            raise InvalidParameterValue(f"spool journal {journal.path}: tracking URI {uri!r} is not http(s)://")
        store = RestStore(uri, spool=False)
        refused: list[str] = []
        replayer = Replayer(
            store, journal, state.mapping, state.begun, lambda rec, exc: refused.append(f"{rec['seq']}: {exc}")
        )
        local_runs = {r["run"] for r in state.records if r["op"] == "create_run"}
        try:
            replayer.run(pending)
            _upload_orphan_artifacts(replayer, state)
        except ReplayError as exc:
            report.update(status="error", error=f"{type(exc.cause).__name__}: {exc.cause}")
        except Unreachable as exc:
            report.update(status="unreachable", error=str(exc.cause))
        finally:
            store.close()
        report["sent"], report["refused"] = replayer.sent, replayer.refused
        report["refused_entries"] = refused
        report["left"] = len(journal.read().pending())
        report["created"] = {r: state.mapping[r] for r in local_runs if r in state.mapping}
        if "status" not in report:
            report["status"] = "partial" if report["left"] or state.corrupt else "synced"
        if report["status"] == "synced":
            journal.remove()  # every entry is acknowledged in it; removed before the lock is released
    finally:
        journal.close()
    return report


def _upload_orphan_artifacts(replayer, state) -> None:
    """Files of runs whose process died before it spooled their upload (no ``artifacts`` record)."""
    recorded = {r["run"] for r in state.records if r["op"] == "artifacts"}
    root = os.path.join(replayer.journal.path, "artifacts")
    for run_id in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if run_id not in recorded and run_id not in {r["run"] for r in state.records if r["seq"] in state.failed}:
            replayer._upload_artifacts(run_id, state.mapping.get(run_id, run_id))


def _line(rep: dict) -> str:
    name = os.path.basename(rep["journal"])
    runs = ", ".join(f"{r} ({n})" for r, n in list(rep["runs"].items())[:5]) or "none"
    status = rep["status"]
    if status == "locked":
        return f"{name}: skipped, in use by a running process or another sync"
    if status == "dry-run":
        return f"{name}: {rep['left']} entries to upload to {rep['tracking_uri']} for runs: {runs}"
    text = f"{name}: sent {rep['sent']}, refused {rep['refused']}, left {rep['left']} (runs: {runs})"
    if status == "unreachable":
        text += f"; server unreachable ({rep.get('error')}): run `tracklet sync` again later"
    if status == "error":
        text += f"; stopped by an error ({rep.get('error')}): the journal is kept"
    for local, remote in rep["created"].items():
        text += f"\n  run {local} (created offline) is run {remote} on {rep['tracking_uri']}"
    for entry in rep.get("refused_entries", []):
        text += f"\n  refused by the server: entry {entry}"
    for problem in rep.get("corrupt", []):
        text += f"\n  corrupt journal: {problem}; the entries after it were not read (the journal is kept)"
    return text


def cmd_sync(args) -> int:
    from tracklet.tracking.spool_journal import list_journals, spool_dir

    directory = args.spool_dir or spool_dir()
    reports = [sync_journal(j, args.tracking_uri, args.dry_run) for j in list_journals(directory)]
    reports = [r for r in reports if r["status"] != "gone"]  # uploaded by a concurrent sync meanwhile
    if args.json:
        print(json.dumps(reports, indent=2))
    elif not reports:
        print(f"nothing to sync in {directory}")
    else:
        for rep in reports:
            print(_line(rep))
    bad = [r for r in reports if r["status"] not in ("synced", "dry-run") or r["refused"] or r.get("corrupt")]
    return 1 if bad else 0
