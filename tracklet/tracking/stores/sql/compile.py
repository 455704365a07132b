"""Compile the search AST (tracking/search.py) to SQL: every filter and sort runs in the database.

Semantics match the Python evaluation the file store uses (``search.compare`` / ``search.sort_runs``):
a run missing the metric/param/tag of a comparison never matches it; LIKE is case-sensitive and ILIKE is
not; missing values sort last in both directions; NaN sorts above every number; ties fall back to
``start_time DESC, run_uuid ASC`` (experiments: ``creation_time DESC, experiment_id ASC``).
"""

from __future__ import annotations

import sqlalchemy as sa

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import search
from tracklet.tracking.search import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, Comparison, OrderBy
from tracklet.tracking.stores.sql.schema import (
    datasets,
    experiment_tags,
    experiments,
    inputs,
    latest_metrics,
    params,
    runs,
    tags,
)

NAN, POS_INF, NEG_INF = 1, 2, 3  # metrics.special codes

_RUN_COLUMNS = {
    "run_id": runs.c.run_uuid,
    "run_name": runs.c.name,
    "status": runs.c.status,
    "user_id": runs.c.user_id,
    "artifact_uri": runs.c.artifact_uri,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "lifecycle_stage": runs.c.lifecycle_stage,
    "experiment_id": sa.cast(runs.c.experiment_id, sa.String),
}
_EXPERIMENT_COLUMNS = {
    "name": experiments.c.name,
    "experiment_id": sa.cast(experiments.c.experiment_id, sa.String),
    "creation_time": experiments.c.creation_time,
    "last_update_time": experiments.c.last_update_time,
    "lifecycle_stage": experiments.c.lifecycle_stage,
    "artifact_location": experiments.c.artifact_location,
}
_DATASET_COLUMNS = ("name", "digest")
_NULLABLE_ATTRIBUTES = {"end_time", "creation_time", "last_update_time"}
_BINARY_COLLATION = {"postgresql": "C", "mysql": "utf8mb4_bin"}
_EXACT_INT = 2**53
# SQLite parses "a AND b AND c ..." into a tree as deep as the number of clauses and refuses trees deeper
# than 1,000; conjunctions are nested in groups of this size to keep the depth logarithmic
_AND_GROUP = 64
_JOINED_FILTERS = 4
_KEYED = {METRIC: latest_metrics, PARAM: params, TAG: tags}
_INDEXED = (METRIC, PARAM)  # tables with an (experiment_id, key, value) index
# SQLite joins at most 64 tables in one SELECT, and 3.40 crashes on more than 64 ORDER BY terms next to an
# index that covers some of them: an order_by with more run keys than this is sorted in Python (as the file
# store sorts) over the runs the SQL filter selected
MAX_SQL_ORDER_KEYS = 16


