"""A bounded, per-team fair queue in front of the model runtime.

Admission: at most `capacity` requests wait or run, and one team may hold at most
`per_team` of those places, so a flooding team gets 429s while others still get in.
Order: teams take turns (round robin), so a long queue of one team does not delay the rest.
"""

import statistics
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from time import monotonic
from typing import Any


class QueueFull(Exception):
    def __init__(self, detail: str, retry_after_s: int) -> None:
        super().__init__(detail)
        self.detail = detail
        self.retry_after_s = retry_after_s


@dataclass(eq=False)
class _Ticket:
    team: int
    fn: Callable[[], Any]
    future: Future[Any] = field(default_factory=Future)


class FairScheduler:
    def __init__(self, *, capacity: int, per_team: int, concurrency: int = 1) -> None:
        self.capacity = capacity
        self.per_team = max(1, per_team)
        self._queues: OrderedDict[int, deque[_Ticket]] = OrderedDict()
        self._held: dict[int, int] = {}
        self._running = 0
        self._lock = threading.Condition()
        self._recent_s: deque[float] = deque(maxlen=20)
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"generate-{i}", daemon=True)
            for i in range(concurrency)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def depth(self) -> int:
        """Requests waiting (not yet running)."""
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def _retry_after(self) -> int:
        typical = statistics.median(self._recent_s) if self._recent_s else 1.0
        waiting = sum(len(q) for q in self._queues.values()) + self._running
        return max(1, round(typical * waiting / len(self._threads)))

    def run(self, team: int, fn: Callable[[], Any], *, timeout_s: float) -> Any:
        """Run `fn` on a generate thread when the team's turn comes.

        Raises QueueFull at once when there is no room, TimeoutError after `timeout_s`.
        """
        with self._lock:
            held = self._held.get(team, 0)
            if sum(self._held.values()) >= self.capacity:
                raise QueueFull(
                    "The server is busy: the request queue is full.", self._retry_after()
                )
            if held >= self.per_team:
                raise QueueFull(
                    f"Your team has {held} requests waiting or running, the most one team may "
                    "have at once.",
                    self._retry_after(),
                )
            ticket = _Ticket(team, fn)
            self._held[team] = held + 1
            self._queues.setdefault(team, deque()).append(ticket)
            self._lock.notify()
        try:
            return ticket.future.result(timeout=timeout_s)
        except FutureTimeout:
            # Not started yet: it never will. Started: its result is dropped.
            ticket.future.cancel()
            raise TimeoutError from None
        finally:
            with self._lock:
                self._held[team] -= 1
                if not self._held[team]:
                    del self._held[team]

    def _next(self) -> _Ticket | None:
        for team in list(self._queues):
            queue = self._queues.pop(team)
            ticket = queue.popleft()
            if queue:
                self._queues[team] = queue  # to the back of the line: other teams go first
            if ticket.future.set_running_or_notify_cancel():
                return ticket
        return None

    def _work(self) -> None:
        while True:
            with self._lock:
                ticket = self._next()
                while ticket is None:
                    if self._closed:
                        return
                    self._lock.wait()
                    ticket = self._next()
                self._running += 1
            start = monotonic()
            try:
                ticket.future.set_result(ticket.fn())
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request
                ticket.future.set_exception(exc)
            finally:
                with self._lock:
                    self._running -= 1
                    self._recent_s.append(monotonic() - start)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
