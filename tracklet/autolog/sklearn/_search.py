"""Hyperparameter searches (GridSearchCV, RandomizedSearchCV, Halving*SearchCV).

The search's own run (the parent) gets ``best_<param>`` params, the ``best_cv_score`` metric,
``cv_results.csv`` and the refit ``best_estimator/`` model. The best ``max_tuning_runs`` candidates
(by rank) become child runs (tag ``mlflow.parentRunId``) with the seed estimator's params overlaid with
the candidate's, and every numeric ``cv_results_`` column (``mean_test_score``, ``std_fit_time``,
``rank_test_score``...) except the per-split ones as metrics. The internal fits of the search are never
runs of their own (they run nested inside the search's patched ``fit``).
"""

from __future__ import annotations

import numbers

from tracklet._logging import get_logger
from tracklet.autolog import session
from tracklet.autolog.sklearn._common import INTEGRATION, finite, log_model, options
from tracklet.tracking import system_tags as ctx
from tracklet.tracking.entities import RunStatus

_log = get_logger("tracklet.autolog")


def log_search(call, search) -> None:
    """Log what a fitted search found, and its child runs."""
    logger = call.logger
    best_params = getattr(search, "best_params_", None)
    if best_params:
        logger.log_params({f"best_{k}": v for k, v in best_params.items()})
    best_score = getattr(search, "best_score_", None)
    if best_score is not None and finite(best_score):
        logger.log_metrics({"best_cv_score": float(best_score)})
    results = getattr(search, "cv_results_", None)
    if results:
        logger.log_text(_to_csv(results), "cv_results.csv")
    if hasattr(search, "best_estimator_"):
        log_model(call, search.best_estimator_, "best_estimator")
    max_runs = options(call.config).max_tuning_runs
    if results and max_runs != 0:
        _log_child_runs(call, search, results, max_runs)


def _to_csv(results: dict) -> str:
    import pandas as pd

    return pd.DataFrame(results).to_csv(index=False)


def _rank_column(search, results: dict, silent: bool) -> str | None:
    if "rank_test_score" in results:
        return "rank_test_score"
    ranks = [k for k in results if k.startswith("rank_test_")]
    if not ranks:
        return None
    refit = getattr(search, "refit", None)
    chosen = f"rank_test_{refit}" if isinstance(refit, str) and f"rank_test_{refit}" in ranks else ranks[0]
    session.warn_once(
        (INTEGRATION, "rank"),
        f"tracklet: the search has several scorers; child runs are the best candidates by {chosen!r}",
        silent,
    )
    return chosen


def _log_child_runs(call, search, results: dict, max_runs: int | None) -> None:
    client = call.logger.client
    rank_col = _rank_column(search, results, call.config.silent)
    n = len(results["params"])
    order = sorted(range(n), key=lambda i: results[rank_col][i]) if rank_col else list(range(n))
    chosen = order if max_runs is None else order[:max_runs]
    if not call.config.silent and len(chosen) < n:
        _log.info(
            "tracklet: logging the %d best of %d hyperparameter search candidates as child runs",
            len(chosen),
            n,
        )
    parent = client.get_run(call.run_id)
    seed = getattr(search, "estimator", None)
    seed_params = seed.get_params(deep=True) if hasattr(seed, "get_params") else {}
    name, source_type = ctx.source_name_and_type()
    # the parent's system tags (user, source name/type, git commit/branch/repo) describe the children too
    tags = {k: v for k, v in parent.data.tags.items() if k == ctx.USER or k.startswith("mlflow.source.")}
    tags.setdefault(ctx.SOURCE_NAME, name)
    tags.setdefault(ctx.SOURCE_TYPE, source_type)
    tags.update({ctx.PARENT_RUN_ID: call.run_id, ctx.AUTOLOGGING: INTEGRATION})
    if seed is not None:
        cls = type(seed)
        tags.update(estimator_name=cls.__name__, estimator_class=f"{cls.__module__}.{cls.__qualname__}")
    metric_cols = [k for k, v in results.items() if not k.startswith(("param", "split")) and _numeric(v)]
    children = []
    for i in chosen:
        run = client.create_run(parent.info.experiment_id, start_time=parent.info.start_time, tags=tags)
        child = session.RunLogger(INTEGRATION, run.info.run_id, call.config)
        child.log_params({**seed_params, **results["params"][i]})
        child.log_metrics({k: results[k][i] for k in metric_cols if finite(results[k][i])})
        children.append(child)
    error = None
    for child in children:
        try:
            child.flush()
        except Exception as exc:  # still end every child run; report the first failure
            error = error or exc
        finally:
            client.set_terminated(child.run_id, RunStatus.FINISHED)
    if error is not None:
        raise error


def _numeric(values) -> bool:
    dtype = getattr(values, "dtype", None)
    if dtype is not None:
        return dtype.kind in "iuf"
    return all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in values)
