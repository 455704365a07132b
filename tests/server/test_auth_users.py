"""``--auth basic`` users, passwords, tokens and the admin REST API; 401s, the UI behind the check, caching."""

from __future__ import annotations

import sqlite3
import warnings

import pytest

from tests.server.test_auth_permissions import API, PROXY, as_user, basic, ok
from tracklet.server import Auth, create_app
from tracklet.server import auth_store as auth_store_module
from tracklet.server.auth_basic import BasicAuth, parse_basic
from tracklet.server.auth_store import AuthStore


@pytest.fixture
def users(backing_store, tmp_path):
    store = AuthStore(backing_store.db_uri, bcrypt_rounds=4)  # the tracking store's own database
    store.create_user("admin", "pw-admin", is_admin=True)
    store.create_user("ann", "pw-ann")
    yield store
    store.close()


@pytest.fixture
def client(backing_store, destination, users):
    from starlette.testclient import TestClient

    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    app = create_app(backing_store, LocalArtifactRepository(str(destination)), BasicAuth(users))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield TestClient(app, raise_server_exceptions=False)


def test_passwords_and_tokens_are_stored_hashed(users, backing_store, tmp_path):
    token_id, token = users.create_token("ann", "ci")
    db = sqlite3.connect(backing_store.db_uri[len("sqlite:///") :])
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tracklet_auth_users", "tracklet_auth_tokens", "experiments", "runs"} <= tables  # one database
    dump = "\n".join(db.iterdump())
    db.close()
    assert "pw-ann" not in dump and "pw-admin" not in dump and token not in dump
    hashes = [u.password_hash for u in users.list_users()]
    assert all(h.startswith("$2b$04$") for h in hashes) and len(set(hashes)) == 2
    assert auth_store_module.token_digest(token) in dump
    assert users.verify_password("ann", "pw-ann").username == "ann"
    assert users.verify_password("ann", "pw-admin") is None
    long = "x" * 100  # beyond bcrypt's 72 bytes: the whole password still counts
    users.update_password("ann", long)
    assert users.verify_password("ann", long) and not users.verify_password("ann", "x" * 99 + "y")


def test_unknown_users_cost_a_bcrypt_check_too(users, monkeypatch):
    """Timing does not tell which names exist: an unknown name is checked against a dummy hash."""
    import bcrypt

    calls = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, hashed: calls.append(hashed) or real(pw, hashed))
    assert users.verify_password("nobody", "pw") is None
    assert users.verify_password("ann", "wrong") is None
    assert len(calls) == 2 and calls[0] != calls[1]


def test_fixed_credentials_compare_every_candidate_in_constant_time(monkeypatch):
    import hmac

    compared = []
    real = hmac.compare_digest
    monkeypatch.setattr(hmac, "compare_digest", lambda a, b: compared.append(b) or real(a, b))
    auth = Auth(username="ann", password="pw", token="s3cret")
    assert auth.allows("Bearer s3cret") and len(compared) == 2  # no early exit on the first match


def test_store_validation(users):
    from tracklet.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist

    with pytest.raises(ResourceAlreadyExists):
        users.create_user("ann", "x")
    for bad in ("", "a:b", "x" * 300, "tab\t"):
        with pytest.raises(InvalidParameterValue):
            users.create_user(bad, "pw")
    with pytest.raises(InvalidParameterValue):
        users.create_user("empty", "")
    with pytest.raises(InvalidParameterValue, match="READ, EDIT, MANAGE, NO_PERMISSIONS"):
        users.set_permission("ann", "0", "OWNER")
    with pytest.raises(ResourceDoesNotExist):
        users.set_permission("ghost", "0", "READ")
    users.set_permission("ann", "0", "edit")
    users.delete_user("ann")  # grants and tokens go with the user
    users.create_user("ann", "pw")
    assert users.permissions_of("ann") == {}
    assert parse_basic("Basic !!!") is None and parse_basic("Bearer x") is None and parse_basic("Basic Og==") is None


def test_unauthenticated_is_401_with_a_challenge_everywhere_but_health(client):
    for method, path in [
        ("GET", f"{API}/experiments/get?experiment_id=0"),
        ("POST", f"{API}/runs/log-batch"),
        ("GET", "/"),
        ("GET", "/static/app.js"),
        ("GET", f"{PROXY}/0/x.txt"),
        ("GET", f"{API}/users/current"),
        ("GET", "/get-artifact?path=a&run_uuid=x"),
        ("GET", "/no/such/page"),
    ]:
        response = client.request(method, path)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == 'Basic realm="tracklet"'
        assert response.json()["error_code"] == "UNAUTHENTICATED"
    for bad in ({"Authorization": "Basic " + "x"}, basic("ann", "wrong"), {"Authorization": "Bearer tkl_nope"}):
        assert client.get("/", headers=bad).status_code == 401
    assert client.get("/health").status_code == 200 and client.get("/version").status_code == 200


