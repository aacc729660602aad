"""Golden compatibility table: (old, new) -> BACKWARD and FORWARD verdicts, both directions."""

import pytest

from schemas.compat import Compatibility, check_compatibility, is_subschema

S = {"type": "string"}
OPEN = {"type": "object", "properties": {"a": {"type": "string"}}}
CLOSED = {**OPEN, "additionalProperties": False}


def with_(schema: dict, **changes) -> dict:
    return {**schema, **changes}


def props(schema: dict, **more) -> dict:
    return {**schema, "properties": {**schema["properties"], **more}}


# (id, old, new, backward compatible, forward compatible)
GOLDEN = [
    ("identical", OPEN, OPEN, True, True),
    ("identical-closed", CLOSED, CLOSED, True, True),
    ("annotation-only-change", S, with_(S, description="a name"), True, True),
    ("add-optional-open", OPEN, props(OPEN, b={"type": "integer"}), False, True),
    ("add-optional-closed", CLOSED, props(CLOSED, b={"type": "integer"}), True, False),
    ("add-optional-unconstrained-open", OPEN, props(OPEN, b={}), True, True),
    ("add-required-open", OPEN, with_(props(OPEN, b=S), required=["b"]), False, True),
    ("add-required-closed", CLOSED, with_(props(CLOSED, b=S), required=["b"]), False, False),
    ("make-required", OPEN, with_(OPEN, required=["a"]), False, True),
    ("drop-required", with_(OPEN, required=["a"]), OPEN, True, False),
    ("remove-prop-closed", CLOSED, with_(CLOSED, properties={}), False, True),
    ("remove-prop-open", OPEN, {"type": "object"}, True, False),
    ("close-object", OPEN, CLOSED, False, True),
    ("open-object", CLOSED, OPEN, True, False),
    ("widen-enum", {"enum": ["a", "b"]}, {"enum": ["a", "b", "c"]}, True, False),
    ("narrow-enum", {"enum": ["a", "b", "c"]}, {"enum": ["a", "b"]}, False, True),
    ("integer-to-number", {"type": "integer"}, {"type": "number"}, True, False),
    ("number-to-integer", {"type": "number"}, {"type": "integer"}, False, True),
    ("add-null-type-list", S, {"type": ["string", "null"]}, True, False),
    ("add-null-anyof", S, {"anyOf": [S, {"type": "null"}]}, True, False),
    (
        "type-list-vs-anyof",
        {"type": ["string", "null"]},
        {"anyOf": [S, {"type": "null"}]},
        True,
        True,
    ),
    (
        "oneof-disjoint-vs-list",
        {"oneOf": [S, {"type": "integer"}]},
        {"type": ["string", "integer"]},
        True,
        True,
    ),
    (
        "oneof-overlapping",
        {"type": "integer"},
        {"oneOf": [{"type": "integer"}, {"type": "number"}]},
        False,
        False,
    ),
    ("tighten-maxlength", with_(S, maxLength=20), with_(S, maxLength=10), False, True),
    ("loosen-maxlength", with_(S, maxLength=10), with_(S, maxLength=20), True, False),
    ("add-minlength", S, with_(S, minLength=1), False, True),
    (
        "raise-minimum",
        {"type": "number", "minimum": 0},
        {"type": "number", "minimum": 5},
        False,
        True,
    ),
    (
        "raise-maximum",
        {"type": "number", "maximum": 5},
        {"type": "number", "maximum": 9},
        True,
        False,
    ),
    (
        "integer-exclusive-equivalent",
        {"type": "integer", "minimum": 1},
        {"type": "integer", "exclusiveMinimum": 0},
        True,
        True,
    ),
    (
        "number-exclusive-stricter",
        {"type": "number", "minimum": 0},
        {"type": "number", "exclusiveMinimum": 0},
        False,
        True,
    ),
    (
        "multipleof-2-to-4",
        {"type": "integer", "multipleOf": 2},
        {"type": "integer", "multipleOf": 4},
        False,
        True,
    ),
    (
        "items-integer-to-number",
        {"type": "array", "items": {"type": "integer"}},
        {"type": "array", "items": {"type": "number"}},
        True,
        False,
    ),
    (
        "raise-minitems",
        {"type": "array", "minItems": 1},
        {"type": "array", "minItems": 2},
        False,
        True,
    ),
    ("drop-maxitems", {"type": "array", "maxItems": 3}, {"type": "array"}, True, False),
    ("add-uniqueitems", {"type": "array"}, {"type": "array", "uniqueItems": True}, False, True),
    (
        "prefixitems-grow",
        {"type": "array", "prefixItems": [S]},
        {"type": "array", "prefixItems": [S, {"type": "integer"}]},
        False,
        True,
    ),
    (
        "items-false-to-open",
        {"type": "array", "prefixItems": [S], "items": False},
        {"type": "array", "prefixItems": [S]},
        True,
        False,
    ),
    (
        "anyof-add-branch",
        {"anyOf": [S, {"type": "integer"}]},
        {"anyOf": [S, {"type": "integer"}, {"type": "boolean"}]},
        True,
        False,
    ),
    ("anyof-remove-branch", {"anyOf": [S, {"type": "integer"}]}, {"anyOf": [S]}, False, True),
    ("const-to-enum", {"const": "a"}, {"enum": ["a", "b"]}, True, False),
    ("enum-to-const", {"enum": ["a", "b"]}, {"const": "a"}, False, True),
    ("boolean-vs-enum", {"type": "boolean"}, {"enum": [True, False]}, True, True),
    ("enum-1-vs-true", {"enum": [1]}, {"enum": [True]}, False, False),
    ("pattern-change", with_(S, pattern="^a"), with_(S, pattern="^b"), False, False),
    ("pattern-added", S, with_(S, pattern="^a"), False, True),
    ("enum-under-new-pattern", {"enum": ["ab", "ac"]}, with_(S, pattern="^a"), True, False),
    ("format-added", S, with_(S, format="date-time"), False, True),
    ("format-changed", with_(S, format="date"), with_(S, format="date-time"), False, False),
    ("not-added", S, with_(S, **{"not": {"const": "x"}}), False, True),
    (
        "if-then-unchanged",
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}},
        {"type": "object", "if": {"required": ["a"]}, "then": {"required": ["b"]}, "title": "t"},
        True,
        True,
    ),
    (
        "local-ref-loosened",
        {"$defs": {"s": with_(S, maxLength=5)}, "properties": {"a": {"$ref": "#/$defs/s"}}},
        {"properties": {"a": with_(S, maxLength=10)}},
        True,
        False,
    ),
    (
        "additional-schema-narrowed",
        {"type": "object", "additionalProperties": {"type": "number"}},
        {"type": "object", "additionalProperties": {"type": "integer"}},
        False,
        True,
    ),
    (
        "nested-enum-removed",
        {"properties": {"x": {"properties": {"unit": {"enum": ["c", "kelvin"]}}}}},
        {"properties": {"x": {"properties": {"unit": {"enum": ["c"]}}}}},
        False,
        True,
    ),
    (
        "allof-merge",
        {"allOf": [{"type": "string"}, {"maxLength": 3}]},
        with_(S, maxLength=5),
        True,
        False,
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "backward", "forward"),
    [pytest.param(o, n, b, f, id=i) for i, o, n, b, f in GOLDEN],
)
def test_golden_table(old, new, backward, forward):
    previous = [(1, old)]
    assert (not check_compatibility(new, previous, Compatibility.BACKWARD)) is backward
    assert (not check_compatibility(new, previous, Compatibility.FORWARD)) is forward
    assert (not check_compatibility(new, previous, Compatibility.FULL)) is (backward and forward)
    assert not check_compatibility(new, previous, Compatibility.NONE)
    # The same verdicts from the core, in both directions.
    assert (not is_subschema(old, new)) is backward
    assert (not is_subschema(new, old)) is forward


