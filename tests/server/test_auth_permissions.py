"""``--auth basic`` permissions: every endpoint family at every permission level (a table), and search filtering.

One app over one SQLite database (the auth tables live beside the tracking tables, as in production); each test
gets a fresh experiment with a run, a logged model and an artifact, and grants every level on it.
"""

from __future__ import annotations

import base64
import uuid
import warnings

import pytest

from tracklet.server import create_app
from tracklet.server.auth_basic import BasicAuth
from tracklet.server.auth_store import AuthStore
from tracklet.tracking.artifacts.local import LocalArtifactRepository
from tracklet.tracking.stores.sql import SqlStore

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
LEVELS = ["NO_PERMISSIONS", "READ", "EDIT", "MANAGE", "admin"]
RANK = {name: i for i, name in enumerate(LEVELS)}
NEEDS = {"read": RANK["READ"], "edit": RANK["EDIT"], "manage": RANK["MANAGE"]}
T0 = 1_700_000_000_000


def basic(username: str, password: str | None = None) -> dict:
    pair = f"{username}:{password if password is not None else 'pw-' + username}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def user_of(level: str) -> str:
    return level.lower()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from starlette.testclient import TestClient

    root = tmp_path_factory.mktemp("auth")
    uri = f"sqlite:///{root / 'server.db'}"
    store = SqlStore(uri, "mlflow-artifacts:/")
    users = AuthStore(uri, bcrypt_rounds=4)
    for level in LEVELS:
        users.create_user(user_of(level), "pw-" + user_of(level), is_admin=level == "admin")
    users.create_user("other", "pw-other")  # has no grant
    (root / "art").mkdir()
    app = create_app(store, LocalArtifactRepository(str(root / "art")), BasicAuth(users))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(app, raise_server_exceptions=False)
    yield client, store, users, root / "art"
    client.close()
    users.close()
    store.close()