def test_ui_needs_any_signed_in_user(client):
    page = client.get("/", headers=basic("ann"))
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert client.get("/static/app.js", headers=basic("ann")).status_code == 200


def test_tokens_create_use_revoke(client):
    ann = as_user(client, "ann")
    created = ok(ann("POST", "/api/2.0/tracklet/tokens/create", json={"name": "laptop"}))
    bearer = {"Authorization": f"Bearer {created['token']}"}
    assert ok(client.get(f"{API}/users/current", headers=bearer))["user"]["username"] == "ann"
    assert [t["name"] for t in ok(ann("GET", "/api/2.0/tracklet/tokens/list"))["tokens"]] == ["laptop"]
    assert ann("POST", "/api/2.0/tracklet/tokens/create", json={"username": "admin"}).status_code == 403
    ok(ann("DELETE", "/api/2.0/tracklet/tokens/revoke", json={"token_id": created["token_id"]}))
    assert client.get(f"{API}/users/current", headers=bearer).status_code == 401  # at once: caches are cleared


def test_admin_api_users(client, users):
    admin, ann = as_user(client, "admin"), as_user(client, "ann")
    created = ok(admin("POST", f"{API}/users/create", json={"username": "bob", "password": "pw-bob"}))["user"]
    assert created["username"] == "bob" and not created["is_admin"] and "password_hash" not in created
    assert ann("POST", f"{API}/users/create", json={"username": "eve", "password": "x"}).status_code == 403
    assert ann("GET", f"{API}/users/get", params={"username": "bob"}).status_code == 403
    assert ok(ann("GET", f"{API}/users/get", params={"username": "ann"}))["user"]["username"] == "ann"
    assert [u["username"] for u in ok(admin("GET", f"{API}/users/list"))["users"]] == ["admin", "ann", "bob"]
    assert ann("GET", f"{API}/users/list").status_code == 403
    # own password: the current one is required; an admin resets anyone's
    change = {"username": "ann", "password": "new-ann"}
    assert ann("PATCH", f"{API}/users/update-password", json=change).status_code == 403
    ok(ann("PATCH", f"{API}/users/update-password", json=dict(change, current_password="pw-ann")))
    assert client.get(f"{API}/users/current", headers=basic("ann")).status_code == 401  # the old one is gone at once
    ok(client.get(f"{API}/users/current", headers=basic("ann", "new-ann")))
    ok(admin("PATCH", f"{API}/users/update-password", json={"username": "bob", "password": "reset"}))
    ok(client.get(f"{API}/users/current", headers=basic("bob", "reset")))
    bob = as_user(client, "bob", "reset")
    assert bob("GET", f"{API}/users/list").status_code == 403
    ok(admin("PATCH", f"{API}/users/update-admin", json={"username": "bob", "is_admin": True}))
    assert bob("GET", f"{API}/users/list").status_code == 200
    assert admin("DELETE", f"{API}/users/delete", json={"username": "admin"}).status_code == 400
    ok(admin("DELETE", f"{API}/users/delete", json={"username": "bob"}))
    assert bob("GET", f"{API}/users/current").status_code == 401
    assert admin("GET", f"{API}/users/get", params={"username": "bob"}).status_code == 404


def test_admin_api_experiment_permissions(client, backing_store):
    admin, ann = as_user(client, "admin"), as_user(client, "ann")
    exp = backing_store.create_experiment("team")
    grant = {"experiment_id": exp, "username": "ann", "permission": "EDIT"}
    reply = ok(admin("POST", f"{API}/experiments/permissions/create", json=grant))["experiment_permission"]
    assert reply["permission"] == "EDIT" and reply["experiment_id"] == exp
    assert admin("POST", f"{API}/experiments/permissions/create", json=grant).status_code == 400  # exists
    query = {"experiment_id": exp, "username": "ann"}
    assert (
        ok(admin("GET", f"{API}/experiments/permissions/get", params=query))["experiment_permission"]["permission"]
        == "EDIT"
    )  # noqa: E501
    run = ok(ann("POST", f"{API}/runs/create", json={"experiment_id": exp}))["run"]["info"]["run_id"]
    assert ann("POST", f"{API}/runs/delete", json={"run_id": run}).status_code == 403
    ok(admin("PATCH", f"{API}/experiments/permissions/update", json=dict(grant, permission="MANAGE")))
    ok(ann("POST", f"{API}/runs/delete", json={"run_id": run}))  # the change applies at once
    ok(admin("DELETE", f"{API}/experiments/permissions/delete", params=query))
    assert ann("POST", f"{API}/runs/restore", json={"run_id": run}).status_code == 403  # back to the default READ
    assert admin("GET", f"{API}/experiments/permissions/get", params=query).status_code == 404
    bad = dict(grant, permission="OWNER")
    assert (
        admin("POST", f"{API}/experiments/permissions/create", json=bad).json()["error_code"]
        == "INVALID_PARAMETER_VALUE"
    )  # noqa: E501
    missing = dict(grant, experiment_id="999")
    assert admin("POST", f"{API}/experiments/permissions/create", json=missing).status_code == 404


