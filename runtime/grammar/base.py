"""What every grammar backend is: a small base class, the row matcher it makes, its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class GrammarCompileError(Exception):
    """No backend could compile a schema; `attempts` says what each one answered."""

    def __init__(self, detail: str, *, attempts: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts or []


class GrammarTimeout(GrammarCompileError):
    """A compile took longer than its timeout; it was abandoned (it may finish in background)."""


class RowMatcher(Protocol):
    """The grammar state of one generated row."""

    def fill(self, bitmask: Any, row: int) -> None:
        """Write the allowed next tokens into `bitmask[row]` (CPU int32, 32 tokens a word)."""

    def advance(self, token_id: int) -> bool:
        """Consume a sampled token; False if the grammar rejects it."""

    def is_terminated(self) -> bool:
        """The grammar has accepted its stop token; nothing more may be consumed."""

    def forced(self) -> list[int]:
        """Tokens spelling what the grammar allows next when it allows one continuation only
        (a key, punctuation, the rest of an enum value); [] when it does not know. Only a
        proposal: the decode loop keeps each token only if the model picks it there."""

    def copy(self) -> RowMatcher:
        """An independent matcher in the same state (to try an ending on)."""


class GrammarBackend:
    """Tokenizer-bound state of one library, built once (0.1-0.3 s), then compiles schemas.

    A subclass sets `name` and implements `compile`; runtime.grammar.BACKENDS lists them.
    """

    name = ""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.eos_token_id = int(tokenizer.eos_token_id)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        """A factory of fresh row matchers for the schema; GrammarCompileError if refused.

        All grammars spell JSON compactly (no whitespace, "," and ":"), the spelling of
        `training.prompts.compact_json`, so adapters and constrained decoding write the same
        text, and a random or confused model cannot spend its budget on whitespace.
        """
        raise NotImplementedError


def unpack_bitmask(bitmask: Any) -> Any:
    """The bool mask (..., 32 * words) of a packed int32 token bitmask (..., words): plain
    tensor ops (no torch.compile, which needs a C compiler on CPU), device-agnostic, ~0.1 ms
    for a 49k vocabulary."""
    import torch

    shifts = torch.arange(32, dtype=torch.int32, device=bitmask.device)
    return ((bitmask.unsqueeze(-1) >> shifts) & 1).bool().flatten(-2)
