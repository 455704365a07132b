"""Every key/value/limit check, in one place. Each violation raises InvalidParameterValue naming
the field and the rule. Limits follow MLflow 2.x/3.x."""

from __future__ import annotations

import math
import numbers
import posixpath
import re
from functools import lru_cache

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import system_tags

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 5000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_RESULTS_DEFAULT = 1000
MAX_RESULTS_LIMIT = 50000

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # steps and timestamps are stored as signed 64-bit integers

# matched with fullmatch: "$" would also match before a final newline ("loss\n")
_KEY_RE = re.compile(r"[/\w.\- :]*")
RUN_ID_RE = re.compile(r"[a-zA-Z0-9][\w\-]{0,255}")
EXPERIMENT_ID_RE = re.compile(r"[a-zA-Z0-9][\w\-]{0,63}")


def validate_key(key, kind: str = "key") -> str:
    """A metric/param/tag key: <= 250 chars of ``[/\\w.\\- :]`` forming a normalized relative path."""
    if type(key) is str:
        return _validate_str_key(key, kind)  # cached: training loops log the same few keys over and over
    return _check_key(key, kind)


@lru_cache(maxsize=4096)
def _validate_str_key(key: str, kind: str) -> str:
    return _check_key(key, kind)


def _check_key(key, kind: str) -> str:
    if key is None or key == "":
        raise InvalidParameterValue(f"A {kind} name must be provided.")
    if not isinstance(key, str):
        raise InvalidParameterValue(f"Invalid {kind} name {key!r}: must be a string, got {type(key).__name__}")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameterValue(
            f"Invalid {kind} name '{key[:40]}...': length {len(key)} exceeds the limit of {MAX_KEY_LENGTH}"
        )
    if not _KEY_RE.fullmatch(key):
        raise InvalidParameterValue(
            f"Invalid {kind} name {key!r}: names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colons (:) and slashes (/)"
        )
    if posixpath.normpath(key) != key or key == "." or key.startswith("..") or key.startswith("/"):
        raise InvalidParameterValue(
            f"Invalid {kind} name {key!r}: must be a normalized relative path "
            "(no '..', no leading or trailing '/', no '//' or '/./')"
        )
    return key


