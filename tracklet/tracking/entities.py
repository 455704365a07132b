"""Entities with MLflow's field names: frozen dataclasses, safe to share between threads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


class RunStatus:
    """Run status names (the API's strings) and their integer codes (the file store's)."""

    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    _TO_INT = {"RUNNING": 1, "SCHEDULED": 2, "FINISHED": 3, "FAILED": 4, "KILLED": 5}
    _FROM_INT = {v: k for k, v in _TO_INT.items()}

    @classmethod
    def all_status(cls) -> list[str]:
        return list(cls._TO_INT)

    @classmethod
    def to_int(cls, status: str) -> int:
        return cls._TO_INT[cls.normalize(status)]

    @classmethod
    def from_int(cls, value: int) -> str:
        return cls._FROM_INT[int(value)]

    @classmethod
    def normalize(cls, status: str | int) -> str:
        """Accept ``"finished"``, ``"FINISHED"`` or ``3``; raise a clear error for anything else."""
        from tracklet.exceptions import InvalidParameterValue

        if isinstance(status, int) and not isinstance(status, bool) and status in cls._FROM_INT:
            return cls._FROM_INT[status]
        if isinstance(status, str) and status.upper() in cls._TO_INT:
            return status.upper()
        raise InvalidParameterValue(f"Invalid run status {status!r}: must be one of {', '.join(cls._TO_INT)}")

    # MLflow-compatible spellings
    to_string = staticmethod(lambda status: RunStatus.normalize(status))
    from_string = staticmethod(lambda status: RunStatus.normalize(status))

    @classmethod
    def is_terminated(cls, status: str) -> bool:
        return cls.normalize(status) in (cls.FINISHED, cls.FAILED, cls.KILLED)


class ViewType:
    """Which runs/experiments a search returns, by lifecycle stage."""

    ACTIVE_ONLY = 1
    DELETED_ONLY = 2
    ALL = 3

    _NAMES = {"ACTIVE_ONLY": 1, "DELETED_ONLY": 2, "ALL": 3}

    @classmethod
    def from_string(cls, name: str) -> int:
        from tracklet.exceptions import InvalidParameterValue

        key = str(name).upper()
        if key not in cls._NAMES:
            raise InvalidParameterValue(f"Invalid view type {name!r}: must be one of {', '.join(cls._NAMES)}")
        return cls._NAMES[key]

    @classmethod
    def to_string(cls, value: int) -> str:
        return {v: k for k, v in cls._NAMES.items()}[int(value)]

    @classmethod
    def normalize(cls, value: int | str | None) -> int:
        from tracklet.exceptions import InvalidParameterValue

        if value is None:
            return cls.ACTIVE_ONLY
        if isinstance(value, str):
            return cls.from_string(value)
        if value not in (1, 2, 3):
            raise InvalidParameterValue(f"Invalid view type {value!r}: must be 1, 2 or 3")
        return int(value)

    @classmethod
    def stages(cls, value: int | str | None) -> tuple[str, ...]:
        v = cls.normalize(value)
        return {1: ("active",), 2: ("deleted",), 3: ("active", "deleted")}[v]


class LifecycleStage:
    ACTIVE = "active"
    DELETED = "deleted"


class SourceType:
    NOTEBOOK = "NOTEBOOK"
    JOB = "JOB"
    PROJECT = "PROJECT"
    LOCAL = "LOCAL"
    UNKNOWN = "UNKNOWN"
    _TO_INT = {"NOTEBOOK": 1, "JOB": 2, "PROJECT": 3, "LOCAL": 4, "UNKNOWN": 1000}

    @classmethod
    def to_int(cls, name: str) -> int:
        return cls._TO_INT.get(name, 1000)


@dataclass(frozen=True, slots=True)
class Metric:
    # slots: a history of a million points is a million of these (a third of the memory, faster to build)
    key: str
    value: float
    timestamp: int
    step: int = 0

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value, "timestamp": self.timestamp, "step": self.step}


@dataclass(frozen=True, slots=True)
class MetricWithRunId(Metric):
    """A metric point and the run it belongs to (``get_metric_history_bulk_interval``)."""

    run_id: str = ""

    def to_dict(self) -> dict:
        # Metric.to_dict, not super(): a slots dataclass is a new class, which zero-argument super() misses
        return {**Metric.to_dict(self), "run_id": self.run_id}


_new = object.__new__
_set_key, _set_value = Metric.key.__set__, Metric.value.__set__  # the slots' own setters: no __init__ per point
_set_timestamp, _set_step = Metric.timestamp.__set__, Metric.step.__set__


def _metric(key: str, value: float, timestamp: int, step: int) -> Metric:
    m = _new(Metric)
    _set_key(m, key)
    _set_value(m, value)
    _set_timestamp(m, timestamp)
    _set_step(m, step)
    return m


class MetricHistory(Sequence):
    """The history of one metric, as ``get_metric_history`` returns it: a read-only sequence of
    :class:`Metric` ordered by (step, timestamp), equal to the list of the same Metrics.

    It holds the points as ``(value, timestamp, step)`` rows and builds each Metric when it is read, so
    fetching a long history costs no object per point; :meth:`columns` gives the values, timestamps and
    steps without building any Metric.
    """

    __slots__ = ("key", "_rows", "_cols")

    def __init__(self, key: str, rows: list):
        self.key = key
        self._rows = rows  # (value, timestamp, step, ...) tuples; extra fields are ignored
        self._cols = None

    @classmethod
    def from_columns(cls, key: str, values: list, timestamps: list, steps: list) -> MetricHistory:
        """A history held as three equally long lists in history order (no tuple per point either)."""
        history = cls(key, None)
        history._cols = (values, timestamps, steps)
        return history

    def __len__(self) -> int:
        return len(self._rows) if self._cols is None else len(self._cols[0])

    def __getitem__(self, index):
        if self._cols is not None:
            if isinstance(index, slice):
                return MetricHistory.from_columns(self.key, *(col[index] for col in self._cols))
            values, timestamps, steps = self._cols
            return _metric(self.key, values[index], timestamps[index], steps[index])
        if isinstance(index, slice):
            return MetricHistory(self.key, self._rows[index])
        value, timestamp, step = self._rows[index][:3]
        return _metric(self.key, value, timestamp, step)

    def __iter__(self):
        key = self.key
        if self._cols is not None:
            for value, timestamp, step in zip(*self._cols, strict=True):
                yield _metric(key, value, timestamp, step)
            return
        for row in self._rows:
            yield _metric(key, row[0], row[1], row[2])

    def __eq__(self, other) -> bool:
        if isinstance(other, MetricHistory | list | tuple):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # mutable-sequence-like equality with lists: not hashable

    def __repr__(self) -> str:
        return repr(list(self))

    def columns(self) -> tuple[list[float], list[int], list[int]]:
        """``(values, timestamps, steps)``, three lists in history order."""
        if self._cols is not None:
            return tuple(list(col) for col in self._cols)
        if not self._rows:
            return [], [], []
        values, timestamps, steps = zip(*((r[0], r[1], r[2]) for r in self._rows), strict=True)
        return list(values), list(timestamps), list(steps)


@dataclass(frozen=True)
class Param:
    key: str
    value: str

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value}


@dataclass(frozen=True)
class RunTag:
    key: str
    value: str

    def to_dict(self) -> dict:
        return {"key": self.key, "value": self.value}


ExperimentTag = RunTag


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    creation_time: int | None = None
    last_update_time: int | None = None

    def to_dict(self) -> dict:
        return {
            "experiment_id": self.experiment_id,
            "name": self.name,
            "artifact_location": self.artifact_location,
            "lifecycle_stage": self.lifecycle_stage,
            "tags": dict(self.tags),
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
        }


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    user_id: str
    status: str
    start_time: int
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = LifecycleStage.ACTIVE
    run_name: str = ""

    @property
    def run_uuid(self) -> str:
        return self.run_id

    def to_dict(self) -> dict:
        return {
            "run_id": self.run_id,
            "run_uuid": self.run_id,
            "experiment_id": self.experiment_id,
            "user_id": self.user_id,
            "status": self.status,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "artifact_uri": self.artifact_uri,
            "lifecycle_stage": self.lifecycle_stage,
            "run_name": self.run_name,
        }


@dataclass(frozen=True)
class RunData:
    """Latest value of each metric, all params and tags, as plain dicts (MLflow's ``RunData``)."""

    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    # the latest Metric object per key (timestamp and step of the value in ``metrics``)
    metric_objs: tuple[Metric, ...] = ()

    @property
    def _metric_objs(self) -> list[Metric]:
        return list(self.metric_objs)

    def to_dict(self) -> dict:
        return {"metrics": dict(self.metrics), "params": dict(self.params), "tags": dict(self.tags)}


@dataclass(frozen=True)
class Dataset:
    name: str
    digest: str
    source_type: str = ""
    source: str = ""
    schema: str | None = None
    profile: str | None = None

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("name", "digest", "source_type", "source", "schema", "profile")}


