"""The adapters attached to the model: an LRU cache that verifies what it loads and evicts
what it must (as vLLM's `AdapterLRUCache`): the structure that orders the adapters also removes
them and frees their tensors."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from runtime.events import RuntimeEvents
from runtime.lora import Lora, LoraBank, UnsupportedAdapter, read_adapter


class AdapterRefused(RuntimeError):
    """An adapter that must not be served: altered files, or trained for another base model."""


class AdapterCache:
    """Adapters by path, least recently used first; at most `capacity` attached.

    Used by one thread at a time (the batcher's).
    """

    def __init__(
        self,
        model: Any,
        *,
        capacity: int,
        model_fingerprint: str | None,
        events: RuntimeEvents,
    ) -> None:
        self.bank = LoraBank(model)
        self.capacity = max(1, capacity)
        self.model_fingerprint = model_fingerprint
        self.events = events
        self._order: OrderedDict[str, None] = OrderedDict()

    @property
    def paths(self) -> list[str]:
        """The attached adapters, least recently used first."""
        return list(self._order)

    def attach(self, path: str) -> None:
        """Make the adapter at `path` ready for a batch, loading it if needed (AdapterRefused
        when it fails verification); the least recently used one makes room."""
        if path in self._order:
            self.events.adapter_hit()
            self._order.move_to_end(path)
            return
        self.events.adapter_miss()
        start = time.perf_counter()
        try:
            loras = self.verify_and_read(path)
        except AdapterRefused:
            self.events.adapter_refused()
            raise
        while len(self._order) >= self.capacity:
            oldest, _ = self._order.popitem(last=False)
            self._on_remove(oldest)
        self.bank.add(path, loras)
        self._order[path] = None
        self.events.adapter_loaded(seconds=time.perf_counter() - start, attached=len(self._order))

    def keep(self, paths: list[str]) -> None:
        """Mark attached adapters as just used (running rows need them), so that attaching
        another one evicts none of them."""
        for path in paths:
            if path in self._order:
                self._order.move_to_end(path)

    def _on_remove(self, path: str) -> None:
        self.bank.remove(path)
        self.events.adapter_evicted()

    def verify_and_read(self, path: str) -> dict[str, Lora]:
        """The adapter's LoRA tensors, once its files match its manifest and its base model;
        AdapterRefused otherwise."""
        from training.finetune import MANIFEST, verify_adapter

        problems = verify_adapter(Path(path))
        if problems:
            raise AdapterRefused(f"adapter {path} is damaged: {'; '.join(problems)}")
        manifest = json.loads((Path(path) / MANIFEST).read_text())
        if manifest.get("base_model_fingerprint") != self.model_fingerprint:
            raise AdapterRefused(f"adapter {path} was trained for another base model")
        try:
            return read_adapter(Path(path), self.bank.model)
        except UnsupportedAdapter as exc:
            raise AdapterRefused(f"adapter {path} cannot be served: {exc}") from exc