def ok(response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def as_user(client, who: str, password: str | None = None):
    """``call(method, path, **kwargs) -> response`` with ``who``'s credentials."""
    headers = basic(who, password)
    return lambda method, path, **kwargs: client.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def ids(world) -> dict:
    """A fresh experiment (run, metric, tag, logged model, artifact) with every level granted on it."""
    client, _store, users, _art = world
    admin = as_user(client, "admin")
    name = "exp-" + uuid.uuid4().hex[:8]
    body = {"name": name, "tags": [{"key": "k", "value": "v"}]}
    exp = ok(admin("POST", f"{API}/experiments/create", json=body))["experiment_id"]
    run_id = ok(admin("POST", f"{API}/runs/create", json={"experiment_id": exp}))["run"]["info"]["run_id"]
    batch = {"run_id": run_id, "metrics": [{"key": "m", "value": 1.0, "timestamp": T0, "step": 0}]}
    ok(admin("POST", f"{API}/runs/log-batch", json=dict(batch, tags=[{"key": "t", "value": "1"}])))
    body = {"experiment_id": exp, "name": "m", "source_run_id": run_id}
    model_id = ok(admin("POST", f"{API}/logged-models", json=body))["model"]["info"]["model_id"]
    ok(admin("PATCH", f"{API}/logged-models/{model_id}/tags", json={"tags": [{"key": "mt", "value": "1"}]}))
    ok(admin("PUT", f"{PROXY}/{exp}/{run_id}/artifacts/f.txt", content=b"data"))
    for level in LEVELS[:-1]:
        users.set_permission(user_of(level), exp, level)
    return {"exp": exp, "name": name, "run": run_id, "model": model_id}


def _deleted_run(client, ids):
    ok(client.post(f"{API}/runs/delete", json={"run_id": ids["run"]}, headers=basic("admin")))


# (family, name, need, call(client, ids, headers) -> response, status when allowed, setup(client, ids) or None)
# fmt: off
CASES = [
    ("experiments", "get", "read", lambda c, i, h: c.get(f"{API}/experiments/get", params={"experiment_id": i["exp"]}, headers=h), 200, None),  # noqa: E501
    ("experiments", "get-by-name", "read", lambda c, i, h: c.get(f"{API}/experiments/get-by-name", params={"experiment_name": i["name"]}, headers=h), 200, None),  # noqa: E501
    ("experiments", "update", "edit", lambda c, i, h: c.post(f"{API}/experiments/update", json={"experiment_id": i["exp"], "new_name": i["name"] + "-r"}, headers=h), 200, None),  # noqa: E501
    ("experiments", "set-tag", "edit", lambda c, i, h: c.post(f"{API}/experiments/set-experiment-tag", json={"experiment_id": i["exp"], "key": "a", "value": "b"}, headers=h), 200, None),  # noqa: E501
    ("experiments", "delete-tag", "edit", lambda c, i, h: c.post(f"{API}/experiments/delete-experiment-tag", json={"experiment_id": i["exp"], "key": "k"}, headers=h), 200, None),  # noqa: E501
    ("experiments", "delete", "manage", lambda c, i, h: c.post(f"{API}/experiments/delete", json={"experiment_id": i["exp"]}, headers=h), 200, None),  # noqa: E501
    ("experiments", "restore", "manage", lambda c, i, h: c.post(f"{API}/experiments/restore", json={"experiment_id": i["exp"]}, headers=h), 200, lambda c, i: c.post(f"{API}/experiments/delete", json={"experiment_id": i["exp"]}, headers=basic("admin"))),  # noqa: E501
    ("runs", "create", "edit", lambda c, i, h: c.post(f"{API}/runs/create", json={"experiment_id": i["exp"]}, headers=h), 200, None),  # noqa: E501
    ("runs", "get", "read", lambda c, i, h: c.get(f"{API}/runs/get", params={"run_id": i["run"]}, headers=h), 200, None),  # noqa: E501
    ("runs", "update", "edit", lambda c, i, h: c.post(f"{API}/runs/update", json={"run_id": i["run"], "status": "FINISHED"}, headers=h), 200, None),  # noqa: E501
    ("runs", "log-metric", "edit", lambda c, i, h: c.post(f"{API}/runs/log-metric", json={"run_id": i["run"], "key": "x", "value": 1, "timestamp": T0}, headers=h), 200, None),  # noqa: E501
    ("runs", "log-parameter", "edit", lambda c, i, h: c.post(f"{API}/runs/log-parameter", json={"run_id": i["run"], "key": "p", "value": "1"}, headers=h), 200, None),  # noqa: E501
    ("runs", "set-tag", "edit", lambda c, i, h: c.post(f"{API}/runs/set-tag", json={"run_id": i["run"], "key": "s", "value": "1"}, headers=h), 200, None),  # noqa: E501
    ("runs", "delete-tag", "edit", lambda c, i, h: c.post(f"{API}/runs/delete-tag", json={"run_id": i["run"], "key": "t"}, headers=h), 200, None),  # noqa: E501
    ("runs", "log-batch", "edit", lambda c, i, h: c.post(f"{API}/runs/log-batch", json={"run_id": i["run"], "params": [{"key": "b", "value": "1"}]}, headers=h), 200, None),  # noqa: E501
    ("runs", "log-model", "edit", lambda c, i, h: c.post(f"{API}/runs/log-model", json={"run_id": i["run"], "model_json": '{"artifact_path": "m"}'}, headers=h), 200, None),  # noqa: E501
    ("runs", "log-inputs", "edit", lambda c, i, h: c.post(f"{API}/runs/log-inputs", json={"run_id": i["run"], "datasets": []}, headers=h), 200, None),  # noqa: E501
    ("runs", "delete", "manage", lambda c, i, h: c.post(f"{API}/runs/delete", json={"run_id": i["run"]}, headers=h), 200, None),  # noqa: E501
    ("runs", "restore", "manage", lambda c, i, h: c.post(f"{API}/runs/restore", json={"run_id": i["run"]}, headers=h), 200, _deleted_run),  # noqa: E501
    ("runs", "hard-delete", "manage", lambda c, i, h: c.post("/api/2.0/tracklet/runs/hard-delete", json={"run_id": i["run"]}, headers=h), 200, _deleted_run),  # noqa: E501
    ("runs", "outputs", "edit", lambda c, i, h: c.post(f"{API}/runs/outputs", json={"run_id": i["run"], "models": [{"model_id": i["model"], "step": 1}]}, headers=h), 200, None),  # noqa: E501
    ("metrics", "get-history", "read", lambda c, i, h: c.get(f"{API}/metrics/get-history", params={"run_id": i["run"], "metric_key": "m"}, headers=h), 200, None),  # noqa: E501
    ("metrics", "bulk-interval", "read", lambda c, i, h: c.get(f"{API}/metrics/get-history-bulk-interval", params={"run_ids": [i["run"]], "metric_key": "m"}, headers=h), 200, None),  # noqa: E501
    ("artifacts", "list", "read", lambda c, i, h: c.get(f"{API}/artifacts/list", params={"run_id": i["run"]}, headers=h), 200, None),  # noqa: E501
    ("logged-models", "create", "edit", lambda c, i, h: c.post(f"{API}/logged-models", json={"experiment_id": i["exp"], "name": "n"}, headers=h), 200, None),  # noqa: E501
    ("logged-models", "get", "read", lambda c, i, h: c.get(f"{API}/logged-models/{i['model']}", headers=h), 200, None),  # noqa: E501
    ("logged-models", "finalize", "edit", lambda c, i, h: c.patch(f"{API}/logged-models/{i['model']}", json={"status": "LOGGED_MODEL_READY"}, headers=h), 200, None),  # noqa: E501
    ("logged-models", "set-tags", "edit", lambda c, i, h: c.patch(f"{API}/logged-models/{i['model']}/tags", json={"tags": [{"key": "a", "value": "1"}]}, headers=h), 200, None),  # noqa: E501
    ("logged-models", "delete-tag", "edit", lambda c, i, h: c.delete(f"{API}/logged-models/{i['model']}/tags/mt", headers=h), 200, None),  # noqa: E501
    ("logged-models", "params", "edit", lambda c, i, h: c.post(f"{API}/logged-models/{i['model']}/params", json={"params": [{"key": "p", "value": "1"}]}, headers=h), 200, None),  # noqa: E501
    ("logged-models", "artifacts", "read", lambda c, i, h: c.get(f"{API}/logged-models/{i['model']}/artifacts/directories", headers=h), 200, None),  # noqa: E501
    ("logged-models", "delete", "manage", lambda c, i, h: c.delete(f"{API}/logged-models/{i['model']}", headers=h), 200, None),  # noqa: E501
    ("proxy", "download", "read", lambda c, i, h: c.get(f"{PROXY}/{i['exp']}/{i['run']}/artifacts/f.txt", headers=h), 200, None),  # noqa: E501
    ("proxy", "list", "read", lambda c, i, h: c.get(PROXY, params={"path": f"{i['exp']}/{i['run']}/artifacts"}, headers=h), 200, None),  # noqa: E501
    ("proxy", "upload", "edit", lambda c, i, h: c.put(f"{PROXY}/{i['exp']}/{i['run']}/artifacts/new.txt", content=b"x", headers=h), 200, None),  # noqa: E501
    ("proxy", "delete", "manage", lambda c, i, h: c.delete(f"{PROXY}/{i['exp']}/{i['run']}/artifacts/f.txt", headers=h), 200, None),  # noqa: E501
    ("permissions", "create", "manage", lambda c, i, h: c.post(f"{API}/experiments/permissions/create", json={"experiment_id": i["exp"], "username": "other", "permission": "READ"}, headers=h), 200, None),  # noqa: E501
    ("permissions", "get", "manage", lambda c, i, h: c.get(f"{API}/experiments/permissions/get", params={"experiment_id": i["exp"], "username": "read"}, headers=h), 200, None),  # noqa: E501
    ("permissions", "update", "manage", lambda c, i, h: c.patch(f"{API}/experiments/permissions/update", json={"experiment_id": i["exp"], "username": "read", "permission": "EDIT"}, headers=h), 200, None),  # noqa: E501
    ("permissions", "delete", "manage", lambda c, i, h: c.delete(f"{API}/experiments/permissions/delete", params={"experiment_id": i["exp"], "username": "edit"}, headers=h), 200, None),  # noqa: E501
]
# fmt: on


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_each_endpoint_at_each_level(world, ids, case, level):
    client = world[0]
    _family, _name, need, call, status, setup = case
    if setup is not None:
        setup(client, ids)
    response = call(client, ids, basic(user_of(level)))
    if RANK[level] >= NEEDS[need]:
        assert response.status_code == status, response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_denied_writes_change_nothing(world, ids):
    client, store, _users, art = world
    reader, editor = as_user(client, "read"), as_user(client, "edit")
    batch = {"run_id": ids["run"], "metrics": [{"key": "sneaky", "value": 1, "timestamp": T0, "step": 0}]}
    assert reader("POST", f"{API}/runs/log-batch", json=batch).status_code == 403
    assert reader("PUT", f"{PROXY}/{ids['exp']}/{ids['run']}/artifacts/evil.txt", content=b"x").status_code == 403
    assert editor("POST", f"{API}/experiments/delete", json={"experiment_id": ids["exp"]}).status_code == 403
    assert "sneaky" not in store.get_run(ids["run"]).data.metrics
    assert not (art / ids["exp"] / ids["run"] / "artifacts" / "evil.txt").exists()
    assert store.get_experiment(ids["exp"]).lifecycle_stage == "active"


def test_default_permission_applies_without_a_grant(world, ids):
    client, _store, users, _art = world
    users.create_user("nogrant-" + ids["exp"], "pw")  # no grant: the default (READ) applies
    call = as_user(client, "nogrant-" + ids["exp"], "pw")
    assert call("GET", f"{API}/runs/get", params={"run_id": ids["run"]}).status_code == 200
    assert call("POST", f"{API}/runs/set-tag", json={"run_id": ids["run"], "key": "a", "value": "b"}).status_code == 403


def test_creator_gets_manage_and_artifact_paths_outside_experiments_are_admin_only(world, ids):
    client = world[0]
    call = as_user(client, "no_permissions")  # anyone signed in may create an experiment
    exp = ok(call("POST", f"{API}/experiments/create", json={"name": "mine-" + ids["exp"]}))["experiment_id"]
    grants = ok(call("GET", f"{API}/users/current"))["user"]["experiment_permissions"]
    assert [g["permission"] for g in grants if g["experiment_id"] == exp] == ["MANAGE"]
    assert call("POST", f"{API}/experiments/delete", json={"experiment_id": exp}).status_code == 200
    manager = as_user(client, "manage")
    for path in ("", "/shared/x.txt", "/1a/x.txt", f"?path={ids['exp']}&path="):  # the last: the root listing
        assert manager("GET", PROXY + path).status_code == 403, path
    assert manager("GET", PROXY + f"?path=&path={ids['exp']}").status_code == 200  # the last value counts
    assert as_user(client, "admin")("GET", PROXY).status_code == 200


def test_unknown_run_is_404_not_a_crash(world):
    call = as_user(world[0], "read")
    for path in (f"{API}/runs/get", f"{API}/metrics/get-history"):
        response = call("GET", path, params={"run_id": "f" * 32, "metric_key": "m"})
        assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def _names(reply: dict) -> set:
    return {e["name"] for e in reply.get("experiments", [])}


def test_search_filters_instead_of_refusing(world, ids):
    client = world[0]
    # "no_permissions": an explicit NO_PERMISSIONS grant on ids["exp"], the default READ elsewhere
    hidden, reader = as_user(client, "no_permissions"), as_user(client, "read")
    names = _names(ok(hidden("POST", f"{API}/experiments/search", json={"max_results": 1000})))
    assert ids["name"] not in names and "Default" in names
    assert ids["name"] in _names(ok(reader("GET", f"{API}/experiments/search", params={"max_results": 1000})))
    both = {"experiment_ids": [ids["exp"], "0"]}
    assert all(
        r["info"]["experiment_id"] == "0" for r in ok(hidden("POST", f"{API}/runs/search", json=both)).get("runs", [])
    )
    only = {"experiment_ids": [ids["exp"]]}
    assert ok(hidden("POST", f"{API}/runs/search", json=only)) == {"runs": []}
    assert len(ok(reader("POST", f"{API}/runs/search", json=only))["runs"]) == 1
    assert ok(hidden("POST", f"{API}/logged-models/search", json=only)) == {"models": []}
    assert len(ok(reader("POST", f"{API}/logged-models/search", json=only))["models"]) == 1


def test_search_pages_are_refilled_past_hidden_experiments(world, ids):
    """With the default NO_PERMISSIONS a user sees only granted experiments; pages of one skip the hidden ones."""
    from starlette.testclient import TestClient

    _client, store, users, _art = world
    users.create_user("pager-" + ids["exp"], "pw")
    granted = []
    for i in range(6):
        eid = store.create_experiment(f"page-{ids['exp']}-{i}")
        if i % 3 == 0:
            users.set_permission("pager-" + ids["exp"], eid, "READ")
            granted.append(eid)
    app = create_app(store, None, BasicAuth(users, default_permission="NO_PERMISSIONS", cache_seconds=0))
    call = as_user(TestClient(app), "pager-" + ids["exp"], "pw")
    seen, token = [], None
    while True:
        body = {"max_results": 1, "filter": f"name LIKE 'page-{ids['exp']}-%'"} | (
            {"page_token": token} if token else {}
        )
        page = ok(call("POST", f"{API}/experiments/search", json=body))
        assert len(page.get("experiments", [])) <= 1
        seen += [e["experiment_id"] for e in page.get("experiments", [])]
        token = page.get("next_page_token")
        if not token:
            break
    assert sorted(seen) == sorted(granted)


def test_get_artifact_route_is_checked_by_run(world, ids):
    """``/get-artifact?run_uuid=`` (the UI's download route) needs READ on the run's experiment, checked before
    routing, so it holds whichever handler serves it."""
    client = world[0]
    query = f"/get-artifact?path=f.txt&run_uuid={ids['run']}"
    assert as_user(client, "no_permissions")("GET", query).status_code == 403
    allowed = as_user(client, "read")("GET", query)
    assert allowed.status_code == 200 and allowed.content == b"data"
    assert as_user(client, "read")("GET", "/get-artifact?path=f.txt").status_code == 403  # no run: admins only
