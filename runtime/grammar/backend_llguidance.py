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
        strict = json.dumps(strict_objects(schema), ensure_ascii=False)
        as_written = json.dumps(_llguidance_form(schema, close=False), ensure_ascii=False)
        try:
            return self._compile(strict, lenient=False)
        except GrammarCompileError as refused:
            # Keywords llguidance cannot enforce (uniqueItems, not, if/then/else, oneOf, unknown
            # formats, ...): enforce everything else rather than hand the whole schema to a
            # backend that enforces less. What is not enforced is checked after generation
            # (the capability report lists it under validated_after).
            try:
                return self._compile(strict, lenient=True)
            except GrammarCompileError as lenient:
                first = f"{refused.detail}; with those keywords ignored: {lenient.detail}"
        # Closing objects can make a schema unsatisfiable where keys come from places the
        # closing does not see (a "not", a keyword ignored above): the schema as written.
        try:
            return self._compile(as_written, lenient=True)
        except GrammarCompileError as literal:
            raise GrammarCompileError(f"{first}; as written: {literal.detail}") from None

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
