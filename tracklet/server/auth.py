"""Optional request authentication for the server: HTTP Basic (username/password) or a Bearer token.

The REST store sends whichever of ``TRACKLET_TRACKING_USERNAME``/``PASSWORD`` or ``TRACKLET_TRACKING_TOKEN`` is
set (MLflow's ``MLFLOW_TRACKING_*`` names as fallback); the server is given the expected values with
``--auth-username``/``--auth-password`` or ``--auth-token`` (or ``TRACKLET_SERVER_AUTH_*``).
"""

from __future__ import annotations

import base64
import hmac


class Auth:
    """Accepts a request whose ``Authorization`` header carries the configured credentials."""

    def __init__(self, username: str | None = None, password: str | None = None, token: str | None = None):
        if not token and not (username and password):
            raise ValueError("Auth needs a token, or both a username and a password")
        self._expected: list[bytes] = []
        if token:
            self._expected.append(f"Bearer {token}".encode())
        if username and password:
            pair = base64.b64encode(f"{username}:{password}".encode()).decode()
            self._expected.append(f"Basic {pair}".encode())

    def allows(self, authorization: str | None) -> bool:
        """True when ``authorization`` (the header value) matches; compared in constant time."""
        if not authorization:
            return False
        given = authorization.strip().encode("utf-8", "replace")
        return any(hmac.compare_digest(given, expected) for expected in self._expected)

    @classmethod
    def from_values(cls, username: str | None, password: str | None, token: str | None) -> Auth | None:
        """An Auth when any credential is configured, else None (no authentication)."""
        if not (token or username or password):
            return None
        return cls(username, password, token)
