"""API keys a team can rotate: create, list, revoke; stored as HMACs with a server secret."""

import hashlib
import stat

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from service.app import create_app
from service.config import Settings, get_settings
from service.db import make_engine
from service.migrate import upgrade
from service.models import ApiKey, utcnow
from service.teams.service import hash_key
from tests.fixtures.app import TeamClient


def test_rotate_a_key_create_the_new_one_then_revoke_the_old(alice: TeamClient):
    old_prefix = alice.get("/v1/keys").json()["data"][0]["prefix"]
    created = alice.post("/v1/keys")
    assert created.status_code == 201
    new = TeamClient(alice.client, created.json()["key"], "alice")
    assert new.key.startswith(created.json()["prefix"])
    assert new.get("/v1/schemas").status_code == 200

    assert new.delete(f"/v1/keys/{old_prefix}").status_code == 200
    r = alice.get("/v1/schemas")
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_api_key"
    listed = {k["prefix"]: k for k in new.get("/v1/keys").json()["data"]}
    assert listed[old_prefix]["revoked_at"] is not None
    assert listed[new.key[:12]]["revoked_at"] is None
    assert listed[new.key[:12]]["last_used_at"] is not None
    assert all("key" not in k for k in listed.values())


def test_a_team_cannot_see_or_revoke_another_teams_keys(alice: TeamClient, bob: TeamClient):
    alice_prefix = alice.get("/v1/keys").json()["data"][0]["prefix"]
    assert alice_prefix not in str(bob.get("/v1/keys").json())
    r = bob.delete(f"/v1/keys/{alice_prefix}")
    assert r.status_code == 404
    assert alice.get("/v1/schemas").status_code == 200


def test_keys_are_hashed_with_a_secret_kept_private_in_the_data_dir(tmp_path, engine):
    settings = Settings(data_dir=tmp_path / "fresh", load_model=False)
    with TestClient(create_app(settings, db_engine=engine)) as client:
        from service.db import session_scope
        from service.teams.service import create_team, key_secret

        with session_scope(engine) as session:
            key = create_team(session, name="acme", secret=key_secret(settings))[1]
        assert client.get("/v1/schemas", headers={"Authorization": f"Bearer {key}"}).json() == {
            "data": [],
            "count": 0,
        }
    secret_file = settings.data_dir / "secret.key"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.data_dir.stat().st_mode) == 0o700
    secret = bytes.fromhex(secret_file.read_text())
    with Session(engine) as session:
        stored = session.exec(select(ApiKey)).one()
    assert stored.key_hash == hash_key(key, secret=secret)
    # Without the secret a stolen database does not even confirm a guessed key.
    assert stored.key_hash != hashlib.sha256(key.encode()).hexdigest()


def test_the_team_switch_stops_logging_payloads(alice: TeamClient):
    assert alice.get("/v1/team").json()["log_payloads"] is True
    r = alice.patch("/v1/team", json={"log_payloads": False})
    assert r.status_code == 200
    assert r.json()["log_payloads"] is False
    assert alice.get("/v1/team").json()["log_payloads"] is False
    bad = alice.patch("/v1/team", json={"log_payloads": "no", "name": "x"})
    assert bad.status_code == 422


@pytest.mark.parametrize(
    "db_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_keys_issued_before_the_keyed_hash_keep_working_until_revoked(
    db_url, tmp_path, monkeypatch
):
    """Migration 0004 re-hashes the stored sha256 digests; nobody has to re-issue a key."""
    upgrade(db_url, "0003")
    key = "fw_" + "legacy-key-" * 4
    db = make_engine(db_url)
    now = utcnow()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO teams (name, log_payloads, max_concurrent_jobs, created_at) "
                "VALUES ('old', true, 2, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO api_keys (team_id, key_hash, prefix, created_at) "
                "SELECT id, :digest, :prefix, :now FROM teams WHERE name = 'old'"
            ),
            {"digest": hashlib.sha256(key.encode()).hexdigest(), "prefix": key[:10], "now": now},
        )
    data_dir = tmp_path / "operator-data"
    monkeypatch.setenv("FORMWRIGHT_DATA_DIR", str(data_dir))  # what `formwright db upgrade` reads
    get_settings.cache_clear()
    try:
        upgrade(db_url)
    finally:
        get_settings.cache_clear()
    settings = Settings(data_dir=data_dir, load_model=False)
    with TestClient(create_app(settings, db_engine=db)) as client:
        old = TeamClient(client, key, "old")
        assert old.get("/v1/schemas").status_code == 200
        assert old.get("/v1/keys").json()["data"][0]["prefix"] == key[:10]
        assert old.delete(f"/v1/keys/{key[:10]}").status_code == 200
        assert old.get("/v1/schemas").status_code == 401
    db.dispose()
