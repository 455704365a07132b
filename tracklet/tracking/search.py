"""The search filter and order_by grammar, parsed into one representation every store uses.

Filter: clauses joined by ``AND``::

    metrics.acc > 0.9 and params.model = 'rf' and tags."my key" LIKE 'a%' and attributes.status IN ('FINISHED')

Identifiers are ``<type>.<key>`` with type one of metric(s), param(s), tag(s), attribute(s) (``run`` and
``attr`` too); a key may be quoted with backquotes or double quotes. A bare identifier that is an attribute
name (``status``, ``run_name``, ...) is an attribute. Operators: ``= != < <= > >= LIKE ILIKE IN NOT IN``.

The SQL store compiles :class:`Comparison` objects to SQL; the file store evaluates them with
:func:`run_matches` / :func:`sort_runs`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.system_tags import DATASET_CONTEXT

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "param", "tag", "attribute", "dataset"

_TYPE_ALIASES = {
    "metric": METRIC,
    "metrics": METRIC,
    "param": PARAM,
    "params": PARAM,
    "parameter": PARAM,
    "parameters": PARAM,
    "tag": TAG,
    "tags": TAG,
    "attribute": ATTRIBUTE,
    "attributes": ATTRIBUTE,
    "attr": ATTRIBUTE,
    "run": ATTRIBUTE,
    "dataset": DATASET,
    "datasets": DATASET,
}

# run attributes that can be filtered/sorted on, with their canonical names
RUN_ATTRIBUTES = {
    "run_id": "run_id",
    "run_uuid": "run_id",
    "id": "run_id",
    "run_name": "run_name",
    "name": "run_name",
    "status": "status",
    "user_id": "user_id",
    "artifact_uri": "artifact_uri",
    "start_time": "start_time",
    "created": "start_time",
    "Created": "start_time",
    "end_time": "end_time",
    "lifecycle_stage": "lifecycle_stage",
    "experiment_id": "experiment_id",
}
NUMERIC_ATTRIBUTES = {"start_time", "end_time", "creation_time", "last_update_time"}
EXPERIMENT_ATTRIBUTES = {
    "name": "name",
    "experiment_id": "experiment_id",
    "creation_time": "creation_time",
    "last_update_time": "last_update_time",
    "lifecycle_stage": "lifecycle_stage",
    "artifact_location": "artifact_location",
}

_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}


@dataclass(frozen=True)
class Comparison:
    kind: str  # metric | param | tag | attribute | dataset
    key: str
    op: str  # = != < <= > >= LIKE ILIKE IN NOT IN
    value: object  # float for numeric comparisons, str, or tuple[str, ...] for IN / NOT IN


@dataclass(frozen=True)
class OrderBy:
    kind: str
    key: str
    ascending: bool = True


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<backq>`[^`]*`)
  | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<word>[\w:/\-]+(?:\.[\w:/\-]+)*\.?)
  | (?P<dot>\.)
    """,
    re.VERBOSE,
)


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, position) of every token; the position lets errors point at the offending token."""
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise InvalidParameterValue(
                f"Invalid filter string {text!r}: unexpected character at position {pos}: {text[pos : pos + 10]!r}"
            )
        kind = m.lastgroup
        if kind != "ws":
            tokens.append((kind, m.group(), pos))
        pos = m.end()
    return tokens


def _unquote(tok: str) -> str:
    if tok[0] == "'":
        return tok[1:-1].replace("''", "'").replace("\\'", "'")
    if tok[0] == '"':
        return tok[1:-1].replace('\\"', '"')
    if tok[0] == "`":
        return tok[1:-1]
    return tok


class _Parser:
    def __init__(self, text: str, attributes: dict[str, str], default_kind_for_bare: str | None):
        self.text = text
        tokens = _tokenize(text)
        self.tokens = [t[:2] for t in tokens]
        self.positions = [t[2] for t in tokens]
        self.i = 0
        self.attributes = attributes
        self.bare = default_kind_for_bare

    def error(self, why: str):
        # the token just taken is the one that broke the rule (or the filter ended early)
        j = max(self.i - 1, 0)
        where = f"at position {self.positions[j]}" if j < len(self.positions) else f"at position {len(self.text)} (end)"
        return InvalidParameterValue(f"Invalid filter string {self.text!r} {where}: {why}")

    def peek(self, offset=0):
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else (None, None)

    def take(self):
        tok = self.peek()
        self.i += 1
        return tok

    def identifier(self) -> tuple[str, str]:
        kind, tok = self.take()
        if kind == "word":
            if tok.endswith("."):
                # type prefix followed by a quoted key: tags."my key" / metrics.`a b`
                prefix = tok[:-1]
                k2, t2 = self.take()
                if k2 not in ("string", "backq"):
                    raise self.error(f"expected a quoted key after '{tok}'")
                return self._resolve(prefix, _unquote(t2))
            if "." in tok:
                prefix, key = tok.split(".", 1)
                return self._resolve(prefix, key)
            return self._resolve(None, tok)
        if kind in ("string", "backq"):
            return self._resolve(None, _unquote(tok))
        raise self.error(f"expected an identifier such as metrics.<key>, got {tok!r}")

    def _resolve(self, prefix: str | None, key: str) -> tuple[str, str]:
        if prefix is None:
            if key in self.attributes:
                return ATTRIBUTE, self.attributes[key]
            if self.bare:
                return self.bare, key
            raise self.error(
                f"invalid identifier {key!r}: use metrics.<key>, params.<key>, tags.<key> or attributes.<name>"
            )
        kind = _TYPE_ALIASES.get(prefix.lower())
        if kind is None:
            raise self.error(f"invalid entity type {prefix!r}: must be one of metrics, params, tags, attributes")
        if kind == ATTRIBUTE:
            if key not in self.attributes:
                raise self.error(
                    f"invalid attribute {key!r}: valid attributes are {sorted(set(self.attributes.values()))}"
                )
            key = self.attributes[key]
        if not key:
            raise self.error("empty key")
        return kind, key

    def comparison(self) -> Comparison:
        kind, key = self.identifier()
        tk, tok = self.take()
        if tk == "op":
            op = {"==": "=", "<>": "!="}.get(tok, tok)
        elif tk == "word" and tok.upper() in ("LIKE", "ILIKE", "IN"):
            op = tok.upper()
        elif tk == "word" and tok.upper() == "NOT":
            tk2, tok2 = self.take()
            if tk2 != "word" or tok2.upper() != "IN":
                raise self.error("expected IN after NOT")
            op = "NOT IN"
        else:
            raise self.error(f"expected a comparison operator after '{key}', got {tok!r}")
        value = self.value(op)
        return self._typecheck(Comparison(kind, key, op, value))

    def value(self, op: str):
        tk, tok = self.take()
        if op in ("IN", "NOT IN"):
            if tk != "lparen":
                raise self.error(f"{op} needs a parenthesised list of quoted strings, e.g. ('a', 'b')")
            items = []
            while True:
                tk, tok = self.take()
                if tk not in ("string", "number"):
                    raise self.error(f"{op} list items must be quoted strings, got {tok!r}")
                items.append(_unquote(tok))
                tk, tok = self.take()
                if tk == "rparen":
                    break
                if tk != "comma":
                    raise self.error(f"expected ',' or ')' in {op} list, got {tok!r}")
            return tuple(items)
        if tk == "number":
            return float(tok)
        if tk == "string":
            return _unquote(tok)
        raise self.error(f"expected a value (number or quoted string) after {op!r}, got {tok!r}")

    def _typecheck(self, c: Comparison) -> Comparison:
        numeric = c.kind == METRIC or (c.kind == ATTRIBUTE and c.key in NUMERIC_ATTRIBUTES)
        if numeric:
            if c.op not in _NUMERIC_OPS:
                raise self.error(
                    f"operator {c.op} is not valid for numeric {c.kind} '{c.key}'; use one of {sorted(_NUMERIC_OPS)}"
                )
            if isinstance(c.value, str):
                try:
                    return Comparison(c.kind, c.key, c.op, float(c.value))
                except ValueError:
                    raise self.error(f"{c.kind} '{c.key}' must be compared with a number, got {c.value!r}") from None
            return c
        if c.op not in _STRING_OPS:
            raise self.error(f"operator {c.op} is not valid for {c.kind} '{c.key}'; use one of {sorted(_STRING_OPS)}")
        if isinstance(c.value, float):
            raise self.error(f"{c.kind} '{c.key}' must be compared with a quoted string, got a number")
        return c

    def parse(self) -> list[Comparison]:
        out = []
        if not self.tokens:
            return out
        while True:
            out.append(self.comparison())
            tk, tok = self.take()
            if tk is None:
                return out
            if tk == "word" and tok.upper() == "AND":
                continue
            if tk == "word" and tok.upper() == "OR":
                raise self.error("OR is not supported; only AND joins clauses")
            raise self.error(f"expected AND or the end of the filter, got {tok!r}")


@lru_cache(maxsize=256)
def parse_filter(filter_string: str | None) -> tuple[Comparison, ...]:
    """Parse a run filter string into comparisons (all must hold)."""
    if filter_string is None or not str(filter_string).strip():
        return ()
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"filter_string must be a string, got {type(filter_string).__name__}")
    return tuple(_Parser(filter_string, RUN_ATTRIBUTES, None).parse())


_EXPERIMENT_KINDS = (ATTRIBUTE, TAG)


def _experiment_fields_only(kind: str, key: str, what: str) -> None:
    if kind not in _EXPERIMENT_KINDS:
        raise InvalidParameterValue(
            f"Invalid experiment {what} on {kind} '{key}': experiments can be searched by tags.<key> and the "
            f"attributes {sorted(set(EXPERIMENT_ATTRIBUTES.values()))} only"
        )


@lru_cache(maxsize=64)
def parse_experiment_filter(filter_string: str | None) -> tuple[Comparison, ...]:
    """Parse an experiment filter: ``name LIKE 'x%'``, ``tags.team = 'a'``, ``creation_time > 0``.
    Metrics, params and datasets belong to runs: filtering experiments on them is an error in every store."""
    if filter_string is None or not str(filter_string).strip():
        return ()
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"filter_string must be a string, got {type(filter_string).__name__}")
    comparisons = tuple(_Parser(filter_string, EXPERIMENT_ATTRIBUTES, None).parse())
    for c in comparisons:
        _experiment_fields_only(c.kind, c.key, "filter")
    return comparisons


def parse_entity_filter(filter_string: str | None, attributes: dict[str, str]) -> tuple[Comparison, ...]:
    """Parse a filter over another entity (e.g. logged models) whose attribute names are ``attributes``."""
    if filter_string is None or not str(filter_string).strip():
        return ()
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"filter_string must be a string, got {type(filter_string).__name__}")
    return tuple(_Parser(filter_string, attributes, None).parse())


def parse_order_by(order_by: list[str] | tuple[str, ...] | None, experiments: bool = False) -> list[OrderBy]:
    """Parse ``["metrics.rmse DESC", "attributes.start_time", "params.`a b` ASC"]``."""
    attributes = EXPERIMENT_ATTRIBUTES if experiments else RUN_ATTRIBUTES
    out = []
    for clause in order_by or []:
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: must be a non-empty string")
        text = clause.strip()
        ascending = True
        m = re.search(r"\s+(ASC|DESC)\s*$", text, re.IGNORECASE)
        if m:
            ascending = m.group(1).upper() == "ASC"
            text = text[: m.start()]
        p = _Parser(text, attributes, None)
        try:
            kind, key = p.identifier()
        except InvalidParameterValue:
            raise InvalidParameterValue(
                f"Invalid order_by clause {clause!r}: expected '<metrics|params|tags|attributes>.<key> [ASC|DESC]'"
            ) from None
        if p.peek()[0] is not None:
            raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: unexpected {p.peek()[1]!r}")
        if experiments:
            _experiment_fields_only(kind, key, "order_by")
        out.append(OrderBy(kind, key, ascending))
    return out


# --------------------------------------------------------------------------- evaluation in Python


@lru_cache(maxsize=512)
def like_regex(pattern: str, case_insensitive: bool) -> re.Pattern:
    """SQL LIKE pattern -> compiled regex (``%`` any run, ``_`` one char)."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.DOTALL | (re.IGNORECASE if case_insensitive else 0))


