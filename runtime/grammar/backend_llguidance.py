"""llguidance: compiles in under a millisecond and refuses keywords it cannot enforce."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher

if TYPE_CHECKING:
    from llguidance._lib import JsonCompileOptions


class LLGuidanceMatcher:
    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher

    def fill(self, bitmask: Any, row: int) -> None:
        v = bitmask[row]
        self.matcher.unsafe_compute_mask_ptr(v.data_ptr(), v.numel() * v.element_size())

    def advance(self, token_id: int) -> bool:
        return bool(self.matcher.consume_token(token_id)) and not self.matcher.is_error()

    def is_terminated(self) -> bool:
        return bool(self.matcher.is_stopped())

    def forced(self) -> list[int]:
        return list(self.matcher.compute_ff_tokens())

    def copy(self) -> LLGuidanceMatcher:
        return LLGuidanceMatcher(self.matcher.deep_copy())


class LLGuidanceBackend(GrammarBackend):
    name = "llguidance"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        import llguidance.hf

        self.llg_tokenizer = llguidance.hf.from_tokenizer(tokenizer)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        schema = json.loads(schema_json)
        unfolded = unfold_conditions(schema)
        closed = [strict_objects(unfolded)]
        if unfolded != schema:  # branches that multiply past llguidance's size limit
            closed.append(strict_objects(schema))
        # Keywords llguidance cannot enforce (uniqueItems, not, oneOf, unknown formats, ...):
        # lenient enforces everything else rather than hand the whole schema to a backend
        # that enforces less; what is not enforced is checked after generation (the
        # capability report lists it under validated_after). Last, the schema as written:
        # closing objects can make a schema unsatisfiable where keys come from places the
        # closing does not see (a "not", a keyword ignored).
        attempts = [
            ("", closed[0], False),
            *(("with those keywords ignored", form, True) for form in closed),
            ("as written", _llguidance_form(schema, close=False), True),
        ]
        errors = []
        for label, form, lenient in attempts:
            try:
                return self._compile(json.dumps(form, ensure_ascii=False), lenient=lenient)
            except GrammarCompileError as exc:
                errors.append(f"{label}: {exc.detail}" if label else exc.detail)
        raise GrammarCompileError("; ".join(errors))

    def _compile(self, schema_json: str, *, lenient: bool) -> Callable[[], RowMatcher]:
        from llguidance import LLMatcher

        # overrides, not defaults: a schema's own "x-guidance" must not loosen the spelling.
        overrides: JsonCompileOptions = {"whitespace_flexible": False, "lenient": lenient}
        if lenient:
            overrides["coerce_one_of"] = True
        try:
            grammar = LLMatcher.grammar_from_json_schema(schema_json, overrides=overrides)
        except ValueError as exc:
            raise GrammarCompileError(f"llguidance: {exc}") from exc
        template = LLMatcher(self.llg_tokenizer, grammar, log_level=0)
        if template.is_error():
            raise GrammarCompileError(f"llguidance: {template.get_error()}")
        # The first mask builds the lexer, which is most of llguidance's cost: pay it here.
        import torch

        mask = torch.empty((1, (self.llg_tokenizer.vocab_size + 31) // 32), dtype=torch.int32)
        LLGuidanceMatcher(template).fill(mask, 0)
        if template.is_error():
            raise GrammarCompileError(f"llguidance: {template.get_error()}")
        return lambda: LLGuidanceMatcher(template.deep_copy())


_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples", "x-guidance"})
_OPEN_OBJECT_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties")
# Keywords through which an object's keys can come from elsewhere than its own "properties".
_MORE_KEYS_KEYWORDS = (
    *("allOf", "anyOf", "oneOf", "$ref", "$dynamicRef", "if", "then", "else"),
    *("dependentSchemas", "dependencies", "dependentRequired"),
)
_DEF_MAPS = ("$defs", "definitions")
# llguidance cannot build a number range reaching 2**63 ("Failed to generate regex for integer
# range", the int64 bounds of Java-generated schemas): bounds beyond +-2**62 are narrowed to it,
# which leaves every answer valid and no realistic one out.
_BOUND = 2**62
_LOWER_BOUNDS = ("minimum", "exclusiveMinimum")
_UPPER_BOUNDS = ("maximum", "exclusiveMaximum")


def strict_objects(schema: Any) -> Any:
    """The schema with `additionalProperties: false` wherever `properties` leaves it open.

    llguidance follows JSON Schema literally and lets the model invent extra keys (a random
    model never stops inventing them); xgrammar's strict mode and outlines_core never write
    them. The result is a subset of the original, so outputs still validate against it. An
    object stays open where its keys may come from elsewhere: members of an allOf and the
    definitions they reference, objects that combine their properties with another subschema
    ($ref, anyOf, if/then, dependencies, ...), and objects that require a key they do not list.
    """
    return _llguidance_form(schema, close=True)


def _llguidance_form(schema: Any, *, close: bool) -> Any:
    """The schema as llguidance gets it: number bounds narrowed, objects closed if `close`."""
    return _strict(schema, leave_open=False, open_defs=_all_of_refs(schema) if close else None)


def _strict(schema: Any, *, leave_open: bool, open_defs: frozenset[str] | None) -> Any:
    """`open_defs` None: close no object."""
    if isinstance(schema, list):
        return [_strict(item, leave_open=False, open_defs=open_defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif _is_number(value) and key in _LOWER_BOUNDS:
            out[key] = max(value, -_BOUND)
        elif _is_number(value) and key in _UPPER_BOUNDS:
            out[key] = min(value, _BOUND)
        elif key == "allOf" and isinstance(value, list):
            out[key] = [_strict(v, leave_open=True, open_defs=open_defs) for v in value]
        elif key in ("properties", "patternProperties", *_DEF_MAPS, "dependentSchemas"):
            # maps of name -> subschema: the names are not keywords
            out[key] = (
                {
                    k: _strict(
                        v,
                        leave_open=open_defs is not None and f"#/{key}/{k}" in open_defs,
                        open_defs=open_defs,
                    )
                    for k, v in value.items()
                }
                if isinstance(value, dict)
                else value
            )
        else:
            out[key] = _strict(value, leave_open=False, open_defs=open_defs)
    properties = out.get("properties")
    required = out.get("required")
    if (
        open_defs is not None
        and not leave_open
        and isinstance(properties, dict)
        and not any(k in out for k in (*_OPEN_OBJECT_KEYWORDS, *_MORE_KEYS_KEYWORDS))
        and not (isinstance(required, list) and any(r not in properties for r in required))
    ):
        out["additionalProperties"] = False
    return out


# Keywords whose subschemas apply to the instance itself: an `if` in one may look at a property
# the enclosing object declares.
_IN_PLACE = ("allOf", "anyOf", "oneOf", "then", "else")


def unfold_conditions(schema: Any, declared: dict[str, Any] | None = None) -> Any:
    """The schema with every `if`/`then`/`else` that _unfold_if can turn into an anyOf turned
    into one (llguidance ignores if/then/else: the model could follow the wrong branch)."""
    if isinstance(schema, list):
        return [unfold_conditions(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    node = _unfold_if(schema, declared or {})
    own = node.get("properties")
    known = {**(declared or {}), **(own if isinstance(own, dict) else {})}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key in _IN_PLACE:
            out[key] = (
                [unfold_conditions(v, known) for v in value]
                if isinstance(value, list)
                else unfold_conditions(value, known)
            )
        elif key in ("properties", "patternProperties", *_DEF_MAPS, "dependentSchemas"):
            out[key] = (
                {k: unfold_conditions(v) for k, v in value.items()}
                if isinstance(value, dict)
                else value
            )
        else:
            out[key] = unfold_conditions(value)
    return out


def _unfold_if(node: dict[str, Any], declared: dict[str, Any]) -> dict[str, Any]:
    """`if`/`then`/`else` as an anyOf llguidance enforces (it ignores if/then/else), when the
    `if` looks at one property of an object whose values the object lists (an enum, a const,
    a boolean) — the usual discriminator, `{"if": {"properties": {"kind": {"const": "a"}}},
    "then": ...}`. Exact: each value, and the property's absence, goes to the branch the `if`
    sends it to; the property may be declared by the object the node applies in place to
    (`declared`: an allOf member, a branch). Any other `if` is left as it is (checked after
    generation)."""
    condition = node.get("if")
    if not isinstance(condition, dict) or not ("then" in node or "else" in node):
        return node
    own = node.get("properties")
    known = {**declared, **(own if isinstance(own, dict) else {})}
    if not known or node.get("type", "object") != "object":
        return node
    names = _looked_at(condition)
    if names is None or len(names) != 1:
        return node
    (name,) = names
    values = _values(known.get(name))
    if values is None:
        return node
    from jsonschema import Draft202012Validator

    check = Draft202012Validator(condition)
    try:
        taken = [check.is_valid({name: value}) for value in values]
        absent = check.is_valid({})
    except Exception:  # e.g. a pattern Python's re cannot compile: left to validation
        return node
    branches = []
    for chosen, keyword in ((True, "then"), (False, "else")):
        picked = [value for value, took in zip(values, taken, strict=True) if took is chosen]
        when: dict[str, Any]
        if picked:
            when = {"properties": {name: {"enum": picked}}}
            if absent is not chosen:
                when["required"] = [name]
        elif absent is chosen:
            when = {"properties": {name: False}}
        else:
            continue  # no value reaches this branch
        # allOf members stay open objects (see _strict): `when` names one key of many.
        branches.append({"allOf": [when, node.get(keyword, True)]})
    # An untyped node becomes an object (a subset: the properties say it is meant as one).
    out = {k: v for k, v in node.items() if k not in ("if", "then", "else")} | {"type": "object"}
    union = {"anyOf": branches} if len(branches) > 1 else branches[0]
    members = node.get("allOf")
    out["allOf"] = [*members, union] if isinstance(members, list) else [union]
    return out


_CONDITION_NOTES = frozenset({"$comment", "title", "description"})


def _looked_at(condition: Any) -> set[str] | None:
    """The properties an `if` looks at; None if it looks at anything else (or through $ref)."""
    if isinstance(condition, bool):
        return set()
    if not isinstance(condition, dict):
        return None
    names: set[str] = set()
    for key, value in condition.items():
        if key == "properties" and isinstance(value, dict):
            if "$ref" in json.dumps(value):
                return None
            names |= set(value)
        elif key == "required" and isinstance(value, list):
            names |= {str(v) for v in value}
        elif key in ("anyOf", "allOf", "oneOf", "not"):
            for item in value if isinstance(value, list) else [value]:
                inner = _looked_at(item)
                if inner is None:
                    return None
                names |= inner
        elif not (key in _CONDITION_NOTES or (key == "type" and value == "object")):
            return None
    return names


def _values(declared: Any) -> list[Any] | None:
    """Every value a property may take, if its schema lists them."""
    if not isinstance(declared, dict):
        return None
    if isinstance(declared.get("enum"), list):
        return list(declared["enum"])
    if "const" in declared:
        return [declared["const"]]
    if declared.get("type") == "boolean":
        return [True, False]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _all_of_refs(schema: Any) -> frozenset[str]:
    """Local definitions ("#/$defs/x") that an allOf member is or names through $ref, and
    through theirs in turn: closing one of them would refuse its sibling members' keys."""
    found: set[str] = set()
    defs = {
        f"#/{m}/{k}": v
        for m in _DEF_MAPS
        if isinstance(schema, dict) and isinstance(schema.get(m), dict)
        for k, v in schema[m].items()
    }

    def visit(node: Any, *, member: bool) -> None:
        if isinstance(node, list):
            for item in node:
                visit(item, member=False)
        elif isinstance(node, dict):
            ref = node.get("$ref")
            if member and isinstance(ref, str) and ref in defs and ref not in found:
                found.add(ref)
                visit(defs[ref], member=True)
            for key, value in node.items():
                if key in _DATA_KEYWORDS:
                    continue
                if key == "allOf" and isinstance(value, list):
                    for item in value:
                        visit(item, member=True)
                else:
                    visit(value, member=False)

    visit(schema, member=False)
    return frozenset(found)
