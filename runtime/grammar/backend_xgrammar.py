"""xgrammar: accepts the most keywords; compiles in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher


class XGrammarMatcher:
    def __init__(self, matcher: Any, tokenizer: Any) -> None:
        self.matcher = matcher
        self.tokenizer = tokenizer

    def fill(self, bitmask: Any, row: int) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, row)

    def advance(self, token_id: int) -> bool:
        return bool(self.matcher.accept_token(token_id))

    def is_terminated(self) -> bool:
        return bool(self.matcher.is_terminated())

    def forced(self) -> list[int]:
        text = self.matcher.find_jump_forward_string()
        return self.tokenizer.encode(text, add_special_tokens=False) if text else []


class XGrammarBackend(GrammarBackend):
    name = "xgrammar"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer))
        # Our own LRU caches compiled grammars; xgrammar's cache would hold them twice.
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=False)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        import xgrammar as xgr

        try:
            compiled = self.compiler.compile_json_schema(
                schema_json, any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarCompileError(f"xgrammar: {exc}") from exc
        return lambda: XGrammarMatcher(xgr.GrammarMatcher(compiled), self.tokenizer)
