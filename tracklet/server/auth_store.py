"""Users, per-experiment permissions and API tokens for ``tracklet server --auth basic``.

They live in three tables of their own (own SQLAlchemy metadata, created when missing), in the backend store's
SQL database or in ``--auth-db-uri``. Passwords are stored as bcrypt hashes of the password's SHA-256 digest
(base64), so passwords longer than bcrypt's 72-byte input limit still count whole; tokens are random 256-bit
secrets stored as their SHA-256 (a token has too much entropy to need a slow hash, and a lookup by digest leaks
nothing about the secret).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import time
from dataclasses import dataclass, field

import sqlalchemy as sa

from tracklet.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist

DEFAULT_BCRYPT_ROUNDS = 12  # ~0.2 s per check on one core: verified credentials are cached (auth_basic.py)
TOKEN_PREFIX = "tkl_"
MAX_NAME = 255


@dataclass(frozen=True)
class Permission:
    """What a user may do on one experiment: read it, change it (log, tag, rename) or manage it (delete, grant)."""

    name: str
    can_read: bool
    can_update: bool
    can_manage: bool


READ = Permission("READ", True, False, False)
EDIT = Permission("EDIT", True, True, False)
MANAGE = Permission("MANAGE", True, True, True)
NO_PERMISSIONS = Permission("NO_PERMISSIONS", False, False, False)
PERMISSIONS = {p.name: p for p in (READ, EDIT, MANAGE, NO_PERMISSIONS)}


def permission(name: str) -> Permission:
    """The permission called ``name`` (case-insensitive); InvalidParameterValue naming the valid ones otherwise."""
    found = PERMISSIONS.get(str(name).upper()) if name is not None else None
    if found is None:
        raise InvalidParameterValue(f"Invalid permission {name!r}: expected one of {', '.join(PERMISSIONS)}")
    return found


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    password_hash: str = field(repr=False)

    def to_json(self) -> dict:
        """The user as the admin API returns it (never the hash)."""
        return {"id": self.id, "username": self.username, "is_admin": self.is_admin}


metadata = sa.MetaData()
users = sa.Table(
    "tracklet_auth_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(MAX_NAME), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)
experiment_permissions = sa.Table(
    "tracklet_auth_experiment_permissions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("experiment_id", sa.String(32), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("permission", sa.String(32), nullable=False),
    sa.UniqueConstraint("experiment_id", "user_id", name="tracklet_auth_unique_grant"),
)
tokens = sa.Table(
    "tracklet_auth_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey(users.c.id, ondelete="CASCADE"), nullable=False),
    sa.Column("name", sa.String(MAX_NAME), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
)


def _prehash(password: str) -> bytes:
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def _bcrypt():
    try:
        import bcrypt
    except ImportError:
        raise InvalidParameterValue("Users need the bcrypt package: pip install 'tracklet[server]'") from None
    return bcrypt


def hash_password(password: str, rounds: int = DEFAULT_BCRYPT_ROUNDS) -> str:
    """A bcrypt hash of ``password`` (salted; ``$2b$<rounds>$...``)."""
    bcrypt = _bcrypt()
    return bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds)).decode("ascii")


def check_password(password: str, password_hash: str) -> bool:
    """True when ``password`` matches ``password_hash`` (bcrypt compares in constant time)."""
    bcrypt = _bcrypt()
    try:
        return bcrypt.checkpw(_prehash(password), password_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _validate_username(username) -> str:
    if not isinstance(username, str) or not username.strip() or len(username) > MAX_NAME:
        raise InvalidParameterValue(f"Invalid username {str(username)[:60]!r}: must be 1 to {MAX_NAME} characters")
    if ":" in username or any(ord(c) < 32 for c in username):
        raise InvalidParameterValue(f"Invalid username {username!r}: ':' and control characters are not allowed")
    return username


def _validate_password(password) -> str:
    if not isinstance(password, str) or not password:
        raise InvalidParameterValue("Invalid password: must be a non-empty string")
    return password


class AuthStore:
    """The auth tables on the SQLAlchemy database ``db_uri`` (created when missing).

    ``bcrypt_rounds`` sets the cost of new password hashes (existing hashes keep theirs).
    """

    def __init__(self, db_uri: str, bcrypt_rounds: int = DEFAULT_BCRYPT_ROUNDS):
        from tracklet.tracking.stores.sql import _engine

        self.db_uri = db_uri
        self.bcrypt_rounds = bcrypt_rounds
        self._engine, single = _engine.create_engine(db_uri)
        self._write_engine = self._engine.execution_options(**{_engine.WRITE_OPTION: True})
        self._guard = _engine.make_guard(single)
        self._dummy_hash: str | None = None  # made on first use: a hash costs as much as a check
        with self._guard:
            try:
                metadata.create_all(self._engine)
            except sa.exc.SQLAlchemyError:  # another process created them at the same moment
                metadata.create_all(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    @contextlib.contextmanager
    def _read(self):
        with self._guard, self._engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _write(self):
        with self._guard, self._write_engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ users
    def create_user(self, username: str, password: str, is_admin: bool = False) -> User:
        """Add a user; RESOURCE_ALREADY_EXISTS when the name is taken."""
        _validate_username(username)
        digest = hash_password(_validate_password(password), self.bcrypt_rounds)
        with self._write() as conn:
            if conn.execute(sa.select(users.c.id).where(users.c.username == username)).first():
                raise ResourceAlreadyExists(f"User '{username}' already exists")
            row = {"username": username, "password_hash": digest, "is_admin": bool(is_admin)}
            conn.execute(sa.insert(users).values(created_time=int(time.time() * 1000), **row))
        return self.get_user(username)

    def find_user(self, username: str) -> User | None:
        with self._read() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return None if row is None else User(row.id, row.username, bool(row.is_admin), row.password_hash)

    def get_user(self, username: str) -> User:
        user = self.find_user(username)
        if user is None:
            raise ResourceDoesNotExist(f"User '{username}' does not exist")
        return user

    def list_users(self) -> list[User]:
        with self._read() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        return [User(r.id, r.username, bool(r.is_admin), r.password_hash) for r in rows]

    def count_users(self) -> int:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one()

    def _update_user(self, username: str, **values) -> None:
        with self._write() as conn:
            if conn.execute(sa.update(users).where(users.c.username == username).values(**values)).rowcount == 0:
                raise ResourceDoesNotExist(f"User '{username}' does not exist")

    def update_password(self, username: str, password: str) -> None:
        self._update_user(username, password_hash=hash_password(_validate_password(password), self.bcrypt_rounds))

    def set_admin(self, username: str, is_admin: bool) -> None:
        self._update_user(username, is_admin=bool(is_admin))

    def delete_user(self, username: str) -> None:
        """Remove the user with its grants and tokens (explicitly: SQLite enforces no foreign keys by default)."""
        user = self.get_user(username)
        with self._write() as conn:
            conn.execute(sa.delete(experiment_permissions).where(experiment_permissions.c.user_id == user.id))
            conn.execute(sa.delete(tokens).where(tokens.c.user_id == user.id))
            conn.execute(sa.delete(users).where(users.c.id == user.id))

    def dummy_hash(self) -> str:
        """A hash no password matches, checked for unknown users (made once; the server makes it at start)."""
        if self._dummy_hash is None:
            self._dummy_hash = hash_password(secrets.token_hex(16), self.bcrypt_rounds)
        return self._dummy_hash

    def verify_password(self, username: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None. An unknown user costs one bcrypt check as well,
        so the answer's timing does not tell which usernames exist."""
        user = self.find_user(username)
        matched = check_password(password, user.password_hash if user else self.dummy_hash())
        return user if user is not None and matched else None

    # ------------------------------------------------------------------ experiment permissions
    def set_permission(self, username: str, experiment_id: str, name: str, create: bool | None = None) -> Permission:
        """Grant ``name`` on ``experiment_id`` (replacing a grant). ``create=True`` refuses to replace one and
        ``create=False`` refuses to add one (the admin API's create / update)."""
        perm, user = permission(name), self.get_user(username)
        where = (experiment_permissions.c.user_id == user.id) & (
            experiment_permissions.c.experiment_id == experiment_id
        )
        with self._write() as conn:
            exists = conn.execute(sa.select(experiment_permissions.c.id).where(where)).first() is not None
            if create is True and exists:
                raise ResourceAlreadyExists(f"User '{username}' already has a permission on experiment {experiment_id}")
            if create is False and not exists:
                raise ResourceDoesNotExist(f"User '{username}' has no permission on experiment {experiment_id}")
            if exists:
                conn.execute(sa.update(experiment_permissions).where(where).values(permission=perm.name))
            else:
                values = {"experiment_id": str(experiment_id), "user_id": user.id, "permission": perm.name}
                conn.execute(sa.insert(experiment_permissions).values(**values))
        return perm

    def delete_permission(self, username: str, experiment_id: str) -> None:
        user = self.get_user(username)
        with self._write() as conn:
            done = conn.execute(
                sa.delete(experiment_permissions).where(
                    (experiment_permissions.c.user_id == user.id)
                    & (experiment_permissions.c.experiment_id == experiment_id)
                )
            )
            if done.rowcount == 0:
                raise ResourceDoesNotExist(f"User '{username}' has no permission on experiment {experiment_id}")

    def get_permission(self, user_id: int, experiment_id: str) -> Permission | None:
        """The grant of user ``user_id`` on the experiment, None when there is none."""
        with self._read() as conn:
            name = conn.execute(
                sa.select(experiment_permissions.c.permission).where(
                    (experiment_permissions.c.user_id == user_id)
                    & (experiment_permissions.c.experiment_id == experiment_id)
                )
            ).scalar()
        return None if name is None else PERMISSIONS.get(name, NO_PERMISSIONS)

    def permissions_of(self, username: str) -> dict[str, str]:
        """{experiment_id: permission name} of every grant the user has."""
        user = self.get_user(username)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(experiment_permissions.c.experiment_id, experiment_permissions.c.permission).where(
                    experiment_permissions.c.user_id == user.id
                )
            ).all()
        return {r.experiment_id: r.permission for r in rows}

    # ------------------------------------------------------------------ tokens
    def create_token(self, username: str, name: str | None = None) -> tuple[int, str]:
        """A new bearer token for the user: ``(token_id, token)``. The token is returned only here."""
        user = self.get_user(username)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        label = (name or "token")[:MAX_NAME]
        with self._write() as conn:
            result = conn.execute(
                sa.insert(tokens).values(
                    user_id=user.id, name=label, token_hash=token_digest(token), created_time=int(time.time() * 1000)
                )
            )
            token_id = result.inserted_primary_key[0]
        return int(token_id), token

    def list_tokens(self, username: str) -> list[dict]:
        user = self.get_user(username)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(tokens.c.id, tokens.c.name, tokens.c.created_time)
                .where(tokens.c.user_id == user.id)
                .order_by(tokens.c.id)
            ).all()
        return [{"id": r.id, "name": r.name, "created_time": r.created_time} for r in rows]

    def revoke_token(self, username: str, token_id: int) -> None:
        user = self.get_user(username)
        with self._write() as conn:
            done = conn.execute(sa.delete(tokens).where((tokens.c.id == int(token_id)) & (tokens.c.user_id == user.id)))
            if done.rowcount == 0:
                raise ResourceDoesNotExist(f"User '{username}' has no token {token_id}")

    def user_for_token(self, token: str) -> User | None:
        """The owner of ``token``, None for an unknown or revoked one."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(users)
                .join(tokens, tokens.c.user_id == users.c.id)
                .where(tokens.c.token_hash == token_digest(token))
            ).first()
        return None if row is None else User(row.id, row.username, bool(row.is_admin), row.password_hash)
