"""Closing a constrained answer before its token budget runs out.

A constrained answer that reaches max_tokens mid-way is not JSON (the request fails with 422
`unconformant_output`), however close it was: a base model writing long free-text fields into a
config-file schema runs out that way. Once the budget left is about what closing the open
structures needs, the row is closed instead: its grammar is walked on a copy to the shortest
ending it can find (end the open string, give each required key still missing its smallest
value, close every open array and object), and if that ending fits the budget left it is
written in one go. The answer then validates; `finish_reason` stays "length", because the
budget, not the model, ended it (a free-text field may be cut short).

The ending is found greedily, a token at a time, among the tokens the grammar allows:
1. the tokens the grammar forces (a required key's name, punctuation);
2. else the first allowed of a short list: inside a string the quote that ends it, outside one
   the bracket that closes the innermost array or object, else the smallest value that starts
   here (0, "", null, ...), a comma or a colon;
3. else, outside a string, the longest allowed token (an enum value); inside one, a token
   after which the string may end, else in turn the longest token (a string that must reach
   minLength), a punctuation mark, a letter or digit (what a pattern or format waits for).
A walk that has not ended after MAX_CLOSING tokens (or the budget left) gives up; the row
decodes on and is looked at again a few tokens later.
"""

from __future__ import annotations

from typing import Any

from runtime.grammar.base import RowMatcher, unpack_bitmask

MAX_CLOSING = 384
# Where JSON text ends: (inside a string, right after a backslash in it).
Quote = tuple[bool, bool]
START: Quote = (False, False)
# Outside a string: close the innermost container first, then the smallest values, then a
# comma (another required item follows) or the colon after a key, then what opens a value
# the grammar insists on. (Without ":" here a longer token such as `:",` would open a string.)
_OUTSIDE = ("}", "]", "0", '""', "null", "false", "true", "[]", "{}", ",", ":", '"', "[", "{")
_INSIDE = ('"}', '"]', '"')
# Inside a string whose end the grammar does not allow yet (a pattern, a format): a token after
# which it may end, else in turn the longest token, one of these marks (the next one each
# time), a letter or digit. `[a-z]+\.[a-z]+` needs its dot, an email its "@" (after any dots)
# and a domain label its letter after a hyphen; the longest token alone can go on forever.
_MARKS = tuple(".-_:/@ ")


class Closer:
    """Tokenizer-bound tables for finding endings, built once per runtime."""

    def __init__(self, tokenizer: Any, vocab: int) -> None:
        import torch

        self.eos = int(tokenizer.eos_token_id)
        strings = tokenizer.convert_ids_to_tokens(list(range(vocab)))
        self.pieces: list[str] = [s if isinstance(s, str) else "" for s in strings]
        self.lengths = torch.tensor([len(s) for s in self.pieces], dtype=torch.float32)
        self.outside = _single_tokens(tokenizer, _OUTSIDE)
        self.inside = _single_tokens(tokenizer, _INSIDE)
        self.marks = _single_tokens(tokenizer, _MARKS)
        self.alnums = _single_tokens(tokenizer, ("a", "0", "A"))
        self.bitmask = torch.empty(((vocab + 31) // 32,), dtype=torch.int32)

    def ending(
        self, matcher: RowMatcher, quote: Quote, limit: int, *, after: int | None = None
    ) -> list[int] | None:
        """The tokens that end the answer from `matcher`'s state (`quote`: where its output so
        far ends), past the token `after` if given; None if no ending of at most `limit` tokens
        was found."""
        walker = matcher.copy()
        if after is not None:
            if not walker.advance(after):
                return None
            quote = self.step(quote, after)
        path: list[int] = []
        limit = min(limit, MAX_CLOSING)
        picks = 0  # free picks inside strings so far
        while not self._may_end(walker):
            forced = walker.forced()
            if not forced and quote[0]:
                picks += 1
            chosen: list[int | None] = [*forced] or [
                self._choose(walker, in_string=quote[0], pick=picks)
            ]
            for token in chosen:
                if token is None or len(path) >= limit or not walker.advance(token):
                    return None
                path.append(token)
                quote = self.step(quote, token)
            if walker.is_terminated():
                break
        return path

    def step(self, quote: Quote, token: int) -> Quote:
        """(inside a string, after its backslash) once `token` is written."""
        inside, escaped = quote
        for char in self.pieces[token]:
            if escaped:
                escaped = False
            elif char == "\\" and inside:
                escaped = True
            elif char == '"':
                inside = not inside
        return inside, escaped

    def in_text(self, quote: Quote, token: int) -> bool:
        """Whether `token` only adds to the string it is in (no quote ends it)."""
        return quote[0] and '"' not in self.pieces[token]

    def _may_end(self, walker: RowMatcher) -> bool:
        if walker.is_terminated():
            return True
        walker.fill(self.bitmask.view(1, -1), 0)
        return self._allowed(self.eos)

    def _allowed(self, token: int) -> bool:
        return bool((int(self.bitmask[token >> 5]) >> (token & 31)) & 1)

    def _choose(self, walker: RowMatcher, *, in_string: bool, pick: int) -> int | None:
        """From the allowed tokens `_may_end` left in the bitmask; `pick` counts the free
        picks inside strings so far."""
        for token in self.inside if in_string else self.outside:
            if self._allowed(token):
                return token
        allowed = unpack_bitmask(self.bitmask)[: self.lengths.shape[0]]
        if not bool(allowed.any()):
            return None
        longest = int(self.lengths.masked_fill(~allowed, -1.0).argmax())
        if not in_string:
            return longest
        marks = [t for t in self.marks if self._allowed(t)]
        alnums = [t for t in self.alnums if self._allowed(t)]
        for token in [*marks, *alnums, longest]:  # one that lets the string end next
            trial = walker.copy()
            if trial.advance(token) and self._may_close(trial):
                return token
        if pick % 3 == 1 and marks:
            return marks[(pick // 3) % len(marks)]
        if pick % 3 == 2 and alnums:
            return alnums[0]
        return longest

    def _may_close(self, walker: RowMatcher) -> bool:
        walker.fill(self.bitmask.view(1, -1), 0)
        return any(self._allowed(token) for token in self.inside)


def _single_tokens(tokenizer: Any, texts: tuple[str, ...]) -> list[int]:
    """The ids of the texts the tokenizer spells with one token, in order."""
    ids = [tokenizer.encode(t, add_special_tokens=False) for t in texts]
    return [i[0] for i in ids if len(i) == 1]
