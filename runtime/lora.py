"""LoRA adapters over one base model, any mix of them in one batch (a gathered LoRA forward).

peft's mixed-adapter batches loop over the distinct adapters of a batch in every LoRA layer
(index, two matmuls, index-add each): with 16 distinct adapters a batch decodes at half the speed
of one. Here, as in S-LoRA and Punica, each layer stacks the A and B matrices of its rows'
adapters once per batch and adds `x @ A @ B` for all rows with two batched matmuls, whatever
the mix — a row on the base model gets zeros.

Adapters are read in plain PEFT format (peft's config and weight loaders) and kept as tensors
beside the model: nothing is injected into the model, so attaching an adapter costs reading
its file and evicting one drops its tensors. The base model's linear layers get a forward hook
that adds the rows' LoRA while a batch is on (`LoraBank.rows`); otherwise it does nothing.
Only vanilla LoRA on linear layers is served (what training produces); variants such as DoRA
are refused when loading.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# A weight key: "base_model.model.<module>.lora_A.weight" (or lora_B).
_PREFIX = "base_model.model."
_SUFFIXES = {".lora_A.weight": 0, ".lora_B.weight": 1}


class UnsupportedAdapter(ValueError):
    """An adapter the gathered forward cannot serve (not LoRA on linear layers of this model)."""


@dataclasses.dataclass
class Lora:
    """One module's LoRA, ready for the batched matmuls: `a` [in, r], `b` [r, out] (scaled)."""

    a: Any
    b: Any


def read_adapter(path: Path, model: Any) -> dict[str, Lora]:
    """The LoRA of each module of `model` that the adapter at `path` changes."""
    import torch
    from peft import LoraConfig, PeftType
    from peft.utils.other import get_pattern_key
    from peft.utils.save_and_load import load_peft_weights

    config = LoraConfig.from_pretrained(str(path))
    variants = [
        f.name
        for f in dataclasses.fields(config)
        if f.metadata.get("is_lora_variant") and getattr(config, f.name)
    ]
    if config.peft_type != PeftType.LORA or variants or config.lora_bias:
        raise UnsupportedAdapter(f"only plain LoRA is served, not {variants or config.peft_type}")
    pairs: dict[str, list[Any]] = {}
    for key, tensor in load_peft_weights(str(path), device="cpu").items():
        suffix = next((s for s in _SUFFIXES if key.endswith(s)), None)
        if suffix is None or not key.startswith(_PREFIX):
            raise UnsupportedAdapter(f"unexpected tensor {key}")
        module = key[len(_PREFIX) : -len(suffix)]
        pairs.setdefault(module, [None, None])[_SUFFIXES[suffix]] = tensor
    modules = dict(model.named_modules())
    alpha_pattern = config.alpha_pattern or {}  # typed Optional since peft 0.22
    loras = {}
    for name, (a, b) in pairs.items():
        layer = modules.get(name)
        if not isinstance(layer, torch.nn.Linear) or a is None or b is None:
            raise UnsupportedAdapter(f"{name} is not a linear layer of the base model")
        rank = a.shape[0]
        if a.shape != (rank, layer.in_features) or b.shape != (layer.out_features, rank):
            raise UnsupportedAdapter(f"{name}: LoRA shapes do not fit the base model")
        alpha = alpha_pattern.get(get_pattern_key(list(alpha_pattern), name), config.lora_alpha)
        scaling = alpha / math.sqrt(rank) if config.use_rslora else alpha / rank
        like = {"dtype": layer.weight.dtype, "device": layer.weight.device}
        loras[name] = Lora(a=a.T.contiguous().to(**like), b=(b.T * scaling).contiguous().to(**like))
    return loras


class LoraBank:
    """The attached adapters' tensors (by key) and the hooks that apply them to a batch's rows.

    Which adapters stay attached is the AdapterCache's decision (runtime/adapters.py). Used by
    one thread at a time (the batcher's).
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.adapters: dict[str, dict[str, Lora]] = {}
        self._hooked: set[str] = set()
        self._batch: dict[str, tuple[Any, Any]] | None = None
        # The last stacking and the row keys it was for: the running rows of a decode loop
        # stay the same for many steps, and stacking is ~10% of a 16-row step.
        self._stacked: tuple[tuple[str | None, ...], dict[str, tuple[Any, Any]]] | None = None

    def add(self, key: str, loras: dict[str, Lora]) -> None:
        """Attach `loras` (from `read_adapter` on this model) under `key`, most recent."""
        unhooked = loras.keys() - self._hooked
        if unhooked:  # the first adapter on these modules
            modules = dict(self.model.named_modules())
            for name in unhooked:
                modules[name].register_forward_hook(self._hook(name))
            self._hooked |= unhooked
        self.adapters[key] = loras
        self._stacked = None

    def remove(self, key: str) -> None:
        """Drop an adapter's tensors (its hooks stay: they cost nothing without a batch)."""
        del self.adapters[key]
        self._stacked = None

    @contextmanager
    def rows(self, keys: Sequence[str | None]) -> Iterator[None]:
        """While open, row i of the model's input gets adapter `keys[i]` (None: the base)."""
        keys = tuple(keys)
        if self._stacked is None or self._stacked[0] != keys:
            self._stacked = keys, self._stack(keys)
        self._batch = self._stacked[1]
        try:
            yield
        finally:
            self._batch = None

    def _stack(self, keys: Sequence[str | None]) -> dict[str, tuple[Any, Any]]:
        """Per hooked module, the rows' A and B matrices stacked for two batched matmuls."""
        import torch
        import torch.nn.functional as F

        loras = [self.adapters[key] if key is not None else {} for key in keys]
        batch = {}
        for name in set().union(*loras):
            layer = [lora.get(name) for lora in loras]
            rank = max(lora.a.shape[1] for lora in layer if lora is not None)
            some = next(lora for lora in layer if lora is not None)
            zero_a = some.a.new_zeros(some.a.shape[0], rank)
            zero_b = some.b.new_zeros(rank, some.b.shape[1])
            # A smaller rank is padded with zeros: the same product.
            a = [zero_a if x is None else F.pad(x.a, (0, rank - x.a.shape[1])) for x in layer]
            b = [zero_b if x is None else F.pad(x.b, (0, 0, 0, rank - x.b.shape[0])) for x in layer]
            batch[name] = (torch.stack(a), torch.stack(b))
        return batch

    def _hook(self, name: str) -> Any:
        import torch

        def add_lora(module: Any, args: tuple[Any, ...], output: Any) -> Any:
            if not self._batch or name not in self._batch:
                return None
            a, b = self._batch[name]
            x = args[0].reshape(a.shape[0], -1, a.shape[1])
            delta = torch.bmm(torch.bmm(x, a), b)
            return output + delta.reshape(output.shape)

        return add_lora
