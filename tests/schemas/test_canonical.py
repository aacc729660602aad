"""Canonical JSON and fingerprints."""

import json

import pytest

from schemas.canonical import canonical_json, fingerprint


def test_key_order_and_whitespace_do_not_change_the_fingerprint():
    a = json.loads('{"type": "object",\n  "properties": {"b": {"type": "string"}, "a": {}}}')
    b = json.loads('{"properties":{"a":{},"b":{"type":"string"}},"type":"object"}')
    assert canonical_json(a) == canonical_json(b)
    assert fingerprint(a) == fingerprint(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"type": "string"}, {"type": "integer"}),
        ({"enum": ["a", "b"]}, {"enum": ["b", "a"]}),  # array order is content
        ({"const": 1}, {"const": True}),
        ({"minimum": 1}, {"minimum": 1.0}),  # as Python's json writes them: 1 vs 1.0
    ],
)
def test_different_content_gives_different_fingerprints(a, b):
    assert fingerprint(a) != fingerprint(b)


def test_canonical_form_is_compact_sorted_and_keeps_non_ascii():
    assert canonical_json({"b": "é", "a": [1, 2.5, None]}) == '{"a":[1,2.5,null],"b":"é"}'
    assert fingerprint({}) == (
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_non_json_values_are_refused():
    with pytest.raises(ValueError, match="JSON"):
        canonical_json({"x": float("inf")})


def test_document_key_follows_key_order_where_the_fingerprint_does_not():
    from schemas.canonical import document_key

    a = {"properties": {"b": {}, "a": {}}}
    b = {"properties": {"a": {}, "b": {}}}
    assert fingerprint(a) == fingerprint(b)
    assert document_key(a) != document_key(b)
    assert document_key(a) == document_key(json.loads(json.dumps(a)))
