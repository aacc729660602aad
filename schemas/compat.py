"""Confluent-style compatibility between schema versions, proved structurally.

`is_subschema(narrow, wide)` answers "is every instance valid under `narrow` valid under
`wide`?" by walking both schemas side by side over the subset the registry serves. Both are in
the registry's internal form (Draft 2020-12, every ref a local pointer), whatever draft they
were registered in. Recursive schemas terminate: a pair of subschemas met again is assumed to
hold (a visited set of pairs), and a walk past the step budget says "cannot prove". It is sound,
not complete: where it cannot prove inclusion (differing patterns, `not`, if/then/else,
unevaluated*, overlapping oneOf branches, ...) it reports an incompatibility whose message
starts with "cannot prove" — refusing rather than guessing. Constraints that appear only on the
narrow side are ignored (dropping a constraint from `narrow` only makes it wider, so a proof
still holds). Keywords Draft 2020-12 does not define are not asserted by `validate_instance`, so
they cannot break inclusion and are ignored too.

BACKWARD: every instance valid under the old schema is valid under the new one (new consumers
read old data). FORWARD: the reverse. FULL: both. *_TRANSITIVE: against every earlier version,
otherwise only the latest.
"""

from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from math import ceil, floor
from typing import Any

from schemas.canonical import canonical_json
from schemas.validation import build_validator, compile_pattern
from schemas.walk import Path, anchors, parse_fragment, pointer, resolve_pointer

CANNOT = "cannot prove"