def _check_unicode(text: str, field: str) -> str:
    """Every store writes text as UTF-8: a lone surrogate (``"\\ud800"``) can't be, so it is refused up front."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidParameterValue(
                f"Invalid {field}: must be valid Unicode text, but has a lone surrogate at position {exc.start}"
            ) from None
    return text


def validate_param(key, value) -> tuple[str, str]:
    validate_key(key, "param")
    text = _check_unicode("" if value is None else str(value), f"value of param '{key}'")
    if len(text) > MAX_PARAM_VALUE_LENGTH:
        raise InvalidParameterValue(
            f"Param value for '{key}' has length {len(text)}, which exceeds the limit of {MAX_PARAM_VALUE_LENGTH}"
        )
    return key, text


def validate_tag(key, value, limit: int = MAX_TAG_VALUE_LENGTH) -> tuple[str, str]:
    validate_key(key, "tag")
    text = _check_unicode("" if value is None else str(value), f"value of tag '{key}'")
    if len(text) > limit:
        raise InvalidParameterValue(f"Tag value for '{key}' has length {len(text)}, which exceeds the limit of {limit}")
    return key, text


def validate_experiment_tag(key, value) -> tuple[str, str]:
    return validate_tag(key, value, MAX_EXPERIMENT_TAG_VALUE_LENGTH)


def validate_metric(key, value, timestamp, step) -> tuple[str, float, int, int]:
    """Metric values are numbers (NaN and +/-inf allowed; bool rejected); timestamp a non-negative and step any
    integer, both within the signed 64-bit range the stores keep. Returns (key, float value, timestamp, step)."""
    validate_key(key, "metric")
    if (
        type(value) is float
        and type(timestamp) is int
        and type(step) is int
        and 0 <= timestamp <= INT64_MAX
        and INT64_MIN <= step <= INT64_MAX
    ):
        return key, value, timestamp, step  # fast path: the common case costs four type checks
    if isinstance(value, bool) or not isinstance(value, numbers.Number):
        # numpy scalars are numbers.Number; strings and None are not
        raise InvalidParameterValue(
            f"Got invalid value {value!r} for metric '{key}' (timestamp={timestamp}): "
            "metric values must be numeric (int or float; NaN and +/-inf allowed), not "
            f"{type(value).__name__}"
        )
    try:
        fvalue = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidParameterValue(f"Got invalid value {value!r} for metric '{key}': {exc}") from None
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral):
        raise InvalidParameterValue(
            f"Got invalid timestamp {timestamp!r} for metric '{key}': must be a non-negative integer (ms)"
        )
    timestamp = _int64(timestamp, "timestamp", key, 0)
    return key, fvalue, timestamp, _int64(0 if step is None else step, "step", key, INT64_MIN)


def _int64(x, field: str, key, minimum: int) -> int:
    """``x`` as an int in [minimum, INT64_MAX]; floats only when integral (3.0 -> 3)."""
    rule = f"must be an integer between {minimum} and {INT64_MAX}"
    if isinstance(x, bool) or not isinstance(x, numbers.Number):
        raise InvalidParameterValue(f"Got invalid {field} {x!r} for metric '{key}': {rule}")
    if isinstance(x, numbers.Integral):
        n = int(x)
    else:
        try:
            f = float(x)
        except (TypeError, ValueError, OverflowError):
            f = math.nan
        if not math.isfinite(f) or f != int(f):
            raise InvalidParameterValue(f"Got invalid {field} {x!r} for metric '{key}': {rule}")
        n = int(f)
    if not minimum <= n <= INT64_MAX:
        raise InvalidParameterValue(f"Got invalid {field} {x!r} for metric '{key}': {rule} (signed 64-bit)")
    return n


def validate_batch_limits(metrics, params, tags) -> None:
    if len(metrics) > MAX_METRICS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_METRICS_PER_BATCH} metrics; got {len(metrics)}"
        )
    if len(params) > MAX_PARAMS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_PARAMS_PER_BATCH} params; got {len(params)}"
        )
    if len(tags) > MAX_TAGS_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_TAGS_PER_BATCH} tags; got {len(tags)}"
        )
    total = len(metrics) + len(params) + len(tags)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameterValue(
            f"A batch logging request can contain at most {MAX_ENTITIES_PER_BATCH} entities; got {total}"
        )


def validate_batch(metrics, params, tags) -> None:
    """Check a whole batch before anything is written, so a rejected batch writes nothing."""
    validate_batch_limits(metrics, params, tags)
    seen: dict[str, str] = {}
    for p in params:
        validate_param(p.key, p.value)
        if p.key in seen and seen[p.key] != p.value:
            raise InvalidParameterValue(
                f"Duplicate parameter key '{p.key}' with different values in one batch "
                f"({seen[p.key]!r} and {p.value!r})"
            )
        seen[p.key] = p.value
    for m in metrics:
        validate_metric(m.key, m.value, m.timestamp, m.step)
    for t in tags:
        validate_tag(t.key, t.value)


def validate_run_id(run_id) -> str:
    """A run id: 1-256 characters of ``[a-zA-Z0-9_-]``, not starting with ``_`` or ``-``."""
    if type(run_id) is str:
        return _validate_str_run_id(run_id)  # cached: a training loop logs to the same run over and over
    return _check_run_id(run_id)


@lru_cache(maxsize=1024)
def _validate_str_run_id(run_id: str) -> str:
    return _check_run_id(run_id)


def _check_run_id(run_id) -> str:
    if not isinstance(run_id, str) or not RUN_ID_RE.fullmatch(run_id):
        raise InvalidParameterValue(f"Invalid run ID {run_id!r}: must match {RUN_ID_RE.pattern}")
    return run_id


def validate_experiment_id(experiment_id) -> str:
    if isinstance(experiment_id, int) and not isinstance(experiment_id, bool):
        experiment_id = str(experiment_id)
    if not isinstance(experiment_id, str) or not EXPERIMENT_ID_RE.fullmatch(experiment_id):
        raise InvalidParameterValue(f"Invalid experiment ID {experiment_id!r}: must match {EXPERIMENT_ID_RE.pattern}")
    return experiment_id


def validate_experiment_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameterValue(f"Invalid experiment name {name!r}: must be a non-empty string")
    _check_unicode(name, "experiment name")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Invalid experiment name: length {len(name)} exceeds the limit of {MAX_EXPERIMENT_NAME_LENGTH}"
        )
    return name


def validate_max_results(max_results, limit: int = MAX_RESULTS_LIMIT) -> int:
    if max_results is None:
        return MAX_RESULTS_DEFAULT
    if isinstance(max_results, bool) or not isinstance(max_results, numbers.Integral) or max_results <= 0:
        raise InvalidParameterValue(f"Invalid max_results {max_results!r}: must be a positive integer")
    if max_results > limit:
        raise InvalidParameterValue(f"Invalid max_results {max_results}: must be at most {limit}")
    return int(max_results)


def validate_search_args(filter_string, order_by, page_token) -> tuple[str | None, list[str] | None, str | None]:
    """A search's ``filter_string`` (a string), ``order_by`` (a list of strings) and ``page_token`` (a string),
    each optional."""
    if filter_string is not None and not isinstance(filter_string, str):
        raise InvalidParameterValue(
            f'Invalid filter_string {filter_string!r}: must be a string such as "metrics.loss < 0.1"'
        )
    if order_by is not None:
        if isinstance(order_by, str) or not isinstance(order_by, (list, tuple)):
            raise InvalidParameterValue(
                f'Invalid order_by {order_by!r}: must be a list of strings such as ["metrics.loss ASC"]'
            )
        bad = [o for o in order_by if not isinstance(o, str)]
        if bad:
            raise InvalidParameterValue(f"Invalid order_by entry {bad[0]!r}: must be a string")
        order_by = list(order_by)
    if page_token is not None and not isinstance(page_token, str):
        raise InvalidParameterValue(f"Invalid page_token {page_token!r}: must be the string a previous page returned")
    return filter_string, order_by, page_token


def validate_artifact_path(path: str | None) -> str:
    """A relative artifact path that cannot escape the run's artifact root ('' for the root)."""
    if path in (None, "", "."):
        return ""
    if not isinstance(path, str):
        raise InvalidParameterValue(f"Invalid artifact path {path!r}: must be a string")
    norm = posixpath.normpath(path.replace("\\", "/"))
    if (
        norm.startswith("/")
        or norm == ".."
        or norm.startswith("../")
        or "\x00" in norm
        or re.match(r"^[a-zA-Z]:", norm)
    ):
        raise InvalidParameterValue(
            f"Invalid artifact path {path!r}: must be relative and stay inside the run's artifact root"
        )
    return "" if norm == "." else norm


