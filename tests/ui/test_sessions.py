"""Dashboard sessions: a random server-side token, CSRF locks, sign-out, revocation."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from service.app import create_app
from service.models import UiSession, utcnow
from tests.fixtures.app import TeamClient, sign_in

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def schema_count(team: TeamClient) -> int:
    return team.get("/v1/schemas").json()["count"]


def test_the_cookie_holds_a_random_token_not_the_key(client, alice: TeamClient):
    r = client.post("/ui/login", data={"key": alice.key}, follow_redirects=False)
    assert r.status_code == 303
    token = r.cookies["fw_session"]
    assert alice.key not in r.headers["set-cookie"]
    assert len(token) >= 40
    # A second sign-in is a second session, not the same value again.
    other = client.post("/ui/login", data={"key": alice.key}, follow_redirects=False)
    assert other.cookies["fw_session"] != token
    client.cookies.clear()


def test_only_a_valid_bearer_key_skips_the_csrf_header(client, alice: TeamClient):
    sign_in(client, alice.key)
    body = {"name": "weather", "schema": SCHEMA}
    # Any other Authorization header leaves the cookie in charge, and the cookie needs the header.
    for header in ("Basic eDp4", "Token abc", "Bearer"):
        r = client.post("/v1/schemas", json=body, headers={"Authorization": header})
        assert r.status_code == 403, (header, r.text)
        assert r.json()["error"] == "csrf_header_missing"
    # A wrong Bearer key does not fall back to the cookie.
    r = client.post("/v1/schemas", json=body, headers={"Authorization": "Bearer fw_wrong"})
    assert r.status_code == 401
    assert schema_count(alice) == 0
    ok = client.post("/v1/schemas", json=body, headers={"X-Formwright-UI": "1"})
    assert ok.status_code == 201, ok.text
    client.cookies.clear()


@pytest.mark.parametrize("origin", ["null", "https://evil.example", "http://testserver.evil"])
def test_sign_in_refuses_foreign_and_null_origins(client, alice: TeamClient, origin):
    r = client.post(
        "/ui/login", data={"key": alice.key}, headers={"Origin": origin}, follow_redirects=False
    )
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    same = client.post(
        "/ui/login",
        data={"key": alice.key},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert same.status_code == 303
    client.cookies.clear()


def test_sign_out_ends_the_session_on_the_server(client, alice: TeamClient):
    token = sign_in(client, alice.key)
    assert client.get("/ui/schemas").status_code == 200
    foreign = {"Origin": "https://evil.example"}
    assert client.post("/ui/logout", headers=foreign, follow_redirects=False).status_code == 403
    assert client.get("/ui/schemas").status_code == 200
    assert client.post("/ui/logout", follow_redirects=False).status_code == 303
    events = alice.get("/v1/audit").json()["data"]
    assert (events[0]["action"], events[0]["actor"]) == ("logout", alice.key[:12])
    # Someone who copied the cookie before sign-out cannot use it afterwards.
    client.cookies.set("fw_session", token)
    r = client.get("/ui/schemas", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"].startswith("/ui/login")
    assert client.get("/v1/schemas").status_code == 401
    client.cookies.clear()


def test_sessions_expire(client, alice: TeamClient, engine):
    sign_in(client, alice.key)
    with Session(engine) as session:
        row = session.exec(select(UiSession)).one()
        assert timedelta(days=6) < row.expires_at - utcnow() <= timedelta(days=7)
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert client.get("/v1/schemas").status_code == 401
    client.cookies.clear()


def test_revoking_a_key_ends_its_sessions_and_its_requests_at_once(client, alice: TeamClient):
    created = alice.post("/v1/keys")
    assert created.status_code == 201
    second = TeamClient(client, created.json()["key"], "alice")
    sign_in(client, second.key)
    assert client.get("/v1/schemas").status_code == 200
    r = alice.delete(f"/v1/keys/{created.json()['prefix']}")
    assert r.status_code == 200
    assert r.json()["revoked_at"] is not None
    assert second.get("/v1/schemas").status_code == 401
    assert client.get("/v1/schemas").status_code == 401
    assert alice.get("/v1/schemas").status_code == 200
    client.cookies.clear()


@pytest.mark.parametrize(("allow", "secure"), [("127.0.0.1", False), ("*", True)])
def test_cookie_is_secure_when_a_trusted_proxy_saw_https(settings, engine, allow, secure):
    settings.forwarded_allow_ips = allow
    with TestClient(create_app(settings, db_engine=engine)) as client:
        from tests.fixtures.app import make_team

        key = make_team(engine, "alice")
        r = client.post(
            "/ui/login",
            data={"key": key},
            headers={"X-Forwarded-Proto": "https"},
            follow_redirects=False,
        )
    assert r.status_code == 303
    assert ("Secure" in r.headers["set-cookie"]) is secure