def test_cache_off_sees_changes_made_by_another_process(backing_store, users):
    """With ``cache_seconds=0`` a change written straight to the database (``tracklet users``) applies at once."""
    from starlette.testclient import TestClient

    http = TestClient(create_app(backing_store, None, BasicAuth(users, cache_seconds=0)))
    other = AuthStore(users.db_uri, bcrypt_rounds=4)  # as another process would
    _tid, token = other.create_token("ann")
    bearer = {"Authorization": f"Bearer {token}"}
    assert http.post(f"{API}/runs/create", json={"experiment_id": "0"}, headers=bearer).status_code == 403
    other.set_permission("ann", "0", "EDIT")
    assert http.post(f"{API}/runs/create", json={"experiment_id": "0"}, headers=bearer).status_code == 200
    other.revoke_token("ann", _tid)
    assert http.get(f"{API}/users/current", headers=bearer).status_code == 401
    other.close()


def test_cache_remembers_verified_credentials(backing_store, users, monkeypatch):
    """A verified password is not re-hashed on every request (bcrypt is slow on purpose)."""
    from starlette.testclient import TestClient

    from tracklet.server import auth_store

    checks = []
    real = auth_store.check_password
    monkeypatch.setattr(auth_store, "check_password", lambda p, h: checks.append(1) or real(p, h))
    auth = BasicAuth(users, cache_seconds=300)
    http = TestClient(create_app(backing_store, None, auth))

    def get(who: str, password: str | None = None) -> int:
        return http.get(
            f"{API}/experiments/get", params={"experiment_id": "0"}, headers=basic(who, password)
        ).status_code

    assert [get("ann") for _ in range(5)] == [200] * 5 and len(checks) == 1
    auth._credentials.clear()  # as when the cache time is up: renewed by comparing the stored hash, no bcrypt
    assert get("ann") == 200 and len(checks) == 1
    other = AuthStore(users.db_uri, bcrypt_rounds=4)  # another process changes the password
    other.update_password("ann", "changed")
    auth._credentials.clear()
    assert get("ann") == 401 and len(checks) == 2  # the hash changed: checked again, and refused
    assert get("ann", "changed") == 200 and len(checks) == 3
    assert get("ann", "no") == 401 and get("ann", "no") == 401
    assert len(checks) == 5  # a wrong password is never cached as good
    other.close()


def test_single_credential_mode_protects_ui_and_proxy_too(backing_store, destination):
    from starlette.testclient import TestClient

    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    app = create_app(backing_store, LocalArtifactRepository(str(destination)), Auth(token="s3cret"))
    http = TestClient(app)
    good = {"Authorization": "Bearer s3cret"}
    assert http.get("/").status_code == 401 and http.get("/", headers=good).status_code == 200
    assert http.put(f"{PROXY}/0/x.txt", content=b"x").status_code == 401
    assert http.put(f"{PROXY}/0/x.txt", content=b"x", headers=good).status_code == 200
    assert http.get(PROXY, headers=good).status_code == 200  # the fixed credential is an admin
    assert http.get(f"{API}/users/current", headers=good).status_code == 404  # no users in this mode


def test_where_users_live(tmp_path, monkeypatch):
    from tracklet.cli import build_parser
    from tracklet.server import serve
    from tracklet.server.auth_cli import resolve_auth_db_uri

    sql = f"sqlite:///{tmp_path}/t.db"
    assert resolve_auth_db_uri(sql, None) == sql  # the tracking database itself
    assert resolve_auth_db_uri(str(tmp_path / "mlruns"), None) == f"sqlite:///{tmp_path}/mlruns/auth.db"
    assert resolve_auth_db_uri(sql, f"sqlite:///{tmp_path}/users.db") == f"sqlite:///{tmp_path}/users.db"
    monkeypatch.setenv("TRACKLET_SERVER_AUTH", "basic")
    monkeypatch.setenv("TRACKLET_SERVER_AUTH_DEFAULT_PERMISSION", "no_permissions")
    options = serve.options_from_args(build_parser().parse_args(["server", "--backend-store-uri", sql]))
    assert options["auth_basic"] == {"db_uri": sql, "default_permission": "NO_PERMISSIONS", "cache_seconds": 30.0}
    with pytest.raises(SystemExit, match="single-credential"):
        serve.options_from_args(build_parser().parse_args(["server", "--auth-token", "x"]))
