"""Prompt prefixes whose KV is kept, so a request prefills only what follows them.

Every request to a schema version without an adapter starts with the same system message and
few-shot turns (500-900 tokens), and every request to an adapter with the same system prompt;
only the input differs. The first request of each prefills it and leaves its KV here; the next
ones copy it into their slot and prefill the input alone. Entries are keyed by the adapter
(its LoRA changes the KV) and the exact prefix tokens, and the least recently used go first
once the entries hold more than `max_bytes`.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable

from runtime.kvcache import Prefix

# Shorter shared prefixes (the chat template's default system line) are not worth a slot copy.
MIN_PREFIX_TOKENS = 32


class PrefixCache:
    """Used by one thread (the decode loop's)."""

    def __init__(self, *, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.nbytes = 0
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[Hashable, Prefix] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Prefix | None:
        prefix = self._entries.get(key)
        if prefix is None:
            self.misses += 1
            return None
        self.hits += 1
        self._entries.move_to_end(key)
        return prefix

    def put(self, key: Hashable, prefix: Prefix) -> None:
        if prefix.nbytes > self.max_bytes or key in self._entries:
            return
        self._entries[key] = prefix
        self.nbytes += prefix.nbytes
        while self.nbytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.nbytes -= evicted.nbytes

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0