class _Compiler:
    def __init__(self, dialect: str):
        self.dialect = dialect

    # ---- strings
    def cs(self, col):
        """The column compared/sorted by code point, whatever the database's default collation."""
        collation = _BINARY_COLLATION.get(self.dialect)
        return col.collate(collation) if collation else col

    def like_pattern(self, pattern: str) -> str:
        # PostgreSQL and MySQL treat backslash as LIKE's escape character; the grammar has none
        return pattern.replace("\\", "\\\\") if self.dialect in ("postgresql", "mysql") else pattern

    def string_condition(self, col, op: str, value):
        if op == "LIKE":
            if self.dialect == "sqlite":
                # SQLite's LIKE ignores ASCII case; GLOB is case-sensitive
                return col.op("GLOB")(_like_to_glob(value))
            return self.cs(col).like(self.like_pattern(value))
        if op == "ILIKE":
            return col.ilike(self.like_pattern(value))
        if op == "=":
            return self.cs(col) == value
        if op == "!=":
            return self.cs(col) != value
        if op == "IN":
            return self.cs(col).in_(list(value))
        if op == "NOT IN":
            return self.cs(col).not_in(list(value))
        raise InvalidParameterValue(f"Operator {op!r} is not supported for strings")

    # ---- numbers
    @staticmethod
    def number(value: float):
        # an integral value binds as an exact integer while one exists in 64 bits; beyond that it stays a
        # double (SQLite cannot bind a larger integer, and a double compares correctly with any stored value)
        value = float(value)
        return int(value) if value.is_integer() and abs(value) < _EXACT_INT else value

    def numeric_condition(self, col, op: str, value):
        value = self.number(value)
        return {
            "=": col == value,
            "!=": col != value,
            "<": col < value,
            "<=": col <= value,
            ">": col > value,
            ">=": col >= value,
        }[op]

    def metric_condition(self, table, op: str, value):
        # NaN is stored as special=1: it equals nothing and differs from everything, as in Python
        if op == "!=":
            return sa.or_(table.c.special == NAN, table.c.value != value)
        return sa.and_(table.c.special != NAN, self.numeric_condition(table.c.value, op, value))

    # ---- run filters
    def run_condition(self, c: Comparison):
        if c.kind == ATTRIBUTE:
            col = _RUN_COLUMNS.get(c.key)
            if col is None:
                raise InvalidParameterValue(f"Invalid attribute {c.key!r} for a run search")
            if c.key in search.NUMERIC_ATTRIBUTES:
                return self.numeric_condition(col, c.op, c.value)
            return self.string_condition(col, c.op, c.value)
        if c.kind in _KEYED:
            return self.key_exists(c.kind, c.key, [c])
        if c.kind == DATASET:
            if c.key not in _DATASET_COLUMNS and c.key != "context":
                return sa.false()  # as search.run_matches: a dataset field no dataset has matches nothing
            i, d = inputs.alias(), datasets.alias()
            column = i.c.context if c.key == "context" else getattr(d.c, c.key)
            return (
                sa.exists()
                .select_from(i.join(d, d.c.dataset_uuid == i.c.dataset_uuid))
                .where(i.c.run_uuid == runs.c.run_uuid, self.string_condition(column, c.op, c.value))
            )
        raise InvalidParameterValue(f"Invalid filter on {c.kind!r}")

    def value_conditions(self, table, comparisons: list[Comparison], indexed: bool = False):
        """Every comparison on one row of latest_metrics / params / tags (all of the same key); ``indexed``:
        for a read of the (experiment, key, value) index."""
        if comparisons[0].kind == METRIC:
            return conjunction([self.metric_condition(table, c.op, c.value) for c in comparisons])
        conditions = [self.string_condition(table.c.value, c.op, c.value) for c in comparisons]
        if indexed and comparisons[0].kind == PARAM and self.dialect == "postgresql":
            # the same test on md5(value), which the version 5 index holds (it cannot hold long values); only
            # here: PostgreSQL multiplies the two tests' selectivities, and a per-run check so underestimated
            # would turn the plan around
            conditions += [_md5_condition(table.c.value, c) for c in comparisons if c.op in ("=", "IN")]
        return conjunction(conditions)

    def key_exists(self, kind: str, key: str, comparisons: list[Comparison]):
        """EXISTS: the run's metric/param/tag ``key`` passes every comparison (one row per run and key, so
        any number of comparisons on a key is one lookup)."""
        table = _KEYED[kind].alias()
        return sa.exists().where(
            table.c.run_uuid == runs.c.run_uuid, table.c.key == key, self.value_conditions(table, comparisons)
        )

    def indexed_runs(self, kind: str, key: str, comparisons: list[Comparison], experiment_ids: list[int]):
        """The ids of the runs of the experiments whose metric/param ``key`` passes every comparison, read
        from the (experiment, key, value) index: a search driven by it visits only the runs that pass."""
        table = _KEYED[kind].alias()
        return (
            sa.select(table.c.run_uuid)
            .where(
                table.c.experiment_id.in_(experiment_ids),
                table.c.key == key,
                self.value_conditions(table, comparisons, indexed=True),
            )
            .subquery("driver")
        )

    # ---- run ordering
    def run_order(self, orders: list[OrderBy], source=runs, lead=None):
        """(from-clause, sort terms ``[(expression, ascending)]``) for the run search, joining the sort keys
        onto ``source``. Where an expression can be NULL (a missing key), the term before it puts every such
        row in a group of its own, so NULLs never need ordering against values. ``lead``: the latest_metrics
        alias already in ``source`` for the first sort key (a metric); the first metric's alias is kept in
        ``self.first_metric``."""
        terms = []
        self.first_metric = None
        for ob in _distinct_keys([*orders, *search.DEFAULT_RUN_ORDER]):
            if ob.kind == ATTRIBUTE:
                col = _RUN_COLUMNS.get(ob.key)
                if col is None:
                    raise InvalidParameterValue(f"Invalid order_by attribute {ob.key!r}")
                if ob.key in _NULLABLE_ATTRIBUTES:
                    terms.append((sa.case((col.is_(None), 1), else_=0), True))
                if ob.key not in search.NUMERIC_ATTRIBUTES:
                    col = self.cs(col)
                terms.append((col, ob.ascending))
            elif ob.kind == METRIC:
                if lead is not None and not terms:
                    lm = lead
                else:
                    lm = latest_metrics.alias()
                    source = source.outerjoin(lm, sa.and_(lm.c.run_uuid == runs.c.run_uuid, lm.c.key == ob.key))
                if not terms:
                    self.first_metric = lm
                terms.append((sa.case((lm.c.run_uuid.is_(None), 1), else_=0), True))
                terms.append((sa.case((lm.c.special == NAN, 1), else_=0), ob.ascending))
                terms.append((lm.c.value, ob.ascending))
            elif ob.kind in (PARAM, TAG):
                table = (params if ob.kind == PARAM else tags).alias()
                source = source.outerjoin(table, sa.and_(table.c.run_uuid == runs.c.run_uuid, table.c.key == ob.key))
                terms.append((sa.case((table.c.run_uuid.is_(None), 1), else_=0), True))
                terms.append((self.cs(table.c.value), ob.ascending))
            else:
                raise InvalidParameterValue(f"Invalid order_by on {ob.kind!r}")
        return source, terms

    # ---- experiments
    def experiment_condition(self, c: Comparison):
        if c.kind == ATTRIBUTE:
            col = _EXPERIMENT_COLUMNS.get(c.key)
            if col is None:
                raise InvalidParameterValue(f"Invalid attribute {c.key!r} for an experiment search")
            if c.key in search.NUMERIC_ATTRIBUTES:
                return self.numeric_condition(col, c.op, c.value)
            return self.string_condition(col, c.op, c.value)
        if c.kind == TAG:
            t = experiment_tags.alias()
            cond = self.string_condition(t.c.value, c.op, c.value)
            return sa.exists().where(t.c.experiment_id == experiments.c.experiment_id, t.c.key == c.key, cond)
        raise InvalidParameterValue(
            f"Invalid experiment filter on {c.kind} '{c.key}': only attributes and tags can be filtered"
        )

    def experiment_order(self, orders: list[OrderBy]):
        source = experiments
        clauses = []
        for ob in _distinct_keys([*orders, *search.DEFAULT_EXPERIMENT_ORDER]):
            direction = sa.asc if ob.ascending else sa.desc
            if ob.kind == ATTRIBUTE:
                if ob.key == "experiment_id":
                    clauses.append(direction(experiments.c.experiment_id))  # numeric order for numeric ids
                    continue
                col = _EXPERIMENT_COLUMNS.get(ob.key)
                if col is None:
                    raise InvalidParameterValue(f"Invalid order_by attribute {ob.key!r}")
                if ob.key in _NULLABLE_ATTRIBUTES:
                    clauses.append(sa.case((col.is_(None), 1), else_=0))
                clauses.append(direction(col if ob.key in search.NUMERIC_ATTRIBUTES else self.cs(col)))
            elif ob.kind == TAG:
                t = experiment_tags.alias()
                source = source.outerjoin(
                    t, sa.and_(t.c.experiment_id == experiments.c.experiment_id, t.c.key == ob.key)
                )
                clauses.append(sa.case((t.c.experiment_id.is_(None), 1), else_=0))
                clauses.append(direction(self.cs(t.c.value)))
            else:
                raise InvalidParameterValue(f"Invalid experiment order_by on {ob.kind} '{ob.key}'")
        return source, clauses