class Compatibility(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"


@dataclass(frozen=True)
class Incompatibility:
    """Why a new schema is not compatible: where (a JSON Pointer into the schema) and what."""

    path: str
    message: str
    version: int | None = None


TYPES = ("null", "boolean", "object", "array", "string", "number", "integer")
# Keywords that assert nothing (annotations, structure) — never a reason to refuse.
NEUTRAL = frozenset(
    {
        "$anchor",
        "$comment",
        "$defs",
        "$dynamicAnchor",
        "$id",
        "$schema",
        "$vocabulary",
        "contentEncoding",
        "contentMediaType",
        "contentSchema",
        "default",
        "definitions",
        "deprecated",
        "description",
        "examples",
        "readOnly",
        "title",
        "writeOnly",
    }
)
# Keywords compared structurally below; everything else Draft 2020-12 asserts goes through the
# "equal on both sides, or cannot prove" rule.
STRUCTURAL = frozenset(
    {
        "type",
        "enum",
        "const",
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "items",
        "prefixItems",
        "minItems",
        "maxItems",
        "uniqueItems",
        "properties",
        "required",
        "additionalProperties",
        "patternProperties",
        "minProperties",
        "maxProperties",
        "anyOf",
        "oneOf",
        "allOf",
        "$ref",
        "$dynamicRef",
    }
)
# Keywords that only mean something together.
GROUPS = {
    "if": ("if", "then", "else"),
    "then": ("if", "then", "else"),
    "else": ("if", "then", "else"),
    "contains": ("contains", "minContains", "maxContains"),
    "minContains": ("contains", "minContains", "maxContains"),
    "maxContains": ("contains", "minContains", "maxContains"),
}
# Dropped from the narrow side before comparing: a sound widening (they only constrain), and
# keeping them would mean reasoning about their interactions.
DROPPED_FROM_NARROW = frozenset(
    {
        "if",
        "then",
        "else",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedItems",
        "unevaluatedProperties",
        "not",
        "dependentSchemas",
        "dependentRequired",
        "propertyNames",
    }
)
STRING_KEYWORDS = ("minLength", "maxLength", "pattern", "format")
NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
ARRAY_KEYWORDS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems")
OBJECT_KEYWORDS = (
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "minProperties",
    "maxProperties",
)
MAX_STEPS = 50_000
MAX_DEPTH = 200
MAX_REF_HOPS = 64


class _TooComplex(Exception):
    pass


def _types(schema: dict) -> set[str]:
    t = schema.get("type")
    if t is None:
        return set(TYPES)
    return {t} if isinstance(t, str) else set(t)


def _covered(t: str, allowed: set[str]) -> bool:
    return t in allowed or (t == "integer" and "number" in allowed)


def _has_ref(value: Any) -> bool:
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "$ref" in node or "$dynamicRef" in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _fmt(value: Any) -> str:
    text = canonical_json(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:79] + "…"


class _Checker:
    def __init__(self, narrow_root: Any, wide_root: Any, *, forward: bool) -> None:
        self.roots = {"n": narrow_root, "w": wide_root}
        self.forward = forward
        self.same_roots = canonical_json(narrow_root) == canonical_json(wide_root)
        self.anchors: dict[str, dict[str, Path]] = {}
        self.validators: dict[str, Any] = {}
        self.steps = 0
        # Pairs (narrow node, wide node) already being or been checked: recursive schemas lead
        # back to the same pair, which is then assumed to hold (coinduction, as recursive
        # subtyping checkers do); its real issues are reported where it was first reached.
        # The nodes are kept alive so their ids cannot be reused by temporaries.
        self.visited: set[tuple[int, int]] = set()
        self.kept: list[Any] = []

    # --- phrasing: messages speak of the old and the new schema ---------------------------

    def say(self, backward: str, forward: str) -> str:
        """`backward` when narrow is the old schema, `forward` when narrow is the new one."""
        return forward if self.forward else backward

    def old_new(self, narrow_value: Any, wide_value: Any) -> tuple[Any, Any]:
        return (wide_value, narrow_value) if self.forward else (narrow_value, wide_value)

    def changed(self, keyword: str, narrow_value: Any, wide_value: Any) -> str:
        old, new = self.old_new(narrow_value, wide_value)
        try:
            verb = "lowered" if new < old else "raised"
        except TypeError:
            verb = "changed"
        return f"{keyword} {verb} from {_fmt(old)} to {_fmt(new)}"

    def added(self, keyword: str, wide_value: Any) -> str:
        """The wide schema has a constraint the narrow one lacks."""
        return self.say(
            f"{keyword} {_fmt(wide_value)} was added", f"{keyword} {_fmt(wide_value)} was removed"
        )

    # --- refs and allOf ---------------------------------------------------------------------

    def resolve(self, side: str, ref: str) -> Any:
        parsed = parse_fragment(ref)
        if parsed is None:
            raise LookupError(ref)
        kind, where = parsed
        root = self.roots[side]
        if kind == "anchor":
            if side not in self.anchors:
                self.anchors[side] = anchors(root)
            where = self.anchors[side][where]  # type: ignore[index]
        return resolve_pointer(root, where)  # type: ignore[arg-type]

    def parts(self, side: str, node: Any) -> list[Any]:
        """`node` as a conjunction of plain parts: $ref targets and allOf branches inlined."""
        out: list[Any] = []
        stack = [node]
        hops = 0
        while stack:
            part = stack.pop()
            if not isinstance(part, dict):
                out.append(part)
                continue
            rest = {k: v for k, v in part.items() if k not in ("$ref", "$dynamicRef", "allOf")}
            out.append(rest)
            for keyword in ("$ref", "$dynamicRef"):
                if isinstance(part.get(keyword), str):
                    hops += 1
                    if hops > MAX_REF_HOPS:
                        raise _TooComplex
                    stack.append(self.resolve(side, part[keyword]))
            stack.extend(reversed(part.get("allOf", [])))
        return out

    def narrow_plain(self, node: Any) -> Any:
        """A plain dict (or bool) that accepts at least everything `node` accepts."""
        merged: dict[str, Any] = {}
        parts = self.parts("n", node)
        # A single part keeps its grouped keywords intact, so an unchanged if/then/else still
        # compares equal to the wide side; merging parts drops them (see DROPPED_FROM_NARROW).
        single = sum(isinstance(p, dict) for p in parts) == 1
        for part in parts:
            if part is False:
                return False
            if part is True:
                continue
            for key, value in part.items():
                if key in NEUTRAL or (key in DROPPED_FROM_NARROW and not single):
                    continue
                if key not in merged:
                    merged[key] = value
                elif key == "type":
                    merged[key] = sorted(_intersect(_types(merged), _types(part)))
                elif key == "required":
                    merged[key] = sorted(set(merged[key]) | set(value))
                elif key in ("properties", "patternProperties"):
                    combined = dict(merged[key])
                    for name, sub in value.items():
                        combined[name] = (
                            {"allOf": [combined[name], sub]} if name in combined else sub
                        )
                    merged[key] = combined
                elif key == "prefixItems" and len(value) > len(merged[key]):
                    # The longer prefix leaves `items` fewer positions: a superset, so sound.
                    merged[key] = value
                elif key in (
                    "minimum",
                    "exclusiveMinimum",
                    "minLength",
                    "minItems",
                    "minProperties",
                ):
                    merged[key] = max(merged[key], value)
                elif key in (
                    "maximum",
                    "exclusiveMaximum",
                    "maxLength",
                    "maxItems",
                    "maxProperties",
                ):
                    merged[key] = min(merged[key], value)
                # Any other conflict keeps the first value: dropping a constraint is sound.
        if merged.get("type") == []:
            return False
        return merged

    # --- the check --------------------------------------------------------------------------

    def check(self, narrow: Any, wide: Any, path: Path, depth: int = 0) -> list[Incompatibility]:
        """Incompatibilities of `narrow` ⊆ `wide` at `path`."""
        self.steps += 1
        if self.steps > MAX_STEPS or depth > MAX_DEPTH:
            raise _TooComplex
        if wide is True or narrow is False or wide == {}:
            return []
        if self._equal(narrow, wide):
            return []
        pair = (id(narrow), id(wide))
        if pair in self.visited:
            return []
        self.visited.add(pair)
        self.kept.append((narrow, wide))
        n = self.narrow_plain(narrow)
        if n is False:
            return []
        issues: list[Incompatibility] = []
        for w in self.parts("w", wide):
            issues.extend(self.check_plain(n, w, path, depth))
        return issues

    def _equal(self, narrow: Any, wide: Any) -> bool:
        if canonical_json(narrow) != canonical_json(wide):
            return False
        return self.same_roots or not _has_ref(narrow)

    def issue(self, path: Path, message: str) -> Incompatibility:
        return Incompatibility(pointer(path), message)

    def check_plain(self, n: Any, w: Any, path: Path, depth: int) -> list[Incompatibility]:
        if w is True or (isinstance(w, dict) and not (set(w) - NEUTRAL)):
            return []
        if w is False:
            return [self.issue(path, self.say("the schema became false", "the schema was false"))]
        if n is True:
            n = {}
        for keyword in ("anyOf", "oneOf"):
            if keyword in n:
                # Each narrow branch, with the narrow siblings merged in, must fit.
                siblings = {k: v for k, v in n.items() if k not in ("anyOf", "oneOf")}
                issues: list[Incompatibility] = []
                for i, branch in enumerate(n[keyword]):
                    merged = self.narrow_plain({"allOf": [siblings, branch]})
                    if merged is False:
                        continue
                    issues.extend(self.check_plain(merged, w, path + (keyword, i), depth + 1))
                return issues
        finite = self.finite_values(n)
        if finite is not None:
            return self.check_values(finite, n, w, path)
        issues = []
        if "anyOf" in w or "oneOf" in w:
            issues.extend(self.check_branches(n, w, path, depth))
            w = {k: v for k, v in w.items() if k not in ("anyOf", "oneOf")}
        issues.extend(self.check_keywords(n, w, path, depth))
        return issues

    # --- finite narrow sides: check every value with the real validator ---------------------

    def validator(self, side: str, node: Any) -> Any:
        if side not in self.validators:
            self.validators[side] = build_validator(self.roots[side])
        return self.validators[side].evolve(schema=node)

    def finite_values(self, n: dict) -> list[Any] | None:
        if "const" in n:
            values = [n["const"]]
        elif "enum" in n:
            values = list(n["enum"])
        elif "type" in n and _types(n) <= {"null", "boolean"}:
            values = [
                v
                for t, v in (("null", None), ("boolean", True), ("boolean", False))
                if t in _types(n)
            ]
        else:
            return None
        try:
            check = self.validator("n", n)
            return [v for v in values if check.is_valid(v)]
        except Exception:  # noqa: BLE001 - an odd schema: keep every value, which is stricter
            return values

    def check_values(self, values: list[Any], n: dict, w: Any, path: Path) -> list[Incompatibility]:
        issues = []
        try:
            wide = self.validator("w", w)
            errors = [(v, next(iter(wide.iter_errors(v)), None)) for v in values]
        except Exception:  # noqa: BLE001
            return [self.issue(path, f"{CANNOT} compatibility: the schema could not be evaluated")]
        for value, error in errors:
            if error is None:
                continue
            if "enum" in w and value not in w["enum"] or "const" in w and value != w["const"]:
                key = "enum" if "enum" in w else "const"
                message = self.say(
                    f"enum value {_fmt(value)} was removed", f"enum value {_fmt(value)} was added"
                )
                if key == "const" and "enum" not in n and "const" in n:
                    message = (
                        self.changed("const", n["const"], w["const"])
                        .replace("lowered", "changed")
                        .replace("raised", "changed")
                    )
                issues.append(self.issue(path + (key,), message))
            else:
                issues.append(
                    self.issue(
                        path,
                        self.say(
                            f"value {_fmt(value)} is no longer valid: {error.message}",
                            f"value {_fmt(value)} was not valid before: {error.message}",
                        ),
                    )
                )
        return issues

    # --- wide anyOf / oneOf ------------------------------------------------------------------

    def check_branches(self, n: dict, w: dict, path: Path, depth: int) -> list[Incompatibility]:
        keyword = "anyOf" if "anyOf" in w else "oneOf"
        issues: list[Incompatibility] = []
        if "anyOf" in w and "oneOf" in w:
            issues.append(self.issue(path, f"{CANNOT} compatibility: both anyOf and oneOf"))
        branches = w[keyword]
        for t in sorted(_types(n)):
            if t == "integer" and "number" in _types(n):
                continue
            nt = dict(n, type=t)
            fits = []
            best: list[Incompatibility] | None = None
            for i, branch in enumerate(branches):
                found = self.check(nt, branch, path + (keyword, i), depth + 1)
                if not found:
                    fits.append(i)
                    break
                if best is None or len(found) < len(best):
                    plain = self.parts("w", branch)
                    if any(isinstance(p, dict) and _covered(t, _types(p)) for p in plain):
                        best = found
            if not fits:
                issues.extend(
                    best
                    or [
                        self.issue(
                            path + (keyword,),
                            self.say(
                                f"type '{t}' is no longer allowed by any {keyword} branch",
                                f"type '{t}' was added but no old {keyword} branch allows it",
                            ),
                        )
                    ]
                )
            elif keyword == "oneOf":
                others = [
                    j
                    for j, branch in enumerate(branches)
                    if j != fits[0]
                    and any(
                        p is True or (isinstance(p, dict) and _overlap(t, _types(p)))
                        for p in self.parts("w", branch)
                    )
                ]
                if others:
                    issues.append(
                        self.issue(
                            path + (keyword,),
                            f"{CANNOT} that exactly one oneOf branch matches '{t}' values",
                        )
                    )
        return issues

    # --- keyword by keyword ------------------------------------------------------------------

    def check_keywords(self, n: dict, w: dict, path: Path, depth: int) -> list[Incompatibility]:
        issues: list[Incompatibility] = []
        nt, wt = _types(n), _types(w)
        for t in sorted(nt):
            if t == "integer" and "number" in nt:
                continue
            if not _covered(t, wt):
                if t == "number" and "integer" in wt:
                    message = self.say("number narrowed to integer", "integer widened to number")
                else:
                    message = self.say(f"type '{t}' is no longer allowed", f"type '{t}' was added")
                issues.append(self.issue(path + ("type",), message))
        allowed = {t for t in nt if _covered(t, wt)}
        for key in ("enum", "const"):
            if key in w:
                issues.append(self.issue(path + (key,), self.added(key, w[key])))
        if "string" in allowed:
            issues.extend(self.check_string(n, w, path))
        if allowed & {"number", "integer"}:
            issues.extend(self.check_number(n, w, path, integer="number" not in allowed))
        if "array" in allowed:
            issues.extend(self.check_array(n, w, path, depth))
        if "object" in allowed:
            issues.extend(self.check_object(n, w, path, depth))
        issues.extend(self.check_generic(n, w, path, allowed))
        return issues

    def lower(self, key: str, n: dict, w: dict, path: Path) -> list[Incompatibility]:
        if key not in w or w[key] <= n.get(key, 0) and key in n:
            return []
        if key not in n and w[key] <= 0:
            return []
        if key not in n:
            return [self.issue(path + (key,), self.added(key, w[key]))]
        return [self.issue(path + (key,), self.changed(key, n[key], w[key]))]

    def upper(self, key: str, n: dict, w: dict, path: Path) -> list[Incompatibility]:
        if key not in w or key in n and n[key] <= w[key]:
            return []
        if key not in n:
            return [self.issue(path + (key,), self.added(key, w[key]))]
        return [self.issue(path + (key,), self.changed(key, n[key], w[key]))]

    def check_string(self, n: dict, w: dict, path: Path) -> list[Incompatibility]:
        issues = self.lower("minLength", n, w, path) + self.upper("maxLength", n, w, path)
        if "pattern" in w and n.get("pattern") != w["pattern"]:
            if "pattern" in n:
                old, new = self.old_new(n["pattern"], w["pattern"])
                message = f"{CANNOT} compatibility: pattern changed from {old!r} to {new!r}"
            else:
                message = f"{CANNOT} compatibility: " + self.added("pattern", w["pattern"])
            issues.append(self.issue(path + ("pattern",), message))
        if "format" in w and n.get("format") != w["format"]:
            if "format" in n:
                old, new = self.old_new(n["format"], w["format"])
                message = f"format changed from {old!r} to {new!r}"
            else:
                message = self.added("format", w["format"])
            issues.append(self.issue(path + ("format",), message))
        return issues

    def check_number(self, n: dict, w: dict, path: Path, integer: bool) -> list[Incompatibility]:
        issues = []
        low = _bound(n, "minimum", "exclusiveMinimum", max, integer, up=False)
        high = _bound(n, "maximum", "exclusiveMaximum", min, integer, up=True)
        for key, exclusive, bound, is_lower in (
            ("minimum", False, low, True),
            ("exclusiveMinimum", True, low, True),
            ("maximum", False, high, False),
            ("exclusiveMaximum", True, high, False),
        ):
            if key not in w:
                continue
            limit = w[key]
            if bound is None:
                issues.append(self.issue(path + (key,), self.added(key, limit)))
                continue
            value, strict = bound
            ok = (value > limit if is_lower else value < limit) or (
                value == limit and (strict or not exclusive)
            )
            if not ok:
                mine = _bound_keyword(n, is_lower, value)
                if mine == key:
                    message = self.changed(key, n[key], limit)
                else:
                    old, new = self.old_new(f"{mine} {_fmt(n.get(mine, value))}", f"{key} {limit}")
                    side = "lower" if is_lower else "upper"
                    message = f"{side} bound changed from {old} to {new}"
                issues.append(self.issue(path + (key,), message))
        if "multipleOf" in w:
            step = Fraction(str(w["multipleOf"]))
            own = n.get("multipleOf")
            ok = (own is not None and (Fraction(str(own)) / step).denominator == 1) or (
                integer and (1 / step).denominator == 1
            )
            if not ok:
                message = (
                    self.added("multipleOf", w["multipleOf"])
                    if own is None
                    else "multipleOf changed from {} to {}".format(
                        *self.old_new(own, w["multipleOf"])
                    )
                )
                issues.append(self.issue(path + ("multipleOf",), message))
        return issues

    def check_array(self, n: dict, w: dict, path: Path, depth: int) -> list[Incompatibility]:
        issues = self.lower("minItems", n, w, path) + self.upper("maxItems", n, w, path)
        if w.get("uniqueItems") is True and n.get("uniqueItems") is not True:
            if n.get("maxItems", 2) > 1:
                issues.append(self.issue(path + ("uniqueItems",), self.added("uniqueItems", True)))
        if "items" not in w and "prefixItems" not in w:
            return issues
        n_pre, w_pre = n.get("prefixItems", []), w.get("prefixItems", [])
        n_items, w_items = n.get("items", True), w.get("items", True)
        n_max = n.get("maxItems")
        length = max(len(n_pre), len(w_pre))
        for i in range(length):
            if n_max is not None and i >= n_max:
                return issues
            ni = n_pre[i] if i < len(n_pre) else n_items
            if ni is False:
                return issues
            if i < len(w_pre):
                wi, where = w_pre[i], path + ("prefixItems", i)
            else:
                wi, where = w_items, path + ("items",)
            if wi is False:
                issues.append(
                    self.issue(
                        where,
                        self.say(
                            f"arrays may no longer have more than {i} items",
                            f"arrays may now have more than {i} items",
                        ),
                    )
                )
                return issues
            issues.extend(self.check(ni, wi, where, depth + 1))
        if (n_max is None or n_max > length) and n_items is not False:
            if w_items is False:
                issues.append(
                    self.issue(
                        path + ("items",),
                        self.say(
                            f"arrays may no longer have more than {length} items",
                            f"arrays may now have more than {length} items",
                        ),
                    )
                )
            else:
                issues.extend(self.check(n_items, w_items, path + ("items",), depth + 1))
        return issues

    def check_object(self, n: dict, w: dict, path: Path, depth: int) -> list[Incompatibility]:
        issues = self.lower("minProperties", n, w, path) + self.upper("maxProperties", n, w, path)
        n_props, w_props = n.get("properties", {}), w.get("properties", {})
        n_pp, w_pp = n.get("patternProperties", {}), w.get("patternProperties", {})
        n_ap, w_ap = n.get("additionalProperties", True), w.get("additionalProperties", True)
        n_required = set(n.get("required", []))
        for name in w.get("required", []):
            if name not in n_required:
                issues.append(
                    self.issue(
                        path + ("properties", name),
                        self.say(
                            f"property '{name}' became required",
                            f"property '{name}' is no longer required",
                        ),
                    )
                )
        names = list(w_props) + [k for k in n_props if k not in w_props]
        for name in names:
            if name in n_props:
                mine = n_props[name]
            else:
                matching = [s for p, s in n_pp.items() if _matches(p, name)]
                mine = matching[0] if matching else n_ap
            if mine is False:
                continue
            where = path + ("properties", name)
            theirs = [w_props[name]] if name in w_props else []
            theirs += [s for p, s in w_pp.items() if _matches(p, name)]
            if not theirs:
                theirs = [w_ap]
            for wide in theirs:
                if wide is False:
                    if name in w_props:
                        message = self.say(
                            f"property '{name}' is now forbidden",
                            f"property '{name}' was forbidden",
                        )
                    else:
                        message = self.say(
                            f"property '{name}' was removed and additionalProperties is false",
                            f"property '{name}' was added but the old schema does not allow "
                            "additional properties",
                        )
                    issues.append(self.issue(where, message))
                else:
                    issues.extend(self.check(mine, wide, where, depth + 1))
        # Properties neither schema names.
        if n_ap is False and not n_pp:
            return issues
        if w_ap is True and not w_pp:
            return issues
        if set(n_pp) == set(w_pp):
            for p in w_pp:
                issues.extend(
                    self.check(n_pp[p], w_pp[p], path + ("patternProperties", p), depth + 1)
                )
            where = path + ("additionalProperties",)
            if w_ap is False and n_ap is not False:
                message = self.say(
                    "additionalProperties was set to false (the object is now closed)",
                    "additionalProperties false was removed (the object is now open)",
                )
                issues.append(self.issue(where, message))
            else:
                issues.extend(self.check(n_ap, w_ap, where, depth + 1))
        else:
            issues.append(
                self.issue(
                    path + ("patternProperties",),
                    f"{CANNOT} compatibility: patternProperties changed",
                )
            )
        return issues

    def check_generic(
        self, n: dict, w: dict, path: Path, allowed: set[str]
    ) -> list[Incompatibility]:
        from schemas.capabilities import ASSERTED

        issues = []
        seen: set[str] = set()
        for key in w:
            if key in STRUCTURAL or key in NEUTRAL or key not in ASSERTED or key in seen:
                continue
            group = GROUPS.get(key, (key,))
            seen.update(group)
            if group[0] in ("if", "contains") and group[0] not in w:
                continue  # then/else without if, minContains without contains: no effect
            mine = {k: n.get(k) for k in group}
            theirs = {k: w.get(k) for k in group}
            same = canonical_json(mine) == canonical_json(theirs) and (
                self.same_roots or not _has_ref(theirs)
            )
            if same and not key.startswith("unevaluated"):
                continue
            issues.append(
                self.issue(
                    path + (group[0],),
                    f"{CANNOT} compatibility: '{group[0]}' differs or is not supported by the "
                    "compatibility checker",
                )
            )
        return issues


def _intersect(a: set[str], b: set[str]) -> set[str]:
    out = a & b
    if "number" in a and "integer" in b or "integer" in a and "number" in b:
        out.add("integer")
    return out


def _overlap(t: str, types: set[str]) -> bool:
    if t in types:
        return True
    return (t == "integer" and "number" in types) or (t == "number" and "integer" in types)


def _matches(pattern: str, name: str) -> bool:
    try:
        return compile_pattern(pattern).search(name) is not None
    except Exception:  # noqa: BLE001 - a refused pattern matches nothing we can prove
        return False


def _bound(
    n: dict, inclusive: str, exclusive: str, pick: Any, integer: bool, up: bool
) -> tuple[Any, bool] | None:
    """The narrow side's tightest bound as (value, strict), integer-normalized when integral."""
    found = []
    if inclusive in n:
        found.append((n[inclusive], False))
    if exclusive in n:
        found.append((n[exclusive], True))
    if not found:
        return None
    value = pick(v for v, _ in found)
    strict = any(s for v, s in found if v == value)
    if integer:
        if up:
            value = ceil(value) - 1 if strict else floor(value)
        else:
            value = floor(value) + 1 if strict else ceil(value)
        strict = False
    return value, strict


def _bound_keyword(n: dict, is_lower: bool, value: Any) -> str:
    inclusive, exclusive = (
        ("minimum", "exclusiveMinimum") if is_lower else ("maximum", "exclusiveMaximum")
    )
    if inclusive in n and exclusive in n:
        return exclusive if n[exclusive] == value else inclusive
    return exclusive if exclusive in n else inclusive


def _run(narrow: Any, wide: Any, forward: bool) -> list[Incompatibility]:
    checker = _Checker(narrow, wide, forward=forward)
    try:
        found = checker.check(narrow, wide, ())
    except _TooComplex:
        return [Incompatibility("", f"{CANNOT} compatibility: the schemas are too complex")]
    except LookupError as exc:
        return [Incompatibility("", f"{CANNOT} compatibility: unresolvable reference {exc}")]
    unique: dict[tuple[str, str], Incompatibility] = {}
    for item in found:
        unique.setdefault((item.path, item.message), item)
    return list(unique.values())


def is_subschema(narrow: Any, wide: Any) -> list[Incompatibility]:
    """Why some instance valid under `narrow` may be invalid under `wide` (empty: proved).

    Messages read with `narrow` as the old schema and `wide` as the new one.
    """
    return _run(narrow, wide, forward=False)


def check_compatibility(
    new: dict[str, Any], previous: list[tuple[int, dict[str, Any]]], mode: Compatibility
) -> list[Incompatibility]:
    """Incompatibilities of `new` against `previous` ((version, schema), ascending) under `mode`."""
    mode = Compatibility(mode)
    if mode is Compatibility.NONE or not previous:
        return []
    against = previous if mode.endswith("_TRANSITIVE") else previous[-1:]
    backward = mode.startswith(("BACKWARD", "FULL"))
    forward = mode.startswith(("FORWARD", "FULL"))
    found: list[Incompatibility] = []
    for version, old in against:
        if canonical_json(old) == canonical_json(new):
            continue
        if backward:
            found += [
                Incompatibility(i.path, i.message, version) for i in _run(old, new, forward=False)
            ]
        if forward:
            found += [
                Incompatibility(i.path, i.message, version) for i in _run(new, old, forward=True)
            ]
    return found
