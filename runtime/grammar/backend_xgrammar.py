"""xgrammar: accepts the most keywords; compiles in milliseconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runtime.grammar.base import GrammarBackend, GrammarCompileError, RowMatcher

# xgrammar 0.2 spells a character of a string with minLength/maxLength as any but a quote, a
# backslash, CR or LF: other control characters pass, raw, and the answer is not JSON. They
# are kept out as in its other strings (escapes stay out of such strings, as before).
_LENGTH_CHAR = r"[^\"\\\r\n]"
_JSON_CHAR = r"[^\0-\x1f\"\\]"


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

    def copy(self) -> XGrammarMatcher:
        return XGrammarMatcher(self.matcher.fork(), self.tokenizer)


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
            grammar = xgr.Grammar.from_json_schema(
                schema_json, any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
            ebnf = str(grammar).replace(_LENGTH_CHAR, _JSON_CHAR)
            compiled = self.compiler.compile_grammar(xgr.Grammar.from_ebnf(ebnf))
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarCompileError(f"xgrammar: {exc}") from exc
        return lambda: XGrammarMatcher(xgr.GrammarMatcher(compiled), self.tokenizer)
