"""A KV cache with one slot per running row, so rows of any length join and leave a batch.

transformers' caches hold one sequence length for the whole batch (left padding), so a row can
neither join a running batch nor leave it. Here each layer holds keys and values as
[slots, kv_heads, capacity, head_dim]; slot i holds row i of the batch and `lengths[i]` of its
positions are valid. A forward covers the contiguous slots [lo, hi): each of its rows writes its
new tokens at its own positions (right after its valid ones) and attends through a 4D mask to
its own valid positions only. A row that leaves hands its slot to the last row (one copy of that
row's KV), so the running rows always fill slots [0, n) and a batch is a view, not a gather.

Any transformers decoder whose attention calls `cache.update(key, value, layer_idx, ...)` and
takes a 4D mask as it is (Llama, Mistral, Qwen2, Phi3, Gemma...) runs on it unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Prefix:
    """Keys and values of the first `length` positions of a row (per layer, [kv_heads, n, dim])."""

    keys: list[Any]
    values: list[Any]
    length: int

    @property
    def nbytes(self) -> int:
        return _nbytes((*self.keys, *self.values))


def _nbytes(tensors: Any) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


class SlotCache:
    """Grows (slots and positions, by copying) as rows need; used by one thread."""

    # transformers asks this of any cache
    is_compileable = False

    def __init__(self, model: Any, *, slots: int = 1, capacity: int = 256) -> None:
        import torch

        self._torch = torch
        config = model.config.get_text_config()
        self.layers = config.num_hidden_layers
        heads = config.num_attention_heads
        self.kv_heads = getattr(config, "num_key_value_heads", None) or heads
        self.head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        param = next(model.parameters())
        self.dtype, self.device = param.dtype, param.device
        self.slots = self.capacity = 0
        self.keys: list[Any] = []
        self.values: list[Any] = []
        self.lengths: list[int] = []
        self._grow(slots, capacity)
        # Set by `prepare` for one forward.
        self._lo = self._hi = self._kv_len = 0
        self._index: Any = None  # [rows, width] positions the new tokens are written at

    def _grow(self, slots: int, capacity: int) -> None:
        if slots <= self.slots and capacity <= self.capacity:
            return
        slots = max(slots, self.slots)
        if capacity > self.capacity:
            # doubling keeps the copies rare; whole blocks of 64 positions
            capacity = (max(capacity, 2 * self.capacity) + 63) // 64 * 64
        capacity = max(capacity, self.capacity)
        shape = (slots, self.kv_heads, capacity, self.head_dim)
        like = {"dtype": self.dtype, "device": self.device}
        keys = [self._torch.zeros(shape, **like) for _ in range(self.layers)]
        values = [self._torch.zeros(shape, **like) for _ in range(self.layers)]
        for old, new in zip((*self.keys, *self.values), (*keys, *values), strict=False):
            new[: self.slots, :, : self.capacity].copy_(old)
        self.keys, self.values = keys, values
        self.lengths += [0] * (slots - self.slots)
        self.slots, self.capacity = slots, capacity

    # ---------------------------------------------------------------- one forward

    def prepare(self, lo: int, hi: int, widths: list[int]) -> tuple[Any, Any]:
        """Set up a forward of rows [lo, hi), row i adding `widths[i]` tokens (the batch is
        right-padded to the widest); returns (position_ids, 4D boolean attention mask).

        The mask lets query t of row i see positions <= lengths[i] + t; padded queries see the
        same (their outputs are ignored and their writes land past the row's valid length).
        """
        torch = self._torch
        width = max(widths)
        self._grow(hi, 0)
        starts = torch.tensor(self.lengths[lo:hi], device=self.device)
        self._lo, self._hi = lo, hi
        self._index = starts[:, None] + torch.arange(width, device=self.device)
        self._kv_len = int(starts.max()) + width
        self._grow(0, self._kv_len)
        keys = torch.arange(self._kv_len, device=self.device)
        mask = keys[None, None, :] <= self._index[:, :, None]  # [rows, width, kv_len]
        return self._index, mask[:, None]

    def update(self, key_states: Any, value_states: Any, layer_idx: int, *_: Any, **__: Any):
        """The attention layers' call: write the new keys/values, return the rows' views."""
        lo, hi = self._lo, self._hi
        index = self._index[:, None, :, None].expand(-1, self.kv_heads, -1, self.head_dim)
        keys, values = self.keys[layer_idx][lo:hi], self.values[layer_idx][lo:hi]
        keys.scatter_(2, index, key_states.to(self.dtype))
        values.scatter_(2, index, value_states.to(self.dtype))
        return keys[:, :, : self._kv_len], values[:, :, : self._kv_len]

    def advance(self, slot: int, tokens: int) -> None:
        """Row `slot` keeps `tokens` more of the positions its last forward wrote."""
        self.lengths[slot] += tokens

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """transformers asks this of any cache."""
        return self._kv_len

    # ---------------------------------------------------------------- slots

    def shrink(self) -> None:
        """Drop every slot once no row is left: a burst's memory (up to GBs: slots x the
        longest row) is given back rather than kept for good; the next row grows it again.
        Only frees: allocating here, in the idle decode thread, could still be running when the
        process exits, and torch aborts ("terminate called without an active exception")."""
        assert not any(self.lengths), "rows are still running"
        self.slots = self.capacity = 0
        self.keys, self.values, self.lengths = [], [], []

    @property
    def nbytes(self) -> int:
        return _nbytes((*self.keys, *self.values))

    def reset(self, slot: int) -> None:
        self._grow(slot + 1, 0)
        self.lengths[slot] = 0

    def move(self, src: int, dst: int) -> None:
        """Row `src` now lives in slot `dst` (whose row has left)."""
        n = self.lengths[src]
        for layer in (*self.keys, *self.values):
            layer[dst, :, :n].copy_(layer[src, :, :n])
        self.lengths[dst], self.lengths[src] = n, 0

    def read(self, slot: int, length: int) -> Prefix:
        """A copy of the first `length` positions of a row (for the prefix cache)."""
        return Prefix(
            keys=[k[slot, :, :length].clone() for k in self.keys],
            values=[v[slot, :, :length].clone() for v in self.values],
            length=length,
        )

    def load(self, slot: int, prefix: Prefix) -> None:
        """Start the row in `slot` with a cached prefix: its first `prefix.length` positions."""
        self._grow(slot + 1, prefix.length + 1)
        for layer, saved in zip(
            (*self.keys, *self.values), (*prefix.keys, *prefix.values), strict=True
        ):
            layer[slot, :, : prefix.length].copy_(saved)
        self.lengths[slot] = prefix.length