def compare(op: str, actual, expected) -> bool:
    """Apply one operator; a missing value (None) never matches."""
    if actual is None:
        return False
    if op == "=":
        return actual == expected
    if op == "!=":
        return actual != expected
    if op == "<":
        return actual < expected
    if op == "<=":
        return actual <= expected
    if op == ">":
        return actual > expected
    if op == ">=":
        return actual >= expected
    if op == "LIKE":
        return bool(like_regex(expected, False).match(str(actual)))
    if op == "ILIKE":
        return bool(like_regex(expected, True).match(str(actual)))
    if op == "IN":
        return actual in expected
    if op == "NOT IN":
        return actual not in expected
    raise InvalidParameterValue(f"Unsupported operator {op!r}")


def run_value(run, kind: str, key: str):
    """The value a comparison or order_by looks at for a Run (None when absent)."""
    if kind == METRIC:
        return run.data.metrics.get(key)
    if kind == PARAM:
        return run.data.params.get(key)
    if kind == TAG:
        return run.data.tags.get(key)
    if kind == ATTRIBUTE:
        return getattr(run.info, key, None)
    return None


def _dataset_value(dataset_input, key: str):
    """``datasets.name``/``digest``/... from the dataset; ``datasets.context`` from the input's context tag."""
    if key == "context":
        return next((t.value for t in dataset_input.tags if t.key == DATASET_CONTEXT), None)
    return getattr(dataset_input.dataset, key, None)


