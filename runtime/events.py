"""What the runtime reports: a listener with one method per event, each a no-op here.

The runtime imports no metrics library; the HTTP layer passes a listener that turns these calls
into Prometheus series (service/metrics/prom.py), tests may pass one that records them.
"""

from __future__ import annotations

from collections.abc import Sequence


class RuntimeEvents:
    """Called from the batcher's thread (adapters, batches) and from request threads (queue)."""

    def adapter_hit(self) -> None:
        """A row's adapter was already attached."""

    def adapter_miss(self) -> None:
        """A row's adapter had to be loaded first."""

    def adapter_refused(self) -> None:
        """An adapter failed verification (damaged, foreign base model, unsupported variant)."""

    def adapter_evicted(self) -> None:
        """The least recently used adapter was detached to make room."""

    def adapter_loaded(self, *, seconds: float, attached: int) -> None:
        """An adapter was verified, read and attached; `attached` adapters are now."""

    def batch_queue(self, *, depth: int) -> None:
        """Rows now waiting for a batch."""

    def batch_started(self, *, waits_s: Sequence[float]) -> None:
        """A batch of `len(waits_s)` rows starts; each row waited that long for it."""