def _md5_condition(col, c: Comparison):
    # md5 of the bound value computed by the database (its encoding), folded to a constant when planning
    digests = [sa.func.md5(sa.cast(sa.literal(v), sa.Text)) for v in ([c.value] if c.op == "=" else c.value)]
    return sa.func.md5(col).in_(digests) if c.op == "IN" else sa.func.md5(col) == digests[0]


def _distinct_keys(orders: list[OrderBy]) -> list[OrderBy]:
    """Drop repeated sort keys: a key sorted on again only orders ties that it already separated."""
    seen, out = set(), []
    for ob in orders:
        if (ob.kind, ob.key) not in seen:
            seen.add((ob.kind, ob.key))
            out.append(ob)
    return out


def conjunction(conditions: list):
    """AND of ``conditions``, nested in groups so the expression tree stays shallow for any count."""
    if len(conditions) <= _AND_GROUP:
        return sa.and_(*conditions)
    groups = [conditions[i : i + _AND_GROUP] for i in range(0, len(conditions), _AND_GROUP)]
    # coalesce(x, false) is x in a WHERE clause; as a function call it makes the database parse the group
    # as one node (SQLAlchemy flattens nested and_() and parentheses)
    return conjunction([sa.func.coalesce(sa.and_(*group), sa.false()) for group in groups])


