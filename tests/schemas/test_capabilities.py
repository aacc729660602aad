"""The capability report: which keywords decoding enforces and which are checked after."""

import pytest

from schemas.capabilities import BACKEND_TABLES, capability_report

SCHEMA = {
    "type": "object",
    "title": "reading",
    "properties": {
        "unit": {"enum": ["c", "f"]},
        "value": {"type": "number", "multipleOf": 0.5},
        "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        "at": {"type": "string", "format": "date-time"},
        "re": {"type": "string", "format": "regex"},
        "x": {"not": {"type": "null"}, "x-vendor": 1},
    },
    "required": ["unit"],
}


def keywords(report, section):
    return {(e["keyword"], e["path"]) for e in report[section]}


def test_llguidance_report():
    report = capability_report(SCHEMA)
    assert set(report) == {"enforced", "validated_after", "refused", "ignored", "recursion"}
    assert report["recursion"]["recursive"] is False
    enforced = keywords(report, "enforced")
    assert {("type", "/type"), ("enum", "/properties/unit/enum")} <= enforced
    assert ("format", "/properties/at/format") in enforced
    assert ("multipleOf", "/properties/value/multipleOf") in enforced
    after = keywords(report, "validated_after")
    assert ("uniqueItems", "/properties/tags/uniqueItems") in after
    assert ("format", "/properties/re/format") in after
    assert ("not", "/properties/x/not") in after
    assert keywords(report, "ignored") == {
        ("title", "/title"),
        ("x-vendor", "/properties/x/x-vendor"),
    }
    assert report["refused"] == []


def test_outlines_core_enforces_less():
    report = capability_report(SCHEMA, backend="outlines_core")
    assert ("multipleOf", "/properties/value/multipleOf") in keywords(report, "validated_after")


def test_refused_keywords_are_reported():
    schema = {"properties": {"a": {"$ref": "http://x.test/s"}, "b": {"pattern": "(?<=a)"}}}
    assert keywords(capability_report(schema), "refused") == {
        ("$ref", "/properties/a/$ref"),
        ("pattern", "/properties/b/pattern"),
    }


def test_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend"):
        capability_report(SCHEMA, backend="nope")


@pytest.mark.parametrize("backend", sorted(BACKEND_TABLES))
def test_every_keyword_occurrence_is_in_exactly_one_section(backend):
    report = capability_report(SCHEMA, backend=backend)
    sections = [report[s] for s in ("enforced", "validated_after", "refused", "ignored")]
    entries = [(e["keyword"], e["path"]) for section in sections for e in section]
    assert len(entries) == len(set(entries)) == 18


def test_recursion_and_its_nesting_limit_are_reported():
    tree = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "children": {"type": "array"}},
    }
    tree["properties"]["children"]["items"] = {"$ref": "#"}
    recursion = capability_report(tree)["recursion"]
    assert recursion["recursive"] is True
    assert recursion["references"] == ["/properties/children/items/$ref"]
    assert recursion["nesting_limit"] >= 16
