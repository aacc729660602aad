"""Each draft's quirks, normalized into the one internal form, with the author's order kept."""

import json

import pytest

from schemas.compat import CANNOT, is_subschema
from schemas.dialects import DIALECTS
from schemas.errors import SchemaRejected
from schemas.validation import build_validator, prepare
from tests.schemas.suite import DRAFTS, cases, externals_for, files


def both(schema, instance):
    """(the draft's own verdict, the internal form's verdict): they must agree."""
    prepared = prepare(schema)
    return prepared.validate(instance) == [], build_validator(prepared.schema).is_valid(instance)


@pytest.mark.parametrize("dialect", DIALECTS, ids=[d.name for d in DIALECTS])
@pytest.mark.parametrize("spelling", ["as-published", "no-fragment", "other-scheme"])
def test_every_draft_is_recognised_however_its_uri_is_written(dialect, spelling):
    uri = dialect.uri
    if spelling == "no-fragment":
        uri = uri.removesuffix("#")
    elif spelling == "other-scheme":
        uri = (
            uri.replace("http://", "https://")
            if uri.startswith("http:")
            else uri.replace("https://", "http://")
        )
    prepared = prepare({"$schema": uri, "type": "object"})
    assert prepared.dialect is dialect
    assert prepare({"type": "object"}).dialect.name == "2020-12"


def test_draft_04_id_exclusive_bounds_and_definitions():
    schema = {
        "$schema": "http://json-schema.org/draft-04/schema#",
        "id": "http://example.com/root.json",
        "properties": {
            "p": {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": 1},
            "q": {"$ref": "item.json"},
        },
        "definitions": {"item": {"id": "item.json", "type": "integer"}},
    }
    document = prepare(schema).schema
    assert document["properties"]["p"] == {"type": "number", "exclusiveMinimum": 0, "maximum": 1}
    assert document["properties"]["q"] == {"$ref": "#/$defs/item"}
    assert "id" not in json.dumps(document).replace('"$id"', "")
    assert both(schema, {"p": 0}) == (False, False)
    assert both(schema, {"p": 1, "q": 3}) == (True, True)
    assert both(schema, {"q": "x"}) == (False, False)


def test_draft_04_ignores_keywords_of_later_drafts():
    schema = {"$schema": "http://json-schema.org/draft-04/schema#", "const": 1, "type": "integer"}
    assert "const" not in prepare(schema).schema
    assert both(schema, 2) == (True, True)


def test_draft_06_plain_name_id_is_an_anchor():
    schema = {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "items": {"$ref": "#positive"},
        "definitions": {"p": {"$id": "#positive", "exclusiveMinimum": 0}},
    }
    assert prepare(schema).schema["items"] == {"$ref": "#/$defs/p"}
    assert both(schema, [1, 2]) == (True, True)
    assert both(schema, [0]) == (False, False)


def test_draft_07_ignores_siblings_of_ref_and_splits_dependencies():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "properties": {"a": {"$ref": "#/definitions/s", "maxLength": 1}},
        "definitions": {"s": {"type": "string"}},
        "dependencies": {"a": ["b"], "b": {"required": ["c"]}},
    }
    document = prepare(schema).schema
    assert document["properties"]["a"] == {"$ref": "#/$defs/s"}
    assert document["dependentRequired"] == {"a": ["b"]}
    assert document["dependentSchemas"] == {"b": {"required": ["c"]}}
    assert both(schema, {"a": "long", "b": 1, "c": 1}) == (True, True)
    assert both(schema, {"a": "x"}) == (False, False)
    assert both(schema, {"b": 1}) == (False, False)


def test_array_form_items_become_prefix_items_up_to_2019_09():
    for uri in (
        "http://json-schema.org/draft-07/schema#",
        "https://json-schema.org/draft/2019-09/schema",
    ):
        schema = {"$schema": uri, "items": [{"type": "string"}], "additionalItems": False}
        document = prepare(schema).schema
        assert document["prefixItems"] == [{"type": "string"}]
        assert document["items"] is False
        assert both(schema, ["a"]) == (True, True)
        assert both(schema, ["a", 1]) == (False, False)


def test_2019_09_recursive_ref_is_a_reference_to_the_resource_root():
    schema = {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$recursiveAnchor": True,
        "type": "object",
        "additionalProperties": {"anyOf": [{"type": "integer"}, {"$recursiveRef": "#"}]},
    }
    document = prepare(schema).schema
    assert document["additionalProperties"]["anyOf"][1] == {"$ref": "#"}
    assert both(schema, {"a": {"b": 1}}) == (True, True)
    assert both(schema, {"a": {"b": "x"}}) == (False, False)