def test_golden_table_is_large_enough():
    assert len(GOLDEN) >= 40


def messages(new, old, mode=Compatibility.BACKWARD):
    return {(i.path, i.message) for i in check_compatibility(new, [(1, old)], mode)}


def test_messages_name_the_path_and_the_change():
    old = {
        "type": "object",
        "properties": {
            "unit": {"enum": ["celsius", "kelvin"]},
            "name": {"type": "string", "maxLength": 20},
        },
    }
    new = {
        "type": "object",
        "properties": {
            "unit": {"enum": ["celsius"]},
            "name": {"type": "string", "maxLength": 10},
        },
        "required": ["unit"],
    }
    assert messages(new, old) == {
        ("/properties/unit", "property 'unit' became required"),
        ("/properties/unit/enum", "enum value 'kelvin' was removed"),
        ("/properties/name/maxLength", "maxLength lowered from 20 to 10"),
    }
    # FORWARD reads the other way round: the new schema's extra freedom is what breaks.
    assert messages(old, new, Compatibility.FORWARD) == {
        ("/properties/unit", "property 'unit' is no longer required"),
        ("/properties/unit/enum", "enum value 'kelvin' was added"),
        ("/properties/name/maxLength", "maxLength raised from 10 to 20"),
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (with_(S, pattern="^a"), with_(S, pattern="^b")),
        (S, with_(S, **{"not": {"const": "x"}})),
        ({"type": "object"}, {"type": "object", "unevaluatedProperties": False}),
        ({"type": "object"}, {"type": "object", "dependentRequired": {"a": ["b"]}}),
    ],
)
def test_what_cannot_be_proved_is_refused_with_cannot_prove(old, new):
    found = check_compatibility(new, [(1, old)], Compatibility.BACKWARD)
    assert found
    assert all(i.message.startswith("cannot prove") for i in found)


