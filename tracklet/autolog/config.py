"""Per-integration autolog configuration, read by patch code at call time.

An explicit per-framework call (``tracklet.sklearn.autolog(...)``) wins over ``tracklet.autolog(...)``:
a later global call leaves an explicitly configured integration alone, except ``disable=True``, which
turns everything off.
"""

from __future__ import annotations

import dataclasses
import threading
from dataclasses import dataclass, field

from tracklet.exceptions import InvalidParameterValue


@dataclass(frozen=True)
class AutologConfig:
    """The options every integration shares, plus ``options`` for framework-specific ones."""

    log_models: bool = True
    log_input_examples: bool = False
    log_model_signatures: bool = True
    log_datasets: bool = True
    disable: bool = False
    exclusive: bool = False
    disable_for_unsupported_versions: bool = False
    silent: bool = False
    extra_tags: dict | None = None
    options: dict = field(default_factory=dict)  # e.g. {"max_tuning_runs": 5, "log_every_n_iter": 1}


COMMON_FIELDS = tuple(f.name for f in dataclasses.fields(AutologConfig) if f.name != "options")

# An integration nobody configured is off.
_UNCONFIGURED = AutologConfig(disable=True)
_configs: dict[str, tuple[AutologConfig, bool]] = {}
lock = threading.RLock()  # guards configuration changes and patch installation


def get_config(integration: str) -> AutologConfig:
    """The configuration in effect for ``integration`` (disabled if never configured)."""
    entry = _configs.get(integration)
    return entry[0] if entry else _UNCONFIGURED


def set_config(integration: str, config: AutologConfig, explicit: bool) -> None:
    """Store ``config``; ``explicit`` marks a per-framework call, which a global call does not override."""
    with lock:
        _configs[integration] = (config, explicit)


def is_explicit(integration: str) -> bool:
    entry = _configs.get(integration)
    return bool(entry and entry[1])


def build_config(opts: dict) -> AutologConfig:
    """An AutologConfig from an ``autolog(...)`` call's arguments (its ``locals()``): the shared options
    become fields, everything else goes to ``options``. Validates the shared ones."""
    opts = {k: v for k, v in opts.items() if not k.startswith("_")}
    common = {k: opts.pop(k) for k in COMMON_FIELDS if k in opts}
    for name in (
        "log_models",
        "log_input_examples",
        "log_model_signatures",
        "log_datasets",
        "disable",
        "exclusive",
        "disable_for_unsupported_versions",
        "silent",
    ):
        if name in common and not isinstance(common[name], bool):
            raise InvalidParameterValue(f"autolog: {name} must be True or False, got {common[name]!r}")
    tags = common.get("extra_tags")
    if tags is not None:
        if not isinstance(tags, dict):
            raise InvalidParameterValue(
                f"autolog: extra_tags must be a dict of tag name -> value, got {type(tags).__name__}"
            )
        common["extra_tags"] = {str(k): "" if v is None else str(v) for k, v in tags.items()}
    opts.pop("kwargs", None)
    return AutologConfig(**common, options=opts)


def clear() -> None:
    """Forget every configuration (tests)."""
    with lock:
        _configs.clear()