def test_bundles_resolve_embedded_ids_and_anchors_locally():
    schema = {
        "$id": "https://example.com/order.json",
        "properties": {
            "a": {"$ref": "https://example.com/types/money.json"},
            "b": {"$ref": "#code"},
            "c": {"$ref": "types/money.json#/$defs/currency"},
        },
        "$defs": {
            "money": {
                "$id": "types/money.json",
                "type": "number",
                "$defs": {"currency": {"enum": ["EUR", "USD"]}},
            },
            "code": {"$anchor": "code", "type": "string", "maxLength": 3},
        },
    }
    document = prepare(schema).schema
    assert document["properties"] == {
        "a": {"$ref": "#/$defs/money"},
        "b": {"$ref": "#/$defs/code"},
        "c": {"$ref": "#/$defs/money/$defs/currency"},
    }
    assert both(schema, {"a": 1.5, "b": "abc", "c": "EUR"}) == (True, True)
    assert both(schema, {"c": "GBP"}) == (False, False)


def test_the_internal_form_keeps_the_authors_key_order():
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": {"z": {"type": "string"}, "reason": {"type": "string"}, "a": {}},
        "required": ["z"],
    }
    prepared = prepare(schema)
    assert list(prepared.schema["properties"]) == ["z", "reason", "a"]
    assert list(prepared.body["properties"]) == ["z", "reason", "a"]
    assert (
        prepared.fingerprint == prepare(json.loads(json.dumps(schema, sort_keys=True))).fingerprint
    )


def test_a_remote_ref_is_refused_with_its_uri_and_how_to_register_it():
    with pytest.raises(SchemaRejected) as info:
        prepare({"$id": "https://x.test/a.json", "items": {"$ref": "b.json"}})
    assert info.value.code == "remote_ref"
    assert "https://x.test/b.json" in info.value.issues[0].message
    assert "references" in info.value.detail


def test_recursive_pairs_terminate_in_compatibility():
    def tree(max_items):
        return prepare(
            {
                "type": "object",
                "properties": {
                    "children": {"type": "array", "maxItems": max_items, "items": {"$ref": "#"}}
                },
            }
        ).schema

    assert is_subschema(tree(3), tree(5)) == []
    issues = is_subschema(tree(5), tree(3))
    assert [i.path for i in issues] == ["/properties/children/maxItems"]
    # Mutually recursive definitions with a pattern change: terminates, and cannot prove it.
    a = prepare(
        {
            "$defs": {
                "n": {"type": "object", "properties": {"k": {"$ref": "#/$defs/m"}}},
                "m": {"type": "array", "items": {"$ref": "#/$defs/n"}},
            },
            "$ref": "#/$defs/n",
        }
    ).schema
    b = json.loads(json.dumps(a))
    b["$defs"]["n"]["properties"]["s"] = {"type": "string", "pattern": "^x"}
    assert any(i.message.startswith(CANNOT) for i in is_subschema(a, b))


def test_the_internal_form_agrees_with_each_drafts_own_validator_on_the_official_suite():
    """Every required suite case: the internal form (what generation and compatibility read)
    decides like the draft's own validator, except where dynamic scope matters ($dynamicRef,
    $recursiveRef), which the internal form resolves statically."""
    disagreements = []
    checked = 0
    for draft, dialect in DRAFTS.items():
        for file in files(draft):
            if file.startswith("optional/"):
                continue
            compiled: dict[int, object] = {}
            for case in cases(draft, file):
                if isinstance(case.schema, bool):
                    continue
                text = json.dumps({k: v for k, v in case.schema.items() if k != "$schema"})
                if "$dynamicRef" in text or "$recursiveRef" in text or "json-schema.org" in text:
                    continue
                key = id(case.schema)
                if key not in compiled:
                    try:
                        externals = externals_for(draft, case.schema)
                        p = prepare(case.schema, externals=externals, default_dialect=dialect)
                        used = json.dumps([externals[name] for name in p.externals])
                        dynamic = "$dynamicRef" in used or "$recursiveRef" in used
                        compiled[key] = (
                            None if dynamic else (p.validator, build_validator(p.schema))
                        )
                    except SchemaRejected:
                        compiled[key] = None
                if compiled[key] is None:
                    continue
                own, internal = compiled[key]
                checked += 1
                if own.is_valid(case.data) != internal.is_valid(case.data):
                    disagreements.append(f"{draft}/{file}: {case.group} / {case.description}")
    assert checked > 4000
    assert disagreements == []


def test_a_ref_into_an_unknown_keyword_is_served_as_a_schema():
    # Generated real-world schemas keep their definitions one level down, under a non-keyword.
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$ref": "#/definitions/a1/full",
        "definitions": {
            "a1": {"full": {"type": "object", "properties": {"n": {"$ref": "#/definitions/i"}}}},
            "i": {"type": "integer"},
        },
    }
    document = prepare(schema).schema
    assert document["$ref"] == "#/$defs/a1/full"
    assert document["$defs"]["a1"]["full"]["properties"]["n"] == {"$ref": "#/$defs/i"}
    assert both(schema, {"n": 1}) == (True, True)
    assert both(schema, {"n": "x"}) == (False, False)
