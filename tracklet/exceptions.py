"""Exceptions raised by tracklet.

Hierarchy::

    TrackletException (error_code, message; .http_status)
    ├── InvalidParameterValue   INVALID_PARAMETER_VALUE   (HTTP 400)  bad key, value, limit or argument
    ├── ResourceDoesNotExist    RESOURCE_DOES_NOT_EXIST   (HTTP 404)  unknown run, experiment, artifact
    ├── ResourceAlreadyExists   RESOURCE_ALREADY_EXISTS   (HTTP 400)  duplicate experiment name, ...
    ├── InvalidState            INVALID_STATE             (HTTP 400)  e.g. writing to a deleted run
    └── RestException           any code, raised by the REST store from a server's JSON error

``MlflowException`` is an alias of :class:`TrackletException`, so code written against MLflow's
exception type keeps working.
"""

from __future__ import annotations

INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
INVALID_STATE = "INVALID_STATE"
INTERNAL_ERROR = "INTERNAL_ERROR"
BAD_REQUEST = "BAD_REQUEST"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"

_HTTP_STATUS = {
    INVALID_PARAMETER_VALUE: 400,
    BAD_REQUEST: 400,
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_STATE: 400,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    INTERNAL_ERROR: 500,
}


class TrackletException(Exception):
    """Base class of every error tracklet raises on purpose.

    ``error_code`` is one of the MLflow-compatible codes above; ``message`` names the field and rule.
    """

    default_code = INTERNAL_ERROR

    def __init__(self, message: str, error_code: str | None = None):
        super().__init__(message)
        self.message = str(message)
        self.error_code = error_code or self.default_code

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS.get(self.error_code, 500)

    def to_dict(self) -> dict:
        return {"error_code": self.error_code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.error_code}: {self.message}"


class InvalidParameterValue(TrackletException):
    default_code = INVALID_PARAMETER_VALUE


class ResourceDoesNotExist(TrackletException):
    default_code = RESOURCE_DOES_NOT_EXIST


class ResourceAlreadyExists(TrackletException):
    default_code = RESOURCE_ALREADY_EXISTS


class InvalidState(TrackletException):
    default_code = INVALID_STATE


class RestException(TrackletException):
    """An error answered by a tracking server (``{"error_code": ..., "message": ...}``)."""

    @classmethod
    def from_json(cls, body: dict, status: int | None = None) -> TrackletException:
        code = body.get("error_code") or INTERNAL_ERROR
        for klass in (InvalidParameterValue, ResourceDoesNotExist, ResourceAlreadyExists, InvalidState):
            if klass.default_code == code:
                return klass(body.get("message", ""), code)
        return cls(body.get("message", f"HTTP {status}"), code)


MlflowException = TrackletException

__all__ = [
    "TrackletException",
    "MlflowException",
    "InvalidParameterValue",
    "ResourceDoesNotExist",
    "ResourceAlreadyExists",
    "InvalidState",
    "RestException",
    "INVALID_PARAMETER_VALUE",
    "RESOURCE_DOES_NOT_EXIST",
    "RESOURCE_ALREADY_EXISTS",
    "INVALID_STATE",
    "INTERNAL_ERROR",
    "BAD_REQUEST",
]
