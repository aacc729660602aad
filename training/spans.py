"""Fields an adapter copies from its input, and holding its answers to that.

In span-extraction tasks (slot values, entity texts, a receipt's merchant) every training value
of some fields is a piece of the input, yet a small model's free answer drifts: `ascending
day` for `ascension day`, `Saga Chump Change` for `saga Chump Change`, a span running one word
too far. Training learns which fields are copied (`copied_fields`, kept in the adapter's
manifest); serving then treats a copied field whose value is not a span of the request's input
as a miss (`strays`) and decodes again with the field restricted to the input's spans
(`restrict_to_spans`): the grammar offers only text that is there.

A *span* starts and ends on unit boundaries: units are runs of letters and digits and single
punctuation marks, whitespace separates nothing but units (`next Jun.` and `next Jun` are spans
of `next Jun.?`; `Jun.?` is one too, `un.` is not). A span is at most a few units longer than
the longest value training saw for its field, which bounds the candidates of a long input.
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from training.data import Pair
from training.leaves import iter_leaves
from training.schema_paths import pattern_tokens

# A field is copied when at least this share of its training values are spans of their input,
# over at least MIN_VALUES values: a field that is sometimes written differently (a date in
# another format) must never be held to the input's text.
MIN_SHARE = 0.98
MIN_VALUES = 10
# Units a served span may run past the longest training value of its field.
SLACK_UNITS = 2
# More candidates than this and a field is left unrestricted (the grammar grows with them).
MAX_CANDIDATES = 2048

_UNIT = re.compile(r"[^\W_]+|[^\w\s]|_")


def _units(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in _UNIT.finditer(text)]


def span_units(text: str, value: str) -> int | None:
    """How many units `value` spans if it is a span of `text` (the shortest occurrence), else
    None."""
    if not value or value != value.strip():
        return None
    units = _units(text)
    starts = {s: i for i, (s, _) in enumerate(units)}
    ends = {e: i for i, (_, e) in enumerate(units)}
    best = None
    for match in re.finditer(f"(?={re.escape(value)})", text):  # overlapping ones too
        first, last = starts.get(match.start()), ends.get(match.start() + len(value))
        if first is not None and last is not None:
            n = last - first + 1
            best = n if best is None else min(best, n)
    return best


def spans(text: str, max_units: int) -> list[str]:
    """The distinct spans of `text` of at most `max_units` units, in order of appearance."""
    units = _units(text)
    found: dict[str, None] = {}
    for i, (start, _) in enumerate(units):
        for _, end in units[i : i + max_units]:
            found[text[start:end]] = None
    return list(found)


def copied_fields(examples: Sequence[Pair]) -> dict[str, int]:
    """Leaf pattern -> the most units one of its values spans, for the string fields whose
    values are spans of their input (at least MIN_SHARE of at least MIN_VALUES values)."""
    totals: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    longest: dict[str, int] = {}
    for pair in examples:
        if not isinstance(pair.input, str):
            continue
        for leaf in iter_leaves(pair.output):
            if not isinstance(leaf.value, str):
                continue
            totals[leaf.pattern] += 1
            n = span_units(pair.input, leaf.value)
            if n is not None:
                hits[leaf.pattern] += 1
                longest[leaf.pattern] = max(longest.get(leaf.pattern, 0), n)
    return {
        pattern: longest[pattern]
        for pattern, total in sorted(totals.items())
        if total >= MIN_VALUES and hits[pattern] / total >= MIN_SHARE
    }


def input_text(value: str | Sequence[Mapping[str, str]]) -> str:
    """The text spans are taken from: the input, or a conversation's user turns."""
    if isinstance(value, str):
        return value
    return "\n".join(turn.get("content", "") for turn in value if turn.get("role") == "user")


def off_span(output: Any, text: str, fields: Mapping[str, int]) -> list[str]:
    """Pointers of the copied fields of `output` whose value is not a span of `text`, or a span
    longer than a served one may be."""
    off = []
    for leaf in iter_leaves(output):
        if leaf.pattern in fields and isinstance(leaf.value, str):
            n = span_units(text, leaf.value)
            if n is None or n > fields[leaf.pattern] + SLACK_UNITS:
                off.append(leaf.pointer)
    return off


def _subschema(schema: Any, pattern: str) -> dict[str, Any] | None:
    """The node a leaf pattern reaches through `properties` and `items` alone. Not
    `schema_paths.subschemas_at`: it follows `$ref`s and combinators to nodes other paths may
    share, and restricting one of those would restrict those paths too."""
    node = schema
    for token in pattern_tokens(pattern):
        if not isinstance(node, dict):
            return None
        if token == "*":
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(token)
    return node if isinstance(node, dict) else None


def restrict_to_spans(
    schema: Any, text: str, fields: Mapping[str, int]
) -> tuple[Any | None, dict[str, int]]:
    """(`schema` with each copied string field it can hold restricted to the spans of `text`
    that the field accepts, as an `enum` (null stays allowed where it was), or None when it can
    hold none; the fields it holds). Left free: a field reached through anything but
    `properties` and `items`, not a string (or string or null), already an enum, or with too
    many spans."""
    from jsonschema import Draft202012Validator

    restricted = copy.deepcopy(schema)
    held: dict[str, int] = {}
    for pattern, longest in fields.items():
        sub = _subschema(restricted, pattern)
        kinds = sub.get("type") if sub is not None else None
        kinds = [kinds] if isinstance(kinds, str) else kinds
        if (
            sub is None
            or not isinstance(kinds, list)
            or "string" not in kinds
            or not set(kinds) <= {"string", "null"}
            or any(k in sub for k in ("enum", "const", "$ref", "anyOf", "oneOf", "allOf", "not"))
        ):
            continue
        candidates = spans(text, longest + SLACK_UNITS)
        if len(candidates) > MAX_CANDIDATES:
            continue
        check = Draft202012Validator(sub)
        allowed: list[str | None] = [c for c in candidates if check.is_valid(c)]
        if allowed:
            sub["enum"] = allowed + [None] * ("null" in kinds)
            held[pattern] = longest
    return (restricted if held else None), held


def strays(
    schema: Any, output: Any, text: str, fields: Mapping[str, int]
) -> tuple[list[str], Any | None]:
    """`auto`'s rule for a valid answer of an adapter that copies `fields`: the pointers of its
    copied values that are not spans of `text`, among the fields `restrict_to_spans` holds (a
    field it leaves free could not be decoded any closer), and the restricted schema when it
    was worked out. An answer whose copied values are all spans costs no restriction."""
    if not off_span(output, text, fields):
        return [], None
    restricted, held = restrict_to_spans(schema, text, fields)
    return off_span(output, text, held), restricted
