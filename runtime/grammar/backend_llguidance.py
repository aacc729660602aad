"""llguidance: compiles in under a millisecond and refuses keywords it cannot enforce."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher


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


class LLGuidanceBackend(GrammarBackend):
    name = "llguidance"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        import llguidance.hf

        self.llg_tokenizer = llguidance.hf.from_tokenizer(tokenizer)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        strict = json.dumps(strict_objects(json.loads(schema_json)), ensure_ascii=False)
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
                raise GrammarCompileError(
                    f"{refused.detail}; with those keywords ignored: {lenient.detail}"
                ) from None

    def _compile(self, strict: str, *, lenient: bool) -> Callable[[], RowMatcher]:
        from llguidance import LLMatcher

        # overrides, not defaults: a schema's own "x-guidance" must not loosen the spelling.
        overrides: dict[str, Any] = {"whitespace_flexible": False, "lenient": lenient}
        if lenient:
            overrides["coerce_one_of"] = True
        try:
            grammar = LLMatcher.grammar_from_json_schema(strict, overrides=overrides)
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


def strict_objects(schema: Any, *, in_all_of: bool = False) -> Any:
    """The schema with `additionalProperties: false` wherever `properties` leaves it open.

    llguidance follows JSON Schema literally and lets the model invent extra keys (a random
    model never stops inventing them); xgrammar's strict mode and outlines_core never write
    them. The result is a subset of the original, so outputs still validate against it; allOf
    members are left open, since closing each of them would reject the others' keys.
    """
    if isinstance(schema, list):
        return [strict_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "allOf" and isinstance(value, list):
            out[key] = [strict_objects(v, in_all_of=True) for v in value]
        elif key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            # maps of name -> subschema: the names are not keywords
            out[key] = (
                {k: strict_objects(v) for k, v in value.items()}
                if isinstance(value, dict)
                else value
            )
        else:
            out[key] = strict_objects(value)
    if "properties" in out and not in_all_of and not any(k in out for k in _OPEN_OBJECT_KEYWORDS):
        out["additionalProperties"] = False
    return out