# ---- dataset inputs (log_inputs)
MAX_DATASETS_PER_REQUEST = 1000
DATASET_LIMITS = {
    "name": 500,
    "digest": 36,
    "source_type": 36,
    "source": 65536,
    "schema": 1048576,
    "profile": 16777216,
}
DATASET_CONTEXT_TAG = system_tags.DATASET_CONTEXT
MAX_INPUT_TAG_KEY_LENGTH, MAX_INPUT_TAG_VALUE_LENGTH = 255, 500


def validate_dataset_inputs(inputs) -> list:
    """Check every DatasetInput of a ``log_inputs`` call and drop repeats of the same dataset and context.

    Returns ``[(dataset, {tag key: value})]`` in first-seen order. Name and digest are required; name,
    digest, source, schema and profile must fit :data:`DATASET_LIMITS` (characters)."""
    inputs = list(inputs or [])
    if len(inputs) > MAX_DATASETS_PER_REQUEST:
        raise InvalidParameterValue(
            f"A log_inputs request can contain at most {MAX_DATASETS_PER_REQUEST} datasets; got {len(inputs)}"
        )
    out: dict[tuple, tuple] = {}
    for item in inputs:
        ds = getattr(item, "dataset", None)
        if ds is None:
            raise InvalidParameterValue(f"Invalid dataset input {item!r}: expected a DatasetInput")
        for field in ("name", "digest"):
            value = getattr(ds, field, None)
            if not isinstance(value, str) or not value:
                raise InvalidParameterValue(f"Dataset {field} must be a non-empty string; got {value!r}")
        for field, limit in DATASET_LIMITS.items():
            value = getattr(ds, field, None)
            if value is not None and len(str(value)) > limit:
                raise InvalidParameterValue(
                    f"Dataset {field} of dataset '{ds.name[:100]}' has length {len(str(value))}, "
                    f"which exceeds the limit of {limit}"
                )
        tags: dict[str, str] = {}
        for t in getattr(item, "tags", None) or ():
            if not isinstance(t.key, str) or not t.key:
                raise InvalidParameterValue(f"Dataset input tag key must be a non-empty string; got {t.key!r}")
            value = "" if t.value is None else str(t.value)
            if len(t.key) > MAX_INPUT_TAG_KEY_LENGTH or len(value) > MAX_INPUT_TAG_VALUE_LENGTH:
                raise InvalidParameterValue(
                    f"Dataset input tag '{t.key[:100]}' is too long: keys are limited to "
                    f"{MAX_INPUT_TAG_KEY_LENGTH} characters and values to {MAX_INPUT_TAG_VALUE_LENGTH}"
                )
            tags[t.key] = value
        out.setdefault((ds.name, ds.digest, tags.get(DATASET_CONTEXT_TAG)), (ds, tags))
    return list(out.values())


RUN_NAME_TAG = system_tags.RUN_NAME


def resolve_run_name_and_tags(tags, run_name: str | None) -> tuple[dict[str, str], str]:
    """Validate a new run's tags and reconcile ``run_name`` with the ``mlflow.runName`` tag.

    Returns (tags as a dict, run name or ''); the tag is set to the name so the two always agree.
    Both given with different values -> InvalidParameterValue.
    """
    tag_map: dict[str, str] = {}
    for t in tags or []:
        key, value = validate_tag(t.key, t.value)
        tag_map[key] = value
    tag_name = tag_map.get(RUN_NAME_TAG)
    if run_name is None:
        run_name = tag_name
    elif tag_name is not None and tag_name != run_name:
        raise InvalidParameterValue(
            f"Both 'run_name' argument ({run_name!r}) and the '{RUN_NAME_TAG}' tag ({tag_name!r}) were "
            "specified with different values; give only one, or the same value"
        )
    run_name = "" if run_name is None else str(run_name)
    if run_name:
        validate_tag(RUN_NAME_TAG, run_name)
        tag_map[RUN_NAME_TAG] = run_name
    return tag_map, run_name
