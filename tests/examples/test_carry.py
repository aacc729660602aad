"""Schema evolution: a new version starts from the examples of the old one that still
validate; each one that does not is reported with the path and the reason."""

from fastapi.testclient import TestClient

from tests.fixtures.app import sign_in

V1 = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city"],
}
# Version 2 narrows days to a week and adds a field: not BACKWARD compatible, so the team
# registers it with compatibility NONE; some old examples no longer validate.
V2 = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer", "maximum": 7},
        "unit": {"enum": ["C", "F"]},
    },
    "required": ["city"],
}
ROWS = [
    {"input": "weather in Oslo", "output": {"city": "Oslo"}, "eval": True},
    {"input": "Lima for 3 days", "output": {"city": "Lima", "days": 3}},
    {"input": "Pune for two weeks", "output": {"city": "Pune", "days": 14}},
    {"input": "what about Rome?"},  # unlabeled: an input is valid under any version
]


def setup_versions(alice) -> None:
    assert alice.post("/v1/schemas", json={"name": "weather", "schema": V1}).status_code == 201
    assert alice.post("/v1/schemas/weather/examples", json=ROWS).json()["added"] == 4
    config = {"compatibility": "NONE"}
    assert alice.put("/v1/schemas/weather/config", json=config).status_code == 200
    r = alice.post("/v1/schemas", json={"name": "weather", "schema": V2})
    assert r.status_code == 201, r.text


def test_carry_copies_what_validates_and_says_why_the_rest_does_not(alice):
    setup_versions(alice)
    r = alice.post("/v1/schemas/weather/examples/carry", json={"from": 1, "to": 2})
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["examined"], report["carried"], report["rejected"]) == (4, 3, 1)
    [error] = report["errors"]
    assert error["path"] == "/output/days"
    assert "7" in error["message"]
    assert error["index"] == 2

    carried = alice.get("/v1/schemas/weather/examples", params={"version": 2}).json()["data"]
    assert [(e["input"], e["eval"], e["labeled"]) for e in carried] == [
        ("weather in Oslo", True, True),  # still pinned to the evaluation set
        ("Lima for 3 days", False, True),
        ("what about Rome?", False, False),
    ]
    # Version 1 keeps its examples.
    assert alice.get("/v1/schemas/weather/examples", params={"version": 1}).json()["count"] == 4

    # Idempotent: a second carry adds nothing and reports the same rejection.
    again = alice.post("/v1/schemas/weather/examples/carry", json={"from": 1}).json()
    assert (again["carried"], again["already_present"], again["rejected"]) == (0, 3, 1)
    assert alice.get("/v1/schemas/weather/examples", params={"version": 2}).json()["count"] == 3


def test_bad_carries_are_4xx_with_the_offending_path(alice, bob):
    setup_versions(alice)
    same = alice.post("/v1/schemas/weather/examples/carry", json={"from": 2, "to": 2})
    assert same.status_code == 422
    assert same.json()["errors"][0]["path"] == "/to"
    missing = alice.post("/v1/schemas/weather/examples/carry", json={"from": 9})
    assert missing.status_code == 404
    assert missing.json()["error"] == "version_not_found"
    wrong = alice.post("/v1/schemas/weather/examples/carry", json={"from": "one"})
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["path"] == "/from"
    absent = alice.post("/v1/schemas/weather/examples/carry", json={})
    assert absent.status_code == 422
    assert absent.json()["errors"][0]["path"] == "/from"
    # Another team's schema does not exist for bob.
    assert bob.post("/v1/schemas/weather/examples/carry", json={"from": 1}).status_code == 404


def test_the_cli_prints_the_rows_not_carried(alice, client: TestClient, cli):
    setup_versions(alice)
    result = cli(client, alice.key, "examples", "carry", "weather", "--from", "1", "--to", "2")
    assert result.exit_code == 0, result.output
    assert "carried 3 of 4 examples from weather version 1 to version 2" in result.stdout
    assert "/output/days" in result.stdout


def test_the_dashboard_offers_the_carry_between_the_versions_it_compares(alice, client):
    setup_versions(alice)
    sign_in(client, alice.key)
    page = client.get("/ui/schemas/weather/versions").text
    assert 'data-action="carry"' in page
    assert "Carry v1's examples to v2" in page
    assert 'data-from="1" data-to="2"' in page
