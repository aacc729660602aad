"""JSON values as leaves: the unit that synthesis, grounding and field accuracy count.

A *leaf* is a scalar (string, number, bool, null) or an empty object/array, addressed by its
JSON Pointer (RFC 6901, `~` -> `~0`, `/` -> `~1`). The root itself is the pointer `""`.

Every leaf also has a *pattern*: its pointer with each array index replaced by `*`
(`/slots/1/value` -> `/slots/*/value`). Concrete pointers are what predictions are compared
on (the second slot must match the second slot); patterns are what reports aggregate over
(one accuracy for "slot values", not one per position). Array indices are known from the
value's structure, so an object key that happens to be `"0"` is never mistaken for one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from training.prompts import compact_json


@dataclass(frozen=True)
class Leaf:
    pointer: str
    pattern: str
    value: Any


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def iter_leaves(value: Any, pointer: str = "", pattern: str = "") -> Iterator[Leaf]:
    """Every leaf of `value`, depth first, object keys and array items in document order."""
    if isinstance(value, dict) and value:
        for key, item in value.items():
            token = escape(str(key))
            yield from iter_leaves(item, f"{pointer}/{token}", f"{pattern}/{token}")
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from iter_leaves(item, f"{pointer}/{index}", f"{pattern}/*")
    else:
        yield Leaf(pointer, pattern, value)


def flatten(value: Any) -> dict[str, Any]:
    """{pointer: leaf value} of `value`."""
    return {leaf.pointer: leaf.value for leaf in iter_leaves(value)}


def canonical(value: Any) -> str:
    """One spelling per JSON value: sorted keys, no spaces, 1.0 == 1, True != 1."""
    return json.dumps(_normalize(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _normalize(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {str(k): _normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(v) for v in value]
    return value


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON means it: numbers by value (1 == 1.0), booleans are not numbers."""
    return canonical(a) == canonical(b)


def render_scalar(value: Any) -> str | None:
    """How a string or number leaf would be written in text, or None for other leaves.

    Strings as themselves; integers (and integral floats) without a decimal point; other
    floats as Python's shortest repr (`2.5`). Booleans and null are never rendered: "true"
    in a sentence is not evidence of a boolean field.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return None


def compact_json_len(value: Any) -> int:
    """Characters of `value` in the prompts' compact JSON spelling."""
    return len(compact_json(value))
