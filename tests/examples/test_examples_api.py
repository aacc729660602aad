import json

import pytest

SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"]},
        "day": {"type": "string", "format": "date"},
    },
    "required": ["city"],
}


@pytest.fixture
def weather(alice):
    assert alice.post("/v1/schemas", json={"name": "weather", "schema": SCHEMA}).status_code == 201
    return alice


def examples(team, params=None):
    return team.get("/v1/schemas/weather/examples", params=params or {}).json()


def test_add_one_pair(weather):
    r = weather.post(
        "/v1/schemas/weather/examples", json={"input": "rain in Oslo?", "output": {"city": "Oslo"}}
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 1
    assert r.json()["version"] == 1
    page = examples(weather)
    assert page["count"] == 1
    assert page["data"][0]["output"] == {"city": "Oslo"}
    assert page["data"][0]["labeled"] is True


def test_a_batch_with_one_bad_row_stores_nothing_and_reports_every_error(weather):
    rows = [
        {"input": "rain in Oslo?", "output": {"city": "Oslo"}},
        {"input": "sun tomorrow?", "output": {"city": 3}},
        {"input": "", "output": {"city": None, "day": "not-a-date"}},
    ]
    r = weather.post("/v1/schemas/weather/examples", json=rows)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_examples"
    found = {(e["index"], e["path"]) for e in body["errors"]}
    assert (1, "/output/city") in found
    assert (2, "/input") in found
    assert (2, "/output/day") in found
    assert examples(weather)["count"] == 0


def test_duplicates_are_ignored_and_counted(weather):
    row = {"input": "rain in Oslo?", "output": {"city": "Oslo"}}
    r = weather.post("/v1/schemas/weather/examples", json=[row, row])
    assert r.json()["added"] == 1
    assert r.json()["duplicates"] == 1
    again = weather.post("/v1/schemas/weather/examples", json=row)
    assert again.status_code == 200
    assert again.json() | {"ids": []} == {
        "name": "weather",
        "version": 1,
        "added": 0,
        "duplicates": 1,
        "ids": [],
    }
    assert examples(weather)["count"] == 1


def test_unlabeled_inputs_and_filters(weather):
    weather.post(
        "/v1/schemas/weather/examples", json=[{"input": "hail in Rome?"}, {"input": "fog?"}]
    )
    weather.post("/v1/schemas/weather/examples", json={"input": "x", "output": {"city": None}})
    assert examples(weather, {"labeled": False})["count"] == 2
    assert examples(weather, {"labeled": True})["count"] == 1
    page = examples(weather, {"limit": 1, "offset": 1})
    assert page["count"] == 3
    assert page["data"][0]["input"] == "fog?"


def test_jsonl_body_and_file_upload(weather):
    lines = "\n".join(
        json.dumps({"input": f"weather in city {i}", "output": {"city": f"c{i}"}}) for i in range(3)
    )
    r = weather.post(
        "/v1/schemas/weather/examples",
        content=lines.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.json()["added"] == 3
    more = lines.replace("city ", "town ")
    r = weather.post(
        "/v1/schemas/weather/examples", files={"file": ("more.jsonl", more.encode(), "text/plain")}
    )
    assert r.status_code == 201, r.text
    assert r.json()["added"] == 3


def test_jsonl_with_a_broken_line_names_it(weather):
    body = '{"input": "a", "output": {"city": "a"}}\n{broken\n'
    r = weather.post(
        "/v1/schemas/weather/examples",
        content=body.encode(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["line"] == 2
    assert examples(weather)["count"] == 0


def test_examples_attach_to_the_version_asked_for(weather):
    weather.put("/v1/schemas/weather/config", json={"compatibility": "NONE"})
    weather.post("/v1/schemas", json={"name": "weather", "schema": {"type": "object"}})
    r = weather.post(
        "/v1/schemas/weather/examples",
        params={"version": 1},
        json={"input": "a", "output": {"city": "a"}},
    )
    assert r.json()["version"] == 1
    r = weather.post("/v1/schemas/weather/examples", json={"input": "b", "output": {"anything": 1}})
    assert r.json()["version"] == 2
    assert examples(weather, {"version": 1})["count"] == 1
    assert examples(weather)["count"] == 2


def test_delete_one(weather):
    ids = weather.post("/v1/schemas/weather/examples", json={"input": "a", "output": {"city": "a"}})
    id = ids.json()["ids"][0]
    assert weather.delete(f"/v1/schemas/weather/examples/{id}").status_code == 204
    assert weather.delete(f"/v1/schemas/weather/examples/{id}").status_code == 404
    assert examples(weather)["count"] == 0


def test_unknown_schema_is_404(alice):
    r = alice.post("/v1/schemas/nope/examples", json={"input": "a"})
    assert r.status_code == 404
    assert r.json()["error"] == "schema_not_found"


def test_examples_can_be_pinned_to_the_evaluation_set(weather):
    rows = [
        {"input": "rain in Oslo?", "output": {"city": "Oslo"}, "eval": True},
        {"input": "sun in Rome?", "output": {"city": "Rome"}},
        {"input": "fog in Bergen?", "output": {"city": "Bergen"}, "eval": False},
    ]
    assert weather.post("/v1/schemas/weather/examples", json=rows).status_code == 201
    assert [e["eval"] for e in examples(weather)["data"]] == [True, False, False]
    # The mark is a boolean, and only a labeled example can be scored.
    bad = [
        {"input": "snow?", "eval": True},
        {"input": "hail?", "output": {"city": None}, "eval": 1},
    ]
    r = weather.post("/v1/schemas/weather/examples", json=bad)
    assert r.status_code == 422
    assert {(e["index"], e["path"]) for e in r.json()["errors"]} == {(0, "/eval"), (1, "/eval")}
    assert examples(weather)["count"] == 3