def run_matches(run, comparisons) -> bool:
    for c in comparisons:
        if c.kind == DATASET:
            names = {_dataset_value(d, c.key) for d in run.inputs.dataset_inputs}
            if not any(compare(c.op, n, c.value) for n in names if n is not None):
                return False
            continue
        if not compare(c.op, run_value(run, c.kind, c.key), c.value):
            return False
    return True


def experiment_value(exp, kind: str, key: str):
    if kind == TAG:
        return exp.tags.get(key)
    if kind == ATTRIBUTE:
        return getattr(exp, key, None)
    return None


def experiment_matches(exp, comparisons) -> bool:
    return all(compare(c.op, experiment_value(exp, c.kind, c.key), c.value) for c in comparisons)


def _sort(items, order_bys: list[OrderBy], value_fn):
    """Stable multi-key sort; items missing a key go last whatever the direction."""
    items = list(items)
    for ob in reversed(order_bys):
        present = [x for x in items if value_fn(x, ob.kind, ob.key) is not None]
        missing = [x for x in items if value_fn(x, ob.kind, ob.key) is None]
        present.sort(key=lambda x: _sortable(value_fn(x, ob.kind, ob.key)), reverse=not ob.ascending)
        items = present + missing
    return items


def _sortable(v):
    if isinstance(v, float) and v != v:  # NaN sorts above every number, as in MLflow's SQL store
        return (1, 0.0)
    return (0, v)


