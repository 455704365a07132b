"""search_runs for the file store, without loading every run.

1. list the experiments' run folders and read each meta.yaml (cached while unchanged);
2. drop runs of the wrong lifecycle stage, then evaluate the filter one comparison at a time, cheapest
   first, reading only the metric/param/tag files it names (latest metric values come from an
   incremental cache, so an unchanged metric file costs one ``stat``);
3. read the order_by keys of the survivors, sort and slice the page;
4. load only the page's runs fully.
"""

from __future__ import annotations

import os

from tracklet.tracking import search, validation
from tracklet.tracking.entities import PagedList, ViewType
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores.file_inputs import load_run_inputs
from tracklet.tracking.stores.file_layout import RunLayout
from tracklet.tracking.stores.file_runs import load_run

_SUBDIR = {search.METRIC: "metrics", search.PARAM: "params", search.TAG: "tags"}
_COST = {search.ATTRIBUTE: 0, search.PARAM: 1, search.TAG: 1, search.METRIC: 2, search.DATASET: 3}


class _Values:
    """The few metric/param/tag values of one run that the search looked at (None: absent)."""

    __slots__ = ("metrics", "params", "tags")

    def __init__(self):
        self.metrics: dict = {}
        self.params: dict = {}
        self.tags: dict = {}


class _Candidate:
    """Duck-types a Run for :func:`search.run_value` / :func:`search.sort_runs`."""

    __slots__ = ("run_dir", "info", "data", "inputs")

    def __init__(self, run_dir: str, info):
        self.run_dir = run_dir
        self.info = info
        self.data = _Values()
        self.inputs = None  # the run's RunInputs, read when a dataset filter needs them


class _Reader:
    """Reads the values one search needs; each key's path suffix is worked out (and validated) once."""

    def __init__(self, layout: RunLayout):
        self.layout = layout
        self.suffixes: dict[tuple[str, str], str | None] = {}

    def suffix(self, kind: str, key: str) -> str | None:
        found = self.suffixes.get((kind, key), False)
        if found is False:
            try:
                validation.validate_key(key, kind)
                found = os.sep + _SUBDIR[kind] + os.sep + key.replace("/", os.sep)
            except Exception:
                found = None  # a key no run can have, and never a path outside the run
            self.suffixes[(kind, key)] = found
        return found

    def value(self, cand: _Candidate, kind: str, key: str):
        """The value a comparison/order_by needs, read from disk on first use."""
        if kind == search.ATTRIBUTE:
            return getattr(cand.info, key, None)
        if kind == search.METRIC:
            cache = cand.data.metrics
        elif kind == search.PARAM:
            cache = cand.data.params
        elif kind == search.TAG:
            cache = cand.data.tags
        else:
            return None
        if key in cache:
            return cache[key]
        suffix = self.suffix(kind, key)
        if suffix is None:
            value = None
        elif kind == search.METRIC:
            row = self.layout.latest.latest(cand.run_dir + suffix)
            value = None if row is None else row[1]
        elif kind == search.PARAM:
            value = self.layout.params.get(cand.run_dir + suffix)
        else:
            value = fio.read_text(cand.run_dir + suffix)
        cache[key] = value
        return value

    def matches(self, cand: _Candidate, comparisons) -> bool:
        for c in comparisons:
            if c.kind == search.DATASET:
                if cand.inputs is None:
                    cand.inputs = load_run_inputs(cand.run_dir, self.layout.report)
                if not search.run_matches(cand, (c,)):
                    return False
                continue
            if not search.compare(c.op, self.value(cand, c.kind, c.key), c.value):
                return False
        return True


def search_runs(
    layout: RunLayout, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token
) -> PagedList:
    """See :meth:`FileStore.search_runs`."""
    max_results = validation.validate_max_results(max_results)
    comparisons = sorted(search.parse_filter(filter_string), key=lambda c: _COST.get(c.kind, 3))
    orders = search.parse_order_by(order_by)
    search.decode_page_token(page_token)  # reject a bad token before any I/O
    stages = ViewType.stages(run_view_type)
    named = any(c.kind == search.ATTRIBUTE and c.key == "run_name" for c in comparisons) or any(
        o.kind == search.ATTRIBUTE and o.key == "run_name" for o in orders
    )
    reader = _Reader(layout)
    found = []
    for eid in dict.fromkeys(str(e) for e in experiment_ids or []):
        located = layout.experiment_path(eid)
        if located is None:
            continue
        pending: set[str] = set()  # runs with a batch journal: complete it before reading them
        for run_dir in layout.run_dirs_of(located[0], pending):
            if pending and os.path.basename(run_dir) in pending:
                layout.settle(run_dir)
            info = layout.run_info_at(run_dir)
            if info is None or info.lifecycle_stage not in stages or info.experiment_id != eid:
                continue
            if named:
                info = layout.named(run_dir, info)
            cand = _Candidate(run_dir, info)
            if reader.matches(cand, comparisons):
                found.append(cand)
    for ob in orders:
        for cand in found:
            reader.value(cand, ob.kind, ob.key)
    page, token = search.paginate(search.sort_runs(found, orders), max_results, page_token)
    return PagedList([load_run(layout, c.run_dir, c.info) for c in page], token)
