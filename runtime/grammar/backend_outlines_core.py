"""outlines_core: a regex from the schema, an index over the vocabulary (slowest to compile)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher


class OutlinesCoreMatcher:
    def __init__(self, guide: Any, eos_token_id: int) -> None:
        self.guide = guide
        self.eos = eos_token_id
        self.done = False

    def fill(self, bitmask: Any, row: int) -> None:
        v = bitmask[row : row + 1]
        self.guide.write_mask_into(v.data_ptr(), v.numel(), v.element_size())

    def advance(self, token_id: int) -> bool:
        if token_id == self.eos and self.guide.is_finished():
            self.done = True
            return True
        if not self.guide.accepts_tokens([token_id]):
            return False
        self.guide.advance(token_id=token_id, return_tokens=False)
        return True

    def is_terminated(self) -> bool:
        return self.done

    def forced(self) -> list[int]:
        return []  # outlines_core's Guide does not say


class OutlinesCoreBackend(GrammarBackend):
    name = "outlines_core"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        from outlines.backends.outlines_core import OutlinesCoreBackend as Outlines

        # Outlines' own vocabulary conversion: it knows how byte-level BPE tokens map to text.
        self.vocabulary = Outlines.create_outlines_core_vocabulary(
            tokenizer.get_vocab(),
            self.eos_token_id,
            tokenizer.eos_token,
            lambda token: tokenizer.convert_tokens_to_string([token]),
        )

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        from outlines_core import Guide, Index
        from outlines_core.json_schema import build_regex_from_schema

        try:
            # "" = no whitespace between JSON tokens (None would allow optional spaces).
            regex = build_regex_from_schema(schema_json, "")
            index = Index(regex, self.vocabulary)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarCompileError(f"outlines_core: {exc}") from exc
        eos = self.eos_token_id
        return lambda: OutlinesCoreMatcher(Guide(index), eos)
