"""What a JSON Schema says about the value at a leaf pattern (`/slots/*/value`).

Only what synthesis needs: the subschemas that may apply at a pattern, their enum members,
and a few values that are valid by construction. Local `$ref`s (`#/...`) are followed;
`allOf`/`anyOf`/`oneOf` branches are all collected (any of them may describe the value).
"""

from __future__ import annotations

from typing import Any

# Format-valid sample strings; a synthetic value should look like what the format names.
FORMAT_SAMPLES: dict[str, list[str]] = {
    "date": ["2026-03-14", "2025-12-01", "2027-07-30"],
    "date-time": ["2026-03-14T09:30:00Z", "2025-12-01T18:05:00Z"],
    "time": ["09:30:00", "18:05:00"],
    "email": ["alex@example.com", "sam.lee@example.org"],
    "uri": ["https://example.com/a", "https://example.org/docs"],
    "uuid": ["0b3c6a4e-2f1d-4c5b-9a7e-3d2f1e0c9b8a", "7f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"],
    "ipv4": ["192.0.2.7", "198.51.100.23"],
    "hostname": ["example.com", "api.example.org"],
}


def unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def pattern_tokens(pattern: str) -> list[str]:
    return [unescape(t) for t in pattern.split("/")[1:]] if pattern else []


def _resolve(root: Any, schema: Any, seen: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """`schema` and the schemas it is combined with ($ref, allOf/anyOf/oneOf), flattened."""
    if schema is True or schema is None:
        return [{}]
    if not isinstance(schema, dict):
        return []
    out = [schema]
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#") and ref not in seen:
        target: Any = root
        for token in pattern_tokens(ref[1:]):
            target = target.get(token) if isinstance(target, dict) else None
        out += _resolve(root, target, seen | {ref})
    for key in ("allOf", "anyOf", "oneOf"):
        for branch in schema.get(key) or []:
            out += _resolve(root, branch, seen)
    return out


def subschemas_at(schema: Any, pattern: str) -> list[dict[str, Any]]:
    """Every subschema that may describe the values at `pattern` (empty: schema is silent)."""
    current = _resolve(schema, schema)
    for token in pattern_tokens(pattern):
        nxt: list[Any] = []
        for sub in current:
            if token == "*":
                if "items" in sub:
                    nxt.append(sub["items"])
                nxt.extend(sub.get("prefixItems") or [])
            props = sub.get("properties") or {}
            if token in props:
                nxt.append(props[token])
            elif token != "*" and isinstance(sub.get("additionalProperties"), dict):
                nxt.append(sub["additionalProperties"])
        current = [r for s in nxt for r in _resolve(schema, s)]
    return current


def enum_members(subs: list[dict[str, Any]]) -> list[Any] | None:
    """The members of the enum/const that constrain this value, or None when it is open."""
    members: list[Any] = []
    found = False
    for sub in subs:
        if "enum" in sub and isinstance(sub["enum"], list):
            found = True
            members += [m for m in sub["enum"] if m not in members]
        if "const" in sub:
            found = True
            if sub["const"] not in members:
                members.append(sub["const"])
    return members if found else None


def _types(sub: dict[str, Any]) -> set[str]:
    t = sub.get("type")
    return {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()


def schema_samples(subs: list[dict[str, Any]], like: Any) -> list[Any]:
    """Values the schema makes valid here, of the same JSON type as `like`.

    Strings: enum/const members, else samples of a declared `format`. Numbers: enum/const
    members, else the declared bounds (and the integer midpoint between them).
    """
    members = enum_members(subs)
    if members is not None:
        return [m for m in members if _same_kind(m, like)]
    out: list[Any] = []
    if isinstance(like, str):
        for sub in subs:
            for sample in FORMAT_SAMPLES.get(sub.get("format", ""), []):
                if sample not in out:
                    out.append(sample)
    elif isinstance(like, int | float) and not isinstance(like, bool):
        integer = isinstance(like, int) or any("integer" in _types(s) for s in subs)
        for sub in subs:
            low, high = sub.get("minimum"), sub.get("maximum")
            if isinstance(sub.get("exclusiveMinimum"), int | float):
                low = sub["exclusiveMinimum"] + (1 if integer else 0.5)
            if isinstance(sub.get("exclusiveMaximum"), int | float):
                high = sub["exclusiveMaximum"] - (1 if integer else 0.5)
            bounds = [b for b in (low, high) if isinstance(b, int | float)]
            if low is not None and high is not None and high - low >= 2:
                bounds.insert(1, (low + high) // 2 if integer else (low + high) / 2)
            step = sub.get("multipleOf")
            for b in bounds:
                if integer:
                    b = int(b)
                if step and (b / step) != int(b / step):
                    continue
                if b not in out:
                    out.append(b)
    return out


def _same_kind(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str)
    return isinstance(a, int | float) and isinstance(b, int | float)
