"""validate_instance and prepare on ordinary schemas."""

import pytest

from schemas.errors import Issue, SchemaRejected
from schemas.validation import PreparedSchema, prepare, validate_instance

WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": ["string", "null"]},
        "unit": {"enum": ["celsius", "fahrenheit"]},
        "days": {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": 3},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}


def test_prepare_returns_a_private_copy_text_fingerprint_and_validator():
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    prepared = prepare(schema)
    assert isinstance(prepared, PreparedSchema)
    assert prepared.canonical == '{"properties":{"a":{"type":"string"}},"type":"object"}'
    assert prepared.fingerprint.startswith("sha256:")
    schema["type"] = "array"  # the caller's later edits do not reach the prepared copy
    assert prepared.schema["type"] == "object"
    assert prepared.validate({"a": 1}) == [Issue("/a", "1 is not of type 'string'", "type")]


def test_valid_instance_has_no_issues():
    assert validate_instance(WEATHER, {"city": None, "unit": "celsius", "days": [0, 2]}) == []


def test_issues_are_sorted_by_instance_path_with_numeric_indexes():
    instance = {"unit": "kelvin", "days": [1, -1, 2, 3, 4, 5, 6, 7, 8, 9, 10, -2], "x": 1}
    issues = validate_instance(WEATHER, instance)
    assert [i.path for i in issues] == ["", "", "/days", "/days/1", "/days/11", "/unit"]
    assert {i.keyword for i in issues} == {
        "additionalProperties",
        "maxItems",
        "required",
        "minimum",
        "enum",
    }


def test_schema_the_registry_refuses_is_refused_by_validate_instance_too():
    with pytest.raises(SchemaRejected):
        validate_instance({"$ref": "https://example.com/s.json"}, {})


def test_ecma_unicode_escapes_in_patterns():
    assert validate_instance({"type": "string", "pattern": "^\\u00e9+$"}, "éé") == []
    assert validate_instance({"type": "string", "pattern": "^\\u00e9+$"}, "e") != []


def test_draft_07_definitions_refs_resolve_locally():
    schema = {"definitions": {"n": {"type": "integer"}}, "items": {"$ref": "#/definitions/n"}}
    assert [i.path for i in validate_instance(schema, [1, "x"])] == ["/1"]


def test_long_messages_are_shortened():
    issues = validate_instance({"type": "string"}, list(range(1000)))
    assert len(issues[0].message) <= 500
