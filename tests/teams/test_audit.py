"""The audit log: every change, by whom (key prefix), newest first, one team at a time."""

from tests.fixtures.app import TeamClient, sign_in

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_every_change_is_logged_with_the_key_prefix_newest_first(alice: TeamClient, bob):
    prefix = alice.key[:12]
    assert alice.post("/v1/schemas", json={"name": "weather", "schema": SCHEMA}).status_code == 201
    ex = alice.post("/v1/schemas/weather/examples", json={"input": "rain", "output": {"city": "x"}})
    assert ex.status_code == 201
    assert (
        alice.put("/v1/schemas/weather/config", json={"compatibility": "NONE"}).status_code == 200
    )
    assert alice.delete(f"/v1/schemas/weather/examples/{ex.json()['ids'][0]}").status_code == 204
    new_key = alice.post("/v1/keys").json()
    assert alice.delete(f"/v1/keys/{new_key['prefix']}").status_code == 200
    # Reads, refusals and checks are not changes.
    alice.get("/v1/schemas/weather")
    alice.post("/v1/schemas", json={"name": "bad", "schema": {"type": "nope"}})
    alice.post("/v1/schemas/weather/compatibility", json={"schema": SCHEMA})

    page = alice.get("/v1/audit").json()
    actions = [e["action"] for e in page["data"]]
    assert actions == [
        "revoke_key",
        "create_key",
        "delete_example",
        "set_config",
        "add_examples",
        "register_schema",
    ]
    assert page["count"] == 6
    assert {e["actor"] for e in page["data"]} == {prefix}
    assert page["data"][2]["resource"] == f"/v1/schemas/weather/examples/{ex.json()['ids'][0]}"

    second = alice.get("/v1/audit", params={"offset": 2, "limit": 2}).json()
    assert [e["action"] for e in second["data"]] == ["delete_example", "set_config"]
    assert bob.get("/v1/audit").json() == {"data": [], "count": 0}


def test_dashboard_changes_are_logged_with_the_key_that_signed_in(client, alice: TeamClient):
    sign_in(client, alice.key)
    r = client.post(
        "/v1/schemas", json={"name": "weather", "schema": SCHEMA}, headers={"X-Formwright-UI": "1"}
    )
    assert r.status_code == 201
    client.cookies.clear()
    events = alice.get("/v1/audit").json()["data"]
    assert [(e["action"], e["actor"]) for e in events[:2]] == [
        ("register_schema", alice.key[:12]),
        ("login", alice.key[:12]),
    ]
