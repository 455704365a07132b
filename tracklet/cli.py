"""The ``tracklet`` command line: parse arguments, call the client, print. No logic of its own.

Exit status: 0 on success; 1 with ``error: CODE: message`` on stderr for any TrackletException (bad input,
unknown run, unusable store) and ``error: INTERNAL_ERROR: ...`` for anything unexpected (no traceback either);
1 from ``gc`` when some runs were left in place (reported); 2 for bad usage.

    tracklet experiments create|search|rename|delete|restore
    tracklet runs list|describe|delete|restore
    tracklet gc
    tracklet sync          (tracklet/cli_sync.py)
    tracklet server|ui     (tracklet/server/serve.py)
    tracklet users create|passwd|delete|list|grant|revoke|token|tokens|revoke-token   (tracklet/server/auth_cli.py)
Every command takes ``--tracking-uri`` (default: TRACKLET_TRACKING_URI / MLFLOW_TRACKING_URI / the default
store) and ``--json`` for machine-readable output.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys

from tracklet.exceptions import TrackletException


def _client(args):
    from tracklet.tracking.client import TrackletClient

    return TrackletClient(args.tracking_uri) if args.tracking_uri else TrackletClient()


def _ts(ms):
    if ms is None:
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def _table(rows: list[list], headers: list[str]) -> str:
    rows = [[("" if c is None else str(c)) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(out)


def _emit(args, data, table_fn):
    if args.json:
        print(json.dumps(data, indent=2, default=str))
    else:
        print(table_fn())


def _view(args) -> int:
    from tracklet.entities import ViewType

    return ViewType.from_string(args.view)


# ------------------------------------------------------------------ experiments


def cmd_experiments_create(args):
    exp_id = _client(args).create_experiment(args.name, args.artifact_location)
    _emit(args, {"experiment_id": exp_id}, lambda: f"Created experiment {args.name!r} with id {exp_id}")


def cmd_experiments_search(args):
    client, exps, token = _client(args), [], None
    while True:
        page = client.search_experiments(_view(args), 50000, args.filter, None, token)
        exps += page
        token = page.token
        if not token:
            break
    _emit(
        args,
        [e.to_dict() for e in exps],
        lambda: _table(
            [[e.experiment_id, e.name, e.lifecycle_stage, _ts(e.creation_time), e.artifact_location] for e in exps],
            ["experiment_id", "name", "lifecycle_stage", "created", "artifact_location"],
        ),
    )


def cmd_experiments_rename(args):
    _client(args).rename_experiment(args.experiment_id, args.new_name)
    _emit(
        args,
        {"experiment_id": args.experiment_id, "name": args.new_name},
        lambda: f"Renamed experiment {args.experiment_id} to {args.new_name!r}",
    )


def cmd_experiments_delete(args):
    _client(args).delete_experiment(args.experiment_id)
    _emit(args, {"deleted": args.experiment_id}, lambda: f"Deleted experiment {args.experiment_id}")


def cmd_experiments_restore(args):
    _client(args).restore_experiment(args.experiment_id)
    _emit(args, {"restored": args.experiment_id}, lambda: f"Restored experiment {args.experiment_id}")


# ------------------------------------------------------------------ runs


def cmd_runs_list(args):
    client = _client(args)
    exp_ids = (
        [args.experiment_id]
        if args.experiment_id
        else [e.experiment_id for e in client.search_experiments(max_results=50000)]
    )
    order = [args.order_by] if args.order_by else None
    runs = client.search_runs(exp_ids, args.filter or "", _view(args), args.max_results, order)
    _emit(
        args,
        [r.to_dictionary() for r in runs],
        lambda: _table(
            [
                [
                    r.info.run_id,
                    r.info.run_name,
                    r.info.experiment_id,
                    r.info.status,
                    _ts(r.info.start_time),
                    len(r.data.metrics),
                    len(r.data.params),
                ]
                for r in runs
            ],
            ["run_id", "run_name", "experiment_id", "status", "started", "metrics", "params"],
        ),
    )


def cmd_runs_describe(args):
    run = _client(args).get_run(args.run_id)

    def text():
        i = run.info
        lines = [
            f"Run {i.run_id} ({i.run_name})",
            f"  experiment: {i.experiment_id}",
            f"  status: {i.status}",
            f"  lifecycle: {i.lifecycle_stage}",
            f"  started: {_ts(i.start_time)}",
            f"  ended: {_ts(i.end_time)}",
            f"  artifacts: {i.artifact_uri}",
        ]
        for title, d in (("params", run.data.params), ("metrics", run.data.metrics), ("tags", run.data.tags)):
            lines.append(f"  {title}:")
            lines += [f"    {k}: {d[k]}" for k in sorted(d)]
        return "\n".join(lines)

    _emit(args, run.to_dictionary(), text)


def cmd_runs_delete(args):
    _client(args).delete_run(args.run_id)
    _emit(args, {"deleted": args.run_id}, lambda: f"Deleted run {args.run_id}")


def cmd_runs_restore(args):
    _client(args).restore_run(args.run_id)
    _emit(args, {"restored": args.run_id}, lambda: f"Restored run {args.run_id}")


def _id_list(value: str | None) -> list[str] | None:
    """``--run-ids a,b`` -> ["a", "b"]; an empty value stays an (invalid) empty list, never "all"."""
    if value is None:
        return None
    return [v.strip() for v in value.split(",")] if value.strip() else []


def cmd_gc(args) -> int:
    result = _client(args).gc(run_ids=_id_list(args.run_ids), experiment_ids=_id_list(args.experiment_ids))
    removed, skipped = list(result), getattr(result, "skipped", {})

    def text():
        lines = [f"Permanently removed {len(removed)} deleted run(s)"] + [f"  {r}" for r in removed]
        if skipped:
            lines.append(f"Left {len(skipped)} run(s) in place:")
            lines += [f"  {rid}: {why}" for rid, why in skipped.items()]
        return "\n".join(lines)

    _emit(args, {"removed": removed, "skipped": skipped}, text)
    return 1 if skipped else 0


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--tracking-uri", help="tracking store URI (default: env or the default store)")
    common.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = argparse.ArgumentParser(prog="tracklet", description="tracklet experiment tracking")
    sub = p.add_subparsers(dest="command", required=True)

    exps = sub.add_parser("experiments", help="manage experiments").add_subparsers(dest="action", required=True)
    c = exps.add_parser("create", parents=[common], help="create an experiment")
    c.add_argument("name")
    c.add_argument("--artifact-location")
    c.set_defaults(func=cmd_experiments_create)
    s = exps.add_parser("search", parents=[common], help="list experiments")
    s.add_argument("--filter", help="e.g. \"name LIKE 'prod-%%'\"")
    s.add_argument("--view", default="ACTIVE_ONLY", choices=["ACTIVE_ONLY", "DELETED_ONLY", "ALL"])
    s.set_defaults(func=cmd_experiments_search)
    r = exps.add_parser("rename", parents=[common], help="rename an experiment")
    r.add_argument("experiment_id")
    r.add_argument("new_name")
    r.set_defaults(func=cmd_experiments_rename)
    for name, fn in (("delete", cmd_experiments_delete), ("restore", cmd_experiments_restore)):
        x = exps.add_parser(name, parents=[common], help=f"{name} an experiment")
        x.add_argument("experiment_id")
        x.set_defaults(func=fn)

    runs = sub.add_parser("runs", help="inspect and manage runs").add_subparsers(dest="action", required=True)
    lst = runs.add_parser("list", parents=[common], help="list runs")
    lst.add_argument("--experiment-id")
    lst.add_argument("--filter", help="e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"")
    lst.add_argument("--order-by", help="e.g. 'metrics.acc DESC'")
    lst.add_argument("--max-results", type=int, default=100)
    lst.add_argument("--view", default="ACTIVE_ONLY", choices=["ACTIVE_ONLY", "DELETED_ONLY", "ALL"])
    lst.set_defaults(func=cmd_runs_list)
    for name, fn in (
        ("describe", cmd_runs_describe),
        ("delete", cmd_runs_delete),
        ("restore", cmd_runs_restore),
    ):
        x = runs.add_parser(name, parents=[common], help=f"{name} a run")
        x.add_argument("run_id")
        x.set_defaults(func=fn)

    gc = sub.add_parser("gc", parents=[common], help="permanently remove deleted runs and their artifacts")
    gc.add_argument("--run-ids", help="comma-separated run ids (default: every deleted run; empty is an error)")
    gc.add_argument("--experiment-ids", help="comma-separated experiment ids to limit the search (empty: error)")
    gc.set_defaults(func=cmd_gc)

    from tracklet.cli_sync import add_parser as add_sync_parser

    add_sync_parser(sub, common)

    from tracklet.server import auth_cli
    from tracklet.server.serve import add_parsers  # loads no server dependency until a server starts

    add_parsers(sub)
    auth_cli.add_parsers(sub)  # tracklet users ...
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except TrackletException as exc:  # "error: CODE: message", never a traceback
        print(f"error: {exc.error_code}: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug of ours: still one line, named as such, not a traceback
        print(f"error: INTERNAL_ERROR: unexpected {type(exc).__name__}: {exc} (please report)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
