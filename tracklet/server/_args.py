"""Typed access to a request's fields, from a JSON body or a query string, with 400s that name the field."""

from __future__ import annotations

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import wire


class Args:
    """The fields of one request. ``data`` maps names to JSON values, or (for a query string) to lists of
    strings; ``from_query`` says which, so ``int`` accepts ``"5"`` from a URL but a string only where the
    protobuf JSON mapping allows one (int64 as a decimal string)."""

    __slots__ = ("data", "from_query")

    def __init__(self, data: dict, from_query: bool = False):
        self.data = data
        self.from_query = from_query

    def _raw(self, name: str):
        value = self.data.get(name)
        if self.from_query and isinstance(value, list):
            return value[-1] if value else None
        return value

    def has(self, name: str) -> bool:
        return self._raw(name) is not None

    def str(self, name: str, required: bool = False, default: str | None = None) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise InvalidParameterValue(f"Missing value for required parameter '{name}'")
            return default
        return wire.str_from_json(value, name)

    def int(self, name: str, required: bool = False, default: int | None = None) -> int | None:
        value = self._raw(name)
        if value is None or (self.from_query and value == ""):
            if required:
                raise InvalidParameterValue(f"Missing value for required parameter '{name}'")
            return default
        return wire.int_from_json(value, name)

    def bool(self, name: str, default: bool = False) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidParameterValue(f"Invalid value {value!r} for parameter '{name}': expected true or false")

    def str_list(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, str) and not self.from_query:
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidParameterValue(f"Invalid value for parameter '{name}': expected a list of strings")
        return value

    def raw(self, name: str):
        """The JSON value as sent (lists of objects are parsed by ``tracking.wire``)."""
        return None if self.from_query else self.data.get(name)

    def view_type(self, name: str) -> int:
        """``ACTIVE_ONLY`` / ``DELETED_ONLY`` / ``ALL`` (or 1/2/3); default active only."""
        from tracklet.tracking.entities import ViewType

        value = self._raw(name)
        if value is None or value == "":
            return ViewType.ACTIVE_ONLY
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidParameterValue(f"Invalid value {value!r} for parameter '{name}'")
        return ViewType.normalize(value)