DEFAULT_RUN_ORDER = [OrderBy(ATTRIBUTE, "start_time", False), OrderBy(ATTRIBUTE, "run_id", True)]
DEFAULT_EXPERIMENT_ORDER = [
    OrderBy(ATTRIBUTE, "creation_time", False),
    OrderBy(ATTRIBUTE, "experiment_id", True),
]


def sort_entities(items, order_bys: list[OrderBy], value_fn):
    """Sort any entities by ``order_bys``, reading values with ``value_fn(item, kind, key)``."""
    return _sort(items, order_bys, value_fn)


def sort_runs(runs, order_bys: list[OrderBy]):
    return _sort(runs, list(order_bys) + DEFAULT_RUN_ORDER, run_value)


def sort_experiments(exps, order_bys: list[OrderBy]):
    return _sort(exps, list(order_bys) + DEFAULT_EXPERIMENT_ORDER, experiment_value)


# --------------------------------------------------------------------------- paging


def encode_page_token(offset: int, after: list | None = None) -> str:
    """A token for the page at ``offset``; ``after`` (the sort values of the last row served) lets a store
    that can seek by them start after that row instead of counting rows, which stays right under inserts."""
    state = {"offset": offset} if after is None else {"offset": offset, "after": after}
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


def decode_page_state(token: str | None) -> tuple[int, list | None]:
    """(offset, sort values of the last row served or None) of a page token."""
    if not token:
        return 0, None
    try:
        state = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        offset, after = state["offset"], state.get("after")
        if not isinstance(offset, int) or offset < 0 or not (after is None or isinstance(after, list)):
            raise ValueError
        return offset, after
    except Exception:
        raise InvalidParameterValue(
            f"Invalid page_token {token!r}: not a token returned by a previous search"
        ) from None


def decode_page_token(token: str | None) -> int:
    return decode_page_state(token)[0]


def paginate(items: list, max_results: int, page_token: str | None):
    """Slice an already sorted list; returns (page, next_token)."""
    offset = decode_page_token(page_token)
    page = items[offset : offset + max_results]
    token = encode_page_token(offset + max_results) if offset + max_results < len(items) else None
    return page, token
