"""Server authentication: who is calling (a :class:`Principal`), and the two ways to configure it.

- ``tracklet server --auth basic`` (:class:`tracklet.server.auth_basic.BasicAuth`): users with bcrypt-hashed
  passwords and bearer tokens in the database, READ / EDIT / MANAGE permissions per experiment
  (``tracklet users ...`` manages them; ``auth_gate.py`` maps every endpoint to the permission it needs).
- The single-credential mode (:class:`Auth`): one fixed username/password and/or token
  (``--auth-username``/``--auth-password``/``--auth-token``); whoever presents it is an admin.

Either object is given to ``create_app(store, repo, auth)``; the app then answers 401 (with a Basic challenge)
to any request without valid credentials except ``/health`` and ``/version``, and 403 ``PERMISSION_DENIED`` to
one its user may not make. Clients send ``TRACKLET_TRACKING_USERNAME``/``PASSWORD`` or ``TRACKLET_TRACKING_TOKEN``
(MLflow's ``MLFLOW_TRACKING_*`` names as fallback).
"""

from __future__ import annotations

import base64
import contextvars
import hmac
from dataclasses import dataclass

from tracklet.exceptions import TrackletException


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a user of the auth database (``user_id``) or the single fixed credential."""

    username: str
    is_admin: bool
    user_id: int | None = None


class PermissionDenied(TrackletException):
    """The caller is known but may not do this (HTTP 403)."""

    default_code = "PERMISSION_DENIED"
    http_status = 403


class Unauthenticated(TrackletException):
    """No valid credentials (HTTP 401)."""

    default_code = "UNAUTHENTICATED"
    http_status = 401


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("tracklet_principal", default=None)


def current_principal() -> Principal:
    """The caller of the request being handled (set by the auth middleware; worker threads inherit it)."""
    principal = _current.get()
    if principal is None:
        raise Unauthenticated("Missing or invalid credentials")
    return principal


def set_current_principal(principal: Principal | None) -> contextvars.Token:
    return _current.set(principal)


def reset_current_principal(token: contextvars.Token) -> None:
    _current.reset(token)


class Auth:
    """Accepts a request whose ``Authorization`` header carries the configured credentials (as an admin)."""

    def __init__(self, username: str | None = None, password: str | None = None, token: str | None = None):
        if not token and not (username and password):
            raise ValueError("Auth needs a token, or both a username and a password")
        self._expected: list[bytes] = []
        if token:
            self._expected.append(f"Bearer {token}".encode())
        if username and password:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._expected.append(f"Basic {pair}".encode())
        self._principal = Principal(username or "token", is_admin=True)

    def allows(self, authorization: str | None) -> bool:
        """True when ``authorization`` (the header value) matches; compared in constant time."""
        if not authorization:
            return False
        given = authorization.strip().encode("utf-8", "replace")
        # every candidate is compared (no short-circuit), so the timing does not tell which one was close
        return any([hmac.compare_digest(given, expected) for expected in self._expected])

    def authenticate_cached(self, authorization: str | None) -> Principal | None:
        """The admin principal for the right credentials (a cheap check: no cache needed)."""
        return self._principal if self.allows(authorization) else None

    @classmethod
    def from_values(cls, username: str | None, password: str | None, token: str | None) -> Auth | None:
        """An Auth when any credential is configured, else None (no authentication)."""
        if not (token or username or password):
            return None
        return cls(username, password, token)