def test_transitive_checks_every_version_non_transitive_only_the_latest():
    v1 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 30}}}
    v2 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 10}}}
    v3 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 20}}}
    previous = [(1, v1), (2, v2)]
    # FORWARD: every v3 instance must be valid under the old version(s).
    assert check_compatibility(v3, [(1, v1)], Compatibility.FORWARD) == []
    assert check_compatibility(v3, previous, Compatibility.FORWARD) != []
    # v3 (maxLength 20) breaks v2 (10) but not v1 (30); v2 is the latest...
    # ...so make v3 break only v1 instead, under BACKWARD:
    w1 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 30}}}
    w2 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 10}}}
    w3 = {"type": "object", "properties": {"a": {"type": "string", "maxLength": 20}}}
    chain = [(1, w1), (2, w2)]
    assert check_compatibility(w3, chain, Compatibility.BACKWARD) == []
    broken = check_compatibility(w3, chain, Compatibility.BACKWARD_TRANSITIVE)
    assert [(i.version, i.path, i.message) for i in broken] == [
        (1, "/properties/a/maxLength", "maxLength lowered from 30 to 20")
    ]
    assert check_compatibility(w3, chain, Compatibility.FULL) != []
    assert {i.version for i in check_compatibility(w3, chain, Compatibility.FULL_TRANSITIVE)} == {
        1,
        2,
    }


def test_no_previous_versions_is_always_compatible():
    assert check_compatibility(OPEN, [], Compatibility.FULL_TRANSITIVE) == []


def test_compatibility_values_are_confluent_names():
    assert [c.value for c in Compatibility] == [
        "NONE",
        "BACKWARD",
        "BACKWARD_TRANSITIVE",
        "FORWARD",
        "FORWARD_TRANSITIVE",
        "FULL",
        "FULL_TRANSITIVE",
    ]
