"""Logged models (``store.logged_models``) on every store: SQLite, file, REST -> server -> SQLite, PostgreSQL."""

from __future__ import annotations

import pytest
import yaml

from tests.stores.conftest import make_store
from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist

T0 = 1_700_000_000_000


@pytest.fixture(params=["sqlite", "file", "rest", "postgres"])
def store(request, tmp_path):
    s = make_store(request.param, tmp_path)
    yield s
    s.close()


def test_create_get_finalize(store):
    run = store.create_run("0", "u", T0, [], "src")
    models = store.logged_models
    model = models.create("0", "model", run.info.run_id, {"t": "1"}, {"alpha": 0.5}, "sklearn")
    assert model.model_id.startswith("m-") and len(model.model_id) == 34
    assert model.status == "PENDING" and model.name == "model" and model.model_type == "sklearn"
    assert model.source_run_id == run.info.run_id
    assert model.tags == {"t": "1"} and model.params == {"alpha": "0.5"}
    location = store.get_experiment("0").artifact_location.rstrip("/")
    assert model.artifact_location == f"{location}/models/{model.model_id}/artifacts"
    assert models.get(model.model_id) == model
    ready = models.finalize(model.model_id, "READY")
    assert ready.status == "READY" and ready.last_updated_timestamp >= model.last_updated_timestamp
    assert models.finalize(model.model_id, "LOGGED_MODEL_UPLOAD_FAILED").status == "FAILED"
    with pytest.raises(InvalidParameterValue):
        models.finalize(model.model_id, "DONE")
    unnamed = models.create("0")
    assert unnamed.name and unnamed.source_run_id is None


def test_tags_params_delete(store):
    models = store.logged_models
    model = models.create("0", "m")
    models.set_tags(model.model_id, {"a": "1", "nested/key": "2"})
    models.log_params(model.model_id, {"p": "x"})
    got = models.get(model.model_id)
    assert got.tags == {"a": "1", "nested/key": "2"} and got.params == {"p": "x"}
    models.delete_tag(model.model_id, "nested/key")
    assert models.get(model.model_id).tags == {"a": "1"}
    with pytest.raises(ResourceDoesNotExist):
        models.delete_tag(model.model_id, "nested/key")
    with pytest.raises(InvalidParameterValue):
        models.set_tags(model.model_id, {"bad//key": "v"})
    models.delete(model.model_id)
    with pytest.raises(ResourceDoesNotExist):
        models.get(model.model_id)
    assert models.get(model.model_id, allow_deleted=True).model_id == model.model_id
    assert models.search(["0"]) == []


def test_validation_and_missing(store):
    models = store.logged_models
    with pytest.raises(ResourceDoesNotExist):
        models.get("m-" + "0" * 32)
    with pytest.raises(ResourceDoesNotExist):
        models.get("../../etc")
    with pytest.raises(ResourceDoesNotExist):
        models.create("424242", "x")
    with pytest.raises(InvalidParameterValue):
        models.create("0", "a/b")
    with pytest.raises(ResourceDoesNotExist):
        models.create("0", "x", source_run_id="f" * 32)
    eid = store.create_experiment("gone")
    store.delete_experiment(eid)
    with pytest.raises(InvalidState):
        models.create(eid, "x")


def test_search_filter_order_paging(store):
    models = store.logged_models
    eid = store.create_experiment("models")
    run = store.create_run(eid, "u", T0, [], "r")
    made = [
        models.create(eid, name, run.info.run_id if name != "c" else None, {"team": team})
        for name, team in (("b", "x"), ("a", "y"), ("c", "x"))
    ]
    models.create("0", "elsewhere")
    assert sorted(m.name for m in models.search([eid])) == ["a", "b", "c"]
    assert [m.name for m in models.search([eid], "name = 'a'")] == ["a"]
    assert sorted(m.name for m in models.search([eid], "tags.team = 'x'")) == ["b", "c"]
    found = models.search([eid], f"source_run_id = '{run.info.run_id}'", order_by=[{"field_name": "name"}])
    assert [m.name for m in found] == ["a", "b"]
    assert [m.name for m in models.search([eid], order_by=["name DESC"])] == ["c", "b", "a"]
    names, token = [], None
    for _ in range(3):
        page = models.search(
            [eid], order_by=[{"field_name": "name", "ascending": True}], max_results=2, page_token=token
        )
        names += [m.name for m in page]
        token = page.token
        if not token:
            break
    assert names == ["a", "b", "c"]
    with pytest.raises(InvalidParameterValue):
        models.search([eid], "bogus.x = 1")
    assert {m.model_id for m in made} == {m.model_id for m in models.search([eid, "0"]) if m.experiment_id == eid}


