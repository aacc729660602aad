"""Gathering concurrent generations into batches for the one model of a process.

`submit` blocks its caller until its row is decoded. One daemon thread owns the model: it takes
the oldest waiting row, gathers more for up to `wait_ms` — no wait at all once every request
inside the runtime has a row waiting, so a request alone starts at once — and decodes up to
`max_batch_size` rows with one call. Rows that cannot share a batch go to the next one: a
sampled row (its seed drives torch's global RNG) runs alone, and a batch holds at most
`max_adapters` distinct adapters (so attaching one never evicts another of the same batch).
Rows arriving while a batch decodes wait for the next one (no continuous batching).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from runtime.events import RuntimeEvents

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Pending:
    """One row waiting for a batch, with the adapter (path; None = base model) it runs on."""

    row: Any
    adapter: str | None
    temperature: float
    seed: int | None
    future: Future[Any] = field(default_factory=Future)
    since: float = field(default_factory=time.monotonic)

    @property
    def sampled(self) -> bool:
        return self.temperature > 0


DecodeBatch = Callable[[list[Pending]], Sequence[Any]]


class Batcher:
    def __init__(
        self,
        decode: DecodeBatch,
        *,
        max_batch_size: int,
        wait_ms: float,
        max_adapters: int,
        callers: Callable[[], int],
        events: RuntimeEvents,
    ) -> None:
        """`decode(batch)` returns one result (or exception instance) per row, in order;
        `callers()` is how many requests could still submit a row (those inside the runtime)."""
        self.decode = decode
        self.max_batch_size = max(1, max_batch_size)
        self.wait_s = max(0.0, wait_ms) / 1000
        self.max_adapters = max(1, max_adapters)
        self.callers = callers
        self.events = events
        self._waiting: deque[Pending] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    def submit(self, pending: Pending) -> Any:
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="batcher", daemon=True)
                self._thread.start()
            self._waiting.append(pending)
            self.events.batch_queue(depth=len(self._waiting))
            self._cond.notify_all()
        return pending.future.result()

    def _take(self) -> list[Pending]:
        """The next batch, in arrival order. Under the condition."""
        first = self._waiting.popleft()
        if first.sampled or self.max_batch_size == 1:
            return [first]
        batch, skipped = [first], []
        adapters = {first.adapter} - {None}
        while self._waiting and len(batch) < self.max_batch_size:
            item = self._waiting.popleft()
            fits = item.adapter in adapters or item.adapter is None
            if item.sampled or not (fits or len(adapters) < self.max_adapters):
                skipped.append(item)
                continue
            batch.append(item)
            if item.adapter is not None:
                adapters.add(item.adapter)
        self._waiting.extendleft(reversed(skipped))
        return batch

    def _gather(self) -> list[Pending]:
        """Wait for a first row, then for company until the batch is full, everyone who
        could join has, or the first row has waited `wait_s`. Under the condition."""
        while not self._waiting:
            self._cond.wait()
        deadline = self._waiting[0].since + self.wait_s
        while (
            len(self._waiting) < self.max_batch_size
            and len(self._waiting) < self.callers()
            and not self._waiting[0].sampled
            and (remaining := deadline - time.monotonic()) > 0
        ):
            self._cond.wait(remaining)
        batch = self._take()
        self.events.batch_queue(depth=len(self._waiting))
        return batch

    def _loop(self) -> None:
        while True:
            with self._cond:
                batch = self._gather()
            now = time.monotonic()
            self.events.batch_started(waits_s=[now - item.since for item in batch])
            try:
                results = self.decode(batch)
            except BaseException as exc:  # noqa: BLE001 - every row of the batch gets it
                log.exception("decoding a batch of %d failed", len(batch))
                results = [exc] * len(batch)
            for item, result in zip(batch, results, strict=True):
                if isinstance(result, BaseException):
                    item.future.set_exception(result)
                else:
                    item.future.set_result(result)
