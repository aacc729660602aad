"""A transformers logits processor with one grammar (or none) per batch row.

We drive the libraries' matchers directly (reusing Outlines' vocabulary conversion) rather than
Outlines' backend logits processors: each of those holds one grammar for the whole batch, and the
llguidance one rebuilds its matcher from the grammar text on every request. All three libraries
fill the same 32-tokens-per-word int32 bitmask, so rows with different schemas, backends or none
at all share one batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.grammar.base import RowMatcher, unpack_bitmask


class GrammarLogitsProcessor:
    """A transformers logits processor with one grammar (or none) per batch row.

    Rows may use different schemas and backends: each matcher fills its own row of a shared
    int32 bitmask, then one vectorized op masks the whole batch. A row whose matcher is None is
    free; a row that has stopped allows everything (generate pads it anyway).
    """

    def __init__(
        self,
        matchers: Sequence[RowMatcher | None],
        *,
        eos_token_id: int,
        vocab_size: int | None = None,
    ) -> None:
        self.matchers = list(matchers)
        self.eos_token_id = eos_token_id
        # The tokenizer's size, which the matchers' masks are laid out for; the model's logits
        # may be wider (padded embedding matrix).
        self.vocab_size = vocab_size
        self._started = False
        # Per row: "free" (no grammar or done: allow all), "active" (the matcher decides),
        # "end" (grammar complete without having seen eos, e.g. llguidance stops right after
        # the closing brace: allow eos only).
        self._state = ["free" if m is None else "active" for m in self.matchers]
        self._bitmask: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        batch, vocab = scores.shape
        if self._bitmask is None:
            width = (self.vocab_size or vocab) + 31
            self._bitmask = torch.full((batch, width // 32), -1, dtype=torch.int32)
        if self._started:
            last = input_ids[:, -1].tolist()
            for row, matcher in enumerate(self.matchers):
                if matcher is None or self._state[row] == "free":
                    continue
                token = last[row]
                if (
                    self._state[row] == "end"
                    or token == self.eos_token_id
                    and (matcher.is_terminated())
                ):
                    self._state[row] = "free"  # the row has ended; generate pads it from now
                elif not matcher.advance(token):
                    # Cannot happen with a correct mask (or a row stopped at its budget and
                    # padded); end the row and let validation report a broken output rather
                    # than crash the whole batch.
                    self._state[row] = "end"
                elif token == self.eos_token_id:
                    self._state[row] = "free"
                elif matcher.is_terminated():
                    self._state[row] = "end"
        self._started = True

        bitmask = self._bitmask
        bitmask.fill_(-1)
        any_constrained = False
        force_eos = []
        for row, matcher in enumerate(self.matchers):
            if self._state[row] == "active":
                assert matcher is not None
                matcher.fill(bitmask, row)
                any_constrained = True
            elif self._state[row] == "end":
                force_eos.append(row)
                any_constrained = True
        if not any_constrained:
            return scores
        allowed = unpack_bitmask(bitmask)
        allowed = allowed[:, :vocab].to(scores.device)
        if allowed.shape[1] < vocab:  # logits wider than the tokenizer: padding ids stay banned
            pad = torch.zeros((batch, vocab - allowed.shape[1]), dtype=torch.bool)
            allowed = torch.cat([allowed, pad.to(scores.device)], dim=1)
        dead = ~allowed.any(dim=1)
        for row in force_eos:
            dead[row] = True
        if bool(dead.any()):
            # A finished grammar, or a grammar error that left no token: end the row (instead
            # of sampling from NaN).
            allowed[dead] = False
            allowed[dead, self.eos_token_id] = True
        return scores.masked_fill(~allowed, float("-inf"))
