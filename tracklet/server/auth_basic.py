"""``--auth basic``: who a request's credentials belong to, and what that user may do on an experiment.

bcrypt is slow on purpose (~0.2 s a check), far too slow for every ``log-batch``. So a verified ``Authorization``
header is remembered for ``cache_seconds`` (default 30), keyed by its HMAC under a random per-process key (the
header itself is not kept), and so are permission lookups per (user, experiment). A change made through this
server (password, admin flag, deletion, grants, tokens) clears both caches at once; other worker processes see it
within ``cache_seconds``. ``cache_seconds=0`` turns caching off.

When a remembered password expires, it is renewed without bcrypt if the user's stored hash is still the one it
was verified against (one indexed lookup): a password change or deletion anywhere still takes effect within
``cache_seconds``, but a busy client does not pay a bcrypt check every ``cache_seconds``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
import time

from tracklet.server.auth import Principal
from tracklet.server.auth_store import MANAGE, AuthStore, Permission, permission

DEFAULT_CACHE_SECONDS = 30.0


class TtlCache:
    """A dict whose entries expire ``seconds`` after they were put; it starts over when ``max_size`` is reached.

    No lock: single dict operations are atomic under the GIL, and a lost entry only costs a lookup.
    """

    def __init__(self, seconds: float, max_size: int = 10_000):
        self.seconds = seconds
        self.max_size = max_size
        self._data: dict = {}

    def get(self, key):
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires < time.monotonic():
            self._data.pop(key, None)
            return None
        return value

    def put(self, key, value) -> None:
        if self.seconds <= 0:
            return
        if len(self._data) >= self.max_size:
            self._data.clear()
        self._data[key] = (value, time.monotonic() + self.seconds)

    def clear(self) -> None:
        self._data.clear()


def parse_basic(authorization: str) -> tuple[str, str] | None:
    """``Basic base64(user:password)`` -> (user, password); None for anything else."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep and username else None


class BasicAuth:
    """Users, tokens and per-experiment grants from an :class:`AuthStore`.

    ``default_permission`` applies on experiments where a user has no grant (MLflow's default: READ).
    """

    def __init__(
        self, store: AuthStore, default_permission: str = "READ", cache_seconds: float = DEFAULT_CACHE_SECONDS
    ):
        self.store = store
        self.default_permission = permission(default_permission)
        self.cache_seconds = cache_seconds
        self._key = secrets.token_bytes(32)
        self._credentials = TtlCache(cache_seconds)
        self._grants = TtlCache(cache_seconds)
        self._verifying: dict[bytes, threading.Lock] = {}
        self._verified: dict[bytes, tuple[str, str]] = {}  # header HMAC -> (username, the hash it matched)
        store.dummy_hash()  # now, so the first unknown username is not slower than the next ones

    def _cache_key(self, authorization: str) -> bytes:
        return hmac.new(self._key, authorization.encode("utf-8", "replace"), hashlib.sha256).digest()

    def authenticate_cached(self, authorization: str | None) -> Principal | None:
        """The principal for a header verified within the last ``cache_seconds``; None when unknown (no I/O)."""
        if not authorization:
            return None
        return self._credentials.get(self._cache_key(authorization))

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal for ``Basic`` or ``Bearer`` credentials, None when they are not valid (slow: bcrypt)."""
        if not authorization:
            return None
        key = self._cache_key(authorization)
        with self._verifying.setdefault(key, threading.Lock()):  # one bcrypt per header, not one per waiting request
            try:
                return self._credentials.get(key) or self._verify(authorization, key)
            finally:
                self._verifying.pop(key, None)

    def _verify(self, authorization: str, key: bytes) -> Principal | None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() == "bearer":
            user = self.store.user_for_token(value.strip()) if value.strip() else None
        else:
            user = self._still_verified(key)
            if user is None:
                pair = parse_basic(authorization)
                user = self.store.verify_password(*pair) if pair else None
                if user is not None and self.cache_seconds > 0:
                    if len(self._verified) >= self._credentials.max_size:
                        self._verified.clear()
                    self._verified[key] = (user.username, user.password_hash)
        if user is None:
            return None
        principal = Principal(user.username, user.is_admin, user.id)
        self._credentials.put(key, principal)
        return principal

    def _still_verified(self, key: bytes):
        """The user a header was verified for, while their stored password hash is unchanged; else None."""
        remembered = self._verified.get(key)
        if remembered is None:
            return None
        user = self.store.find_user(remembered[0])
        if user is None or not hmac.compare_digest(user.password_hash, remembered[1]):
            self._verified.pop(key, None)
            return None
        return user

    def permission(self, principal: Principal, experiment_id: str) -> Permission:
        """What ``principal`` may do on the experiment: admins everything, else the grant or the default."""
        if principal.is_admin:
            return MANAGE
        key = (principal.user_id, str(experiment_id))
        found = self._grants.get(key)
        if found is None:
            found = self.store.get_permission(principal.user_id, str(experiment_id)) or self.default_permission
            self._grants.put(key, found)
        return found

    def experiment_created(self, principal: Principal, experiment_id: str) -> None:
        """The creator of an experiment gets MANAGE on it."""
        if principal.user_id is not None:
            self.store.set_permission(principal.username, experiment_id, MANAGE.name)
            self.invalidate()

    def invalidate(self) -> None:
        """Forget every cached credential and permission (after a change to users, grants or tokens)."""
        self._credentials.clear()
        self._grants.clear()