def test_run_outputs(store):
    models = store.logged_models
    run = store.create_run("0", "u", T0, [], "r")
    first, second = models.create("0", "m1", run.info.run_id), models.create("0", "m2", run.info.run_id)
    models.log_outputs(run.info.run_id, [(first.model_id, 0), (second.model_id, 5)])
    assert sorted(models.run_outputs(run.info.run_id)) == sorted([(first.model_id, 0), (second.model_id, 5)])
    with pytest.raises(ResourceDoesNotExist):
        models.log_outputs(run.info.run_id, [("m-" + "1" * 32, 0)])
    store.delete_run(run.info.run_id)
    with pytest.raises(InvalidState):
        models.log_outputs(run.info.run_id, [(first.model_id, 1)])


def test_file_layout_is_mlflow3s(tmp_path):
    store = make_store("file", tmp_path)
    run = store.create_run("0", "u", T0, [], "r")
    model = store.logged_models.create("0", "model", run.info.run_id, {"k": "v"}, {"p": "1"})
    store.logged_models.finalize(model.model_id, "READY")
    store.logged_models.log_outputs(run.info.run_id, [(model.model_id, 3)])
    model_dir = tmp_path / "mlruns" / "0" / "models" / model.model_id
    meta = yaml.safe_load((model_dir / "meta.yaml").read_text())
    assert meta["status"] == 2 and meta["model_id"] == model.model_id and meta["name"] == "model"
    assert (model_dir / "tags" / "k").read_text() == "v" and (model_dir / "params" / "p").read_text() == "1"
    link = yaml.safe_load(
        (tmp_path / "mlruns" / "0" / run.info.run_id / "outputs" / model.model_id / "meta.yaml").read_text()
    )
    assert link["step"] == 3 and link["source_type"] == "RUN_OUTPUT"
    assert [r.info.run_id for r in store.search_runs(["0"], None, 1, 10, None, None)] == [run.info.run_id]
    store.close()


def test_sql_migration_6_creates_the_tables_and_keeps_ones_made_on_first_use(tmp_path):
    """A new database has the logged-model tables from its migrations; a version 4 database whose tables
    were created on first use (before migration 6) is upgraded with its models intact."""
    import sqlalchemy as sa

    from tracklet.tracking.stores.sql import SqlStore, logged_models, schema

    fresh = SqlStore(f"sqlite:///{tmp_path / 'fresh.db'}", str(tmp_path / "art"))
    with fresh._engine.connect() as conn:
        assert schema.current_version(conn) == schema.LATEST_VERSION == 6
        assert set(logged_models.metadata.tables) <= set(sa.inspect(conn).get_table_names())
    fresh.close()

    uri = f"sqlite:///{tmp_path / 'v4.db'}"
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        assert schema.upgrade(conn, schema.MIGRATIONS[:4]) == 4
        logged_models.metadata.create_all(conn)  # what the first use of store.logged_models did then
        conn.execute(
            sa.insert(schema.experiments).values(
                experiment_id=0, name="Default", artifact_location=str(tmp_path), lifecycle_stage="active"
            )
        )
        row = {"model_id": "m-old", "experiment_id": "0", "name": "kept", "artifact_location": "x", "status": "READY"}
        conn.execute(
            logged_models.models.insert().values(
                **row, creation_timestamp=T0, last_updated_timestamp=T0, lifecycle_stage="active"
            )
        )
    engine.dispose()
    store = SqlStore(uri, str(tmp_path / "art"))
    with store._engine.connect() as conn:
        assert schema.current_version(conn) == 6
    assert store.logged_models.get("m-old").name == "kept"
    store.close()