def _like_to_glob(pattern: str) -> str:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def sorts_in_sql(orders: list[OrderBy]) -> bool:
    """Whether :func:`run_search_statement` can sort by ``orders`` in the database."""
    return len([ob for ob in _distinct_keys(orders) if ob.kind != ATTRIBUTE]) <= MAX_SQL_ORDER_KEYS


# A search ordered first by a metric is answered in segments, each a run of rows the full order keeps
# together: the metric's NaN values, its numbers, and the runs without it (in that order for DESC; numbers
# first for ASC). The first two can be read from the (experiment, key, value) index in the order of the page,
# so a LIMIT stops the scan after the page (see run_search_statement).
NAN_SEGMENT, VALUE_SEGMENT, MISSING_SEGMENT = "nan", "value", "missing"


def metric_segments(orders: list[OrderBy]) -> list[str] | None:
    """The segments of a search sorted by ``orders`` in order, or None when the first sort key is no metric."""
    first = _distinct_keys([*orders, *search.DEFAULT_RUN_ORDER])[0]
    if first.kind != METRIC:
        return None
    if first.ascending:
        return [VALUE_SEGMENT, NAN_SEGMENT, MISSING_SEGMENT]
    return [NAN_SEGMENT, VALUE_SEGMENT, MISSING_SEGMENT]


def sorted_by_start_time(orders: list[OrderBy]) -> bool:
    """Whether the first sort key is the start time (the default order): the (experiment, start_time) index
    gives the runs in page order."""
    first = _distinct_keys([*orders, *search.DEFAULT_RUN_ORDER])[0]
    return first.kind == ATTRIBUTE and first.key == "start_time"


def segment_of(after: list) -> str:
    """The segment of the row whose sort values (page token) are ``after``."""
    if after[0] == 1:
        return MISSING_SEGMENT
    return NAN_SEGMENT if after[1] == 1 else VALUE_SEGMENT


def probe_statements(dialect: str, experiment_ids: list[int], comparisons: tuple[Comparison, ...], cap: int):
    """One ``count`` per indexed metric/param filter of the runs passing it, counting at most ``cap``: cheap
    index-range counts that tell whether a filter is selective enough to drive the search."""
    comp = _Compiler(dialect)
    out = []
    for (kind, key), group in _keyed_groups(comparisons)[0].items():
        if kind in _INDEXED:
            found = comp.indexed_runs(kind, key, group, experiment_ids)
            out.append(sa.select(sa.func.count()).select_from(sa.select(found.c.run_uuid).limit(cap).subquery()))
    return out


def _keyed_groups(comparisons) -> tuple[dict[tuple[str, str], list[Comparison]], list[Comparison]]:
    keyed: dict[tuple[str, str], list[Comparison]] = {}  # every comparison on one metric/param/tag together
    others = []
    for c in dict.fromkeys(comparisons):  # a repeated clause filters nothing more
        if c.kind in _KEYED:
            keyed.setdefault((c.kind, c.key), []).append(c)
        else:
            others.append(c)
    return keyed, others