@dataclass(frozen=True)
class DatasetInput:
    dataset: Dataset
    tags: tuple[RunTag, ...] = ()


@dataclass(frozen=True)
class RunInputs:
    dataset_inputs: tuple[DatasetInput, ...] = ()


@dataclass(frozen=True)
class Run:
    info: RunInfo
    data: RunData
    inputs: RunInputs = field(default_factory=RunInputs)

    def to_dictionary(self) -> dict:
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}


@dataclass(frozen=True)
class FileInfo:
    path: str
    is_dir: bool
    file_size: int | None = None


class PagedList(list):
    """A list of results plus ``token``, the page token of the next page (None on the last page)."""

    def __init__(self, items=(), token: str | None = None):
        super().__init__(items)
        self.token = token


def make_run_data(metrics: list[Metric], params: dict[str, str], tags: dict[str, str]) -> RunData:
    """Build RunData from each key's latest Metric (stores pass the latest one per key)."""
    return RunData(
        metrics={m.key: m.value for m in metrics},
        params=dict(params),
        tags=dict(tags),
        metric_objs=tuple(metrics),
    )


def latest_order(step: int, timestamp: int, value: float) -> tuple:
    """Sort key of the "latest" value of a metric key, the one every store reports: max by (step, timestamp,
    value), NaN lowest on a tie so it never hides a real value."""
    nan = value != value
    return (step, timestamp, not nan, 0.0 if nan else value)
