"""Hostile schemas and instances: clean refusals, bounded time, and never a network connection."""

import json
import random
import socket
import string
import time

import pytest

from schemas.errors import SchemaRejected
from schemas.limits import Limits
from schemas.validation import prepare, recursive_paths, validate_instance


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Record and refuse every connection attempt; each test asserts there was none."""
    attempts: list = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield attempts
    assert attempts == [], "a network connection was attempted"


def rejected(schema, limits=None) -> SchemaRejected:
    with pytest.raises(SchemaRejected) as info:
        prepare(schema, limits)
    assert info.value.detail
    assert info.value.issues
    return info.value


def nested(depth: int) -> dict:
    schema: dict = {"type": "object"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


@pytest.mark.parametrize(
    "ref",
    [
        "http://example.com/s.json",
        "https://10.0.0.1/x#/a",
        "file:///etc/passwd",
        "other.json",
        "../other.json#/$defs/a",
        "//example.com/s",
        "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
    ],
)
@pytest.mark.parametrize("keyword", ["$ref", "$dynamicRef"])
def test_remote_refs_are_refused_without_fetching(ref, keyword):
    error = rejected({"type": "object", "properties": {"a": {keyword: ref}}})
    assert error.code == "remote_ref"
    assert error.issues[0].path == f"/properties/a/{keyword}"


def test_refs_are_resolved_locally_and_never_fetched_even_with_an_id():
    schema = {
        "$id": "https://example.com/root.json",
        "$defs": {"name": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/name"}},
    }
    prepare(schema)
    assert validate_instance(schema, {"a": 1})[0].path == "/a"


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"$ref": "#"}, id="root-self"),
        pytest.param({"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, id="direct"),
        pytest.param(
            {
                "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}},
                "$ref": "#/$defs/a",
            },
            id="indirect",
        ),
        pytest.param(
            {"$defs": {"n": {"$anchor": "node", "anyOf": [{"$ref": "#node"}]}}, "$ref": "#node"},
            id="anchor",
        ),
        pytest.param(
            {
                "$defs": {"a": {"not": {"$ref": "#/$defs/b"}}, "b": {"allOf": [{"$ref": "#"}]}},
                "$ref": "#/$defs/a",
            },
            id="through-not-and-allOf",
        ),
    ],
)
def test_cycles_that_never_step_into_the_instance_are_refused(schema):
    error = rejected(schema)
    assert error.code == "ref_cycle"
    assert "never steps into the instance" in error.detail


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param(
            {
                "type": "object",
                "properties": {"children": {"type": "array", "items": {"$ref": "#"}}},
            },
            id="tree",
        ),
        pytest.param(
            {
                "$defs": {
                    "section": {
                        "type": "object",
                        "properties": {
                            "title": {"type": "string"},
                            "sections": {"type": "array", "items": {"$ref": "#/$defs/section"}},
                        },
                    }
                },
                "$ref": "#/$defs/section",
            },
            id="nested-sections",
        ),
        pytest.param(
            {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"$ref": "#"}}]},
            id="anyOf-list",
        ),
        pytest.param(
            {
                "$defs": {"n": {"$anchor": "node", "additionalProperties": {"$ref": "#node"}}},
                "$ref": "#node",
            },
            id="anchor-map",
        ),
    ],
)
def test_recursion_through_the_instance_is_served(schema):
    prepared = prepare(schema)
    assert validate_instance(prepared.schema, json.loads("[[1, [2]], 3]")) is not None
    assert recursive_paths(prepared.schema)


def test_a_definition_that_refers_to_an_unused_root_is_not_a_cycle():
    prepare({"$defs": {"a": {"$ref": "#"}}, "type": "object"})


def test_ten_thousand_deep_nesting_is_a_clean_error():
    # Bounded on this thread's CPU time (rejecting takes ~0.04 s), not on the wall clock, which
    # also counts the time the machine gave to other processes (1.005 s once, in CI).
    started = time.thread_time()
    error = rejected(nested(10_000))
    assert error.code == "schema_too_large"
    assert time.thread_time() - started < 1


def test_subschema_depth_limit():
    prepare(nested(30))
    error = rejected(nested(40))
    assert error.code == "schema_too_large"
    assert "nesting" in error.issues[0].message


def test_exponential_ref_fan_out_is_refused():
    defs = {"a0": {"type": "string"}}
    for i in range(1, 40):
        defs[f"a{i}"] = {"allOf": [{"$ref": f"#/$defs/a{i - 1}"}, {"$ref": f"#/$defs/a{i - 1}"}]}
    error = rejected({"$defs": defs, "$ref": "#/$defs/a39"})
    assert error.code == "schema_too_large"


@pytest.mark.parametrize(
    "schema",
    [
        pytest.param({"enum": list(range(5000))}, id="huge-enum"),
        pytest.param(
            {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(600)}},
            id="too-many-properties",
        ),
        pytest.param({"type": "string", "description": "x" * 300_000}, id="oversized"),
        pytest.param({"const": "x" * 20_000}, id="long-const"),
        pytest.param({"type": "string", "pattern": "a" * 2000}, id="long-pattern"),
    ],
)
def test_size_limits(schema):
    assert rejected(schema).code == "schema_too_large"


def test_limits_are_configurable_and_checked():
    assert rejected({"enum": [1, 2, 3]}, Limits(max_enum=2)).code == "schema_too_large"
    with pytest.raises(ValueError, match="max_enum"):
        Limits(max_enum=0)


def test_catastrophic_pattern_runs_in_linear_time():
    schema = {"type": "string", "pattern": "^(a+)+$"}
    prepare(schema)
    started = time.perf_counter()
    issues = validate_instance(schema, "a" * 30 + "!")
    assert time.perf_counter() - started < 0.1
    assert [i.keyword for i in issues] == ["pattern"]


def test_pattern_properties_and_additional_properties_use_re2():
    schema = {
        "type": "object",
        "patternProperties": {"^(a+)+$": {"type": "integer"}},
        "additionalProperties": False,
    }
    started = time.perf_counter()
    issues = validate_instance(schema, {"a" * 30 + "!": 1, "aaa": "x"})
    assert time.perf_counter() - started < 0.1
    assert {i.path for i in issues} == {"", "/aaa"}


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [("^(a)\\1$", "escape"), ("(?<=a)b", "perl operator"), ("(?!a)b", "perl operator")],
)
def test_backtracking_patterns_are_refused(pattern, reason):
    error = rejected({"type": "string", "pattern": pattern})
    assert error.code == "unsafe_pattern"
    assert reason in error.issues[0].message


def test_refused_pattern_property_names_are_reported_with_their_path():
    error = rejected({"patternProperties": {"(?=x)": {}}})
    assert error.code == "unsafe_pattern"
    assert error.issues[0].path == "/patternProperties/(?=x)"


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "strin"}, "/type"),
        ({"type": "object", "properties": {"a": {"minimum": "3"}}}, "/properties/a/minimum"),
        ({"required": "a"}, "/required"),
        ({"items": [{"type": "string"}]}, "/items"),
        ({"properties": {"a": {"minLength": -1}}}, "/properties/a/minLength"),
    ],
)
def test_metaschema_errors_carry_their_path(schema, path):
    error = rejected(schema)
    assert error.code == "invalid_schema"
    assert path in {i.path for i in error.issues}


@pytest.mark.parametrize(
    ("schema", "code"),
    [
        (True, "unsupported_schema"),
        (False, "unsupported_schema"),
        ([], "invalid_schema"),
        ("{}", "invalid_schema"),
        ({"const": float("nan")}, "invalid_schema"),
        ({"$schema": "http://json-schema.org/draft-03/schema#"}, "unsupported_schema"),
        ({"$schema": "https://example.com/my-metaschema"}, "unsupported_schema"),
        ({"$ref": "#/$defs/missing"}, "invalid_schema"),
        ({"$ref": "#/properties"}, "invalid_schema"),
        ({"pattern": "["}, "invalid_schema"),
    ],
)
def test_other_refusals(schema, code):
    assert rejected(schema).code == code


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date-time", "2024-02-29T12:00:00Z", "yesterday"),
        ("date", "2024-02-29", "2023-02-29"),
        ("email", "a@example.com", "no-at-sign"),
        ("uuid", "6e8bc430-9c3a-11d9-9669-0800200c9a66", "6e8bc430"),
        ("ipv4", "10.0.0.1", "10.0.0.256"),
        ("regex", "^a+$", "(?<=a)"),
    ],
)
def test_formats_are_checked(fmt, good, bad):
    schema = {"type": "string", "format": fmt}
    assert validate_instance(schema, good) == []
    assert [i.keyword for i in validate_instance(schema, bad)] == ["format"]


def random_json(rng: random.Random, depth: int = 0):
    kind = rng.randrange(8 if depth < 6 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(10**20), 10**20)
    if kind == 3:
        return rng.uniform(-1e300, 1e300)
    if kind in (4, 5):
        return "".join(
            rng.choice(string.printable + "é\u2028\U0001f600") for _ in range(rng.randrange(30))
        )
    if kind == 6:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(5))]
    return {
        "".join(rng.choice("abc!") for _ in range(3)): random_json(rng, depth + 1)
        for _ in range(rng.randrange(5))
    }


JUNK_SCHEMA = {
    "type": "object",
    "properties": {
        "a": {"type": "string", "format": "date-time", "pattern": "^(a+)+$"},
        "b": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        "c": {"anyOf": [{"type": "null"}, {"type": "number", "multipleOf": 0.01}]},
        "d": {"type": "string", "format": "regex"},
    },
    "patternProperties": {"^b": {"type": "string", "format": "email"}},
    "required": ["a"],
    "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
    "unevaluatedProperties": False,
}


def test_validate_instance_never_raises_on_random_junk():
    rng = random.Random(2026)
    started = time.perf_counter()
    for _ in range(500):
        instance = random_json(rng)
        issues = validate_instance(JUNK_SCHEMA, instance)
        assert isinstance(issues, list)
        paths = [i.path for i in issues]
        assert all(isinstance(p, str) for p in paths)
    deep: list = []
    for _ in range(5000):
        deep = [deep]
    assert isinstance(validate_instance({"type": "array", "uniqueItems": True}, [deep, deep]), list)
    assert time.perf_counter() - started < 5