def run_search_statement(
    dialect: str,
    experiment_ids: list[int],
    stages: tuple[str, ...],
    comparisons: tuple[Comparison, ...],
    orders: list[OrderBy],
    after: list | None = None,
    segment: str | None = None,
    drive: bool = True,
) -> sa.Select:
    """SELECT the runs' columns matching every comparison, then the values of their sort terms; sorted when
    :func:`sorts_in_sql` (else unsorted, for the caller to sort), only the rows after the sort values
    ``after`` when given; the caller adds LIMIT/OFFSET.

    ``segment`` (see :func:`metric_segments`) selects only that segment's rows. The NaN and number segments
    walk the first sort metric's (experiment, key, value) index in page order and check the filters per run,
    which pays when the filters pass many runs; otherwise the most selective filter drives the search, unless
    ``drive`` is false (then the database reads the runs in the order of an index, when one fits the order)."""
    comp = _Compiler(dialect)
    keyed, others = _keyed_groups(comparisons)
    source = runs
    where = [runs.c.experiment_id.in_(experiment_ids), runs.c.lifecycle_stage.in_(list(stages))]
    walk = segment in (NAN_SEGMENT, VALUE_SEGMENT)
    indexed = [group for group in keyed if group[0] in _INDEXED]
    lead = None
    if walk:
        first = _distinct_keys(orders)[0]
        lead = latest_metrics.alias("lead")
        source = lead.join(runs, runs.c.run_uuid == lead.c.run_uuid)
        where += [lead.c.experiment_id.in_(experiment_ids), lead.c.key == first.key]
        if segment == NAN_SEGMENT:  # NaN is stored as 0.0 (special 1): one point of the index
            where += [lead.c.value == 0.0, lead.c.special == NAN]
        else:
            where.append(lead.c.special != NAN)
            if after is not None and segment_of(after) == VALUE_SEGMENT and after[2] is not None:
                # the page starts at the token's value: an index bound, not a filter on every row before it
                where.append(lead.c.value <= after[2] if not first.ascending else lead.c.value >= after[2])
    elif indexed and drive:
        # start from the runs that pass the most selective metric/param filter (an index range), so the
        # cost grows with the runs that pass, not with the runs of the experiment; the other clauses are
        # then checked per passing run through the (run, key) primary keys
        driver = min(indexed, key=lambda group: min(_selectivity_rank(c) for c in keyed[group]))
        found = comp.indexed_runs(*driver, keyed.pop(driver), experiment_ids)
        source = found.join(runs, runs.c.run_uuid == found.c.run_uuid)
    source, terms = comp.run_order(orders, source, lead) if sorts_in_sql(orders) else (source, [])
    if segment == MISSING_SEGMENT:
        where.append(comp.first_metric.c.run_uuid.is_(None))
    if after is not None:
        where.append(_after(terms, after))
    checks = [comp.key_exists(kind, key, group) for (kind, key), group in keyed.items()]
    checks += [comp.run_condition(c) for c in others]
    for n, condition in enumerate(checks):
        # PostgreSQL turns each top-level EXISTS into a join and plans all their orders: past a few, keep
        # them as per-row checks (a function argument is not pulled up)
        where.append(condition if n < _JOINED_FILTERS else sa.func.coalesce(condition, sa.false()))
    keys = [expr.label(f"sort_key_{n}") for n, (expr, _) in enumerate(terms)]
    order_clauses = [sa.asc(expr) if ascending else sa.desc(expr) for expr, ascending in terms]
    if walk:  # the missing/NaN flags are constant in the segment: ordering by them would defeat the index
        order_clauses = order_clauses[2:]
    return sa.select(*runs.c, *keys).select_from(source).where(conjunction(where)).order_by(*order_clauses)


def _after(terms: list, values: list):
    """Rows sorting strictly after the row whose sort terms were ``values`` (keyset paging: a page token
    that stays right when runs are added or removed before it)."""
    if len(values) != len(terms):
        raise InvalidParameterValue("Invalid page_token: it belongs to a search with another order_by")
    options = []
    for k, (expr, ascending) in enumerate(terms):
        equal = [terms[i][0].is_not_distinct_from(values[i]) for i in range(k)]
        if values[k] is None:  # a group of missing values: nothing sorts beyond it within this term
            continue
        beyond = expr > values[k] if ascending else expr < values[k]
        options.append(conjunction([*equal, beyond]))
    return sa.or_(*options)


def _selectivity_rank(c: Comparison) -> int:
    """Lower = likely to pass fewer runs: equality on a param, equality on a metric, ranges, the rest."""
    if c.op in ("=", "IN"):
        return 0 if c.kind == PARAM else 1
    if c.op in ("<", "<=", ">", ">=", "LIKE"):
        return 2
    return 3


def experiment_search_statement(
    dialect: str, stages: tuple[str, ...], comparisons: tuple[Comparison, ...], orders: list[OrderBy]
) -> sa.Select:
    comp = _Compiler(dialect)
    source, order_clauses = comp.experiment_order(orders)
    where = [experiments.c.lifecycle_stage.in_(list(stages))]
    where += [comp.experiment_condition(c) for c in dict.fromkeys(comparisons)]
    return sa.select(*experiments.c).select_from(source).where(conjunction(where)).order_by(*order_clauses)
