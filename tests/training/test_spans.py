"""Copied fields: which fields an adapter copies from its input, and holding answers to spans."""

import json
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from training.data import Pair
from training.spans import (
    MAX_CANDIDATES,
    MIN_VALUES,
    SLACK_UNITS,
    copied_fields,
    input_text,
    off_span,
    restrict_to_spans,
    span_units,
    spans,
    strays,
)

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"

WORDS = st.sampled_from(["Paris", "next", "Jun", "8", "p", "m", "o'clock", "van", "der", "Pol"])
PUNCT = st.sampled_from([".", ",", "?", "-", "'", "!", ":"])
TEXTS = st.lists(st.one_of(WORDS, PUNCT), min_size=1, max_size=14).map(
    lambda parts: " ".join(parts).replace(" .", ".").replace(" ,", ",")
)


@given(TEXTS, st.integers(min_value=1, max_value=6))
def test_every_span_is_text_of_the_input_on_unit_boundaries(text: str, units: int) -> None:
    found = spans(text, units)
    assert len(found) == len(set(found))
    for span in found:
        assert span in text
        assert span == span.strip()
        assert span_units(text, span) is not None
        assert span_units(text, span) <= units


@given(TEXTS, st.data())
def test_a_run_of_whole_units_is_a_span(text: str, data: st.DataObject) -> None:
    words = text.split()
    i = data.draw(st.integers(0, len(words) - 1))
    j = data.draw(st.integers(i + 1, len(words)))
    value = " ".join(words[i:j])
    n = span_units(text, value)
    assert n is not None
    assert value in spans(text, n)
    assert not off_span({"city": value}, text, {"/city": n})
    # Part of a word is not a span, nor is a value the text does not hold as written.
    assert off_span({"city": value + "x"}, text, {"/city": n})
    assert off_span({"city": f" {value}"}, text, {"/city": n})


def test_punctuation_splits_units_and_letters_within_a_word_do_not() -> None:
    text = "What is it like in Reidland next Jun.?"
    assert span_units(text, "next Jun.") == 3
    assert span_units(text, "next Jun") == 2
    assert span_units(text, "Jun.?") == 3
    assert span_units(text, "un.") is None
    assert span_units(text, "is") == 1  # "is" is a word here, not the end of "this"
    assert span_units("this one", "is") is None
    assert span_units("xab ab ab", "ab ab") == 2  # where it overlaps an unaligned occurrence


def test_the_dev_sets_copied_fields_are_their_span_fields() -> None:
    def pairs(name: str) -> list[Pair]:
        lines = (DATA / name / "train.jsonl").read_text().splitlines()
        return [Pair(r["input"], r["output"]) for r in map(json.loads, lines)]

    commands = copied_fields(pairs("snips-commands"))
    assert set(commands) == {"/slots/*/value"}  # not the slot names: they are labels
    weather = copied_fields(pairs("snips-weather"))
    assert {"/city", "/country", "/timeRange"} <= set(weather)
    for name in ("snips-commands", "snips-weather"):
        data = pairs(name)
        fields = copied_fields(data)
        # The gold values of the data it was learned from fit what serving allows, but for
        # snips-weather's two odd labels ("Ã\x85land" for "Ã land"; "current here").
        strays = [p for p in data if off_span(p.output, p.input, fields)]
        assert len(strays) == {"snips-commands": 0, "snips-weather": 2}[name]


def test_a_field_written_otherwise_now_and_then_is_not_copied() -> None:
    copied = [Pair(f"to Paris on day {i}", {"city": "Paris", "day": f"{i}"}) for i in range(60)]
    reworded = [Pair("ship to Lyon tomorrow", {"city": "Lyon", "day": "2026-12-07"})] * 2
    assert copied_fields(copied + reworded) == {"/city": 1}  # 2 of 62 days are not in the text
    assert copied_fields(copied[: MIN_VALUES - 1]) == {}  # too few to tell


def test_restricting_keeps_null_and_the_fields_own_rules() -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": ["string", "null"], "maxLength": 8},
            "code": {"$ref": "#/$defs/code"},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "$defs": {"code": {"type": "string"}},
    }
    text = "fly from Rome to New York"
    fields = {"/city": 2, "/code": 1, "/tags/*": 1}
    restricted, held = restrict_to_spans(schema, text, fields)
    assert held == {"/city": 2, "/tags/*": 1}
    city = restricted["properties"]["city"]["enum"]
    assert None in city
    assert "New York" in city
    assert "Rome to New" not in city  # maxLength 8
    assert all(c is None or (c in text and len(c) <= 8) for c in city)
    assert "enum" not in restricted["$defs"]["code"]  # through a $ref: left as it is
    assert restricted["properties"]["tags"]["items"]["enum"][:2] == ["fly", "fly from"]
    assert schema["properties"]["city"] == {"type": ["string", "null"], "maxLength": 8}
    assert restrict_to_spans(schema, text, {"/code": 1}) == (None, {})


def test_an_answer_strays_only_where_decoding_could_hold_it() -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "code": {"$ref": "#/$defs/code"}},
        "$defs": {"code": {"type": "string"}},
    }
    text = "fly to New York, code AB"
    fields = {"/city": 2, "/code": 1}
    # Every copied value is input text: nothing to restrict, nothing worked out.
    assert strays(schema, {"city": "New York", "code": "AB"}, text, fields) == ([], None)
    off, restricted = strays(schema, {"city": "new york", "code": "XY"}, text, fields)
    # /code is not input text either, but constrained decoding leaves it free: not a miss.
    assert off == ["/city"]
    assert restricted["properties"]["city"]["enum"][:2] == ["fly", "fly to"]
    assert strays(schema, {"city": "New York", "code": "XY"}, text, fields)[0] == []


def test_an_input_with_too_many_spans_leaves_the_field_free() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    long = " ".join(f"w{i}" for i in range(MAX_CANDIDATES))
    assert restrict_to_spans(schema, long, {"/a": 1}) == (None, {})
    # A span may run SLACK_UNITS past the longest value seen: all six spans of "a b c".
    restricted, _ = restrict_to_spans(schema, "a b c", {"/a": 3 - SLACK_UNITS})
    assert len(restricted["properties"]["a"]["enum"]) == 6


def test_a_conversation_takes_its_spans_from_the_user_turns() -> None:
    turns = [
        {"role": "user", "content": "book Rome"},
        {"role": "assistant", "content": "{}"},
        {"role": "user", "content": "and Oslo"},
    ]
    assert input_text(turns) == "book Rome\nand Oslo"
    assert input_text("plain") == "plain"
