"""Torch work in a thread of its own, so that its OpenMP workers end with it.

libgomp (torch's OpenMP on Linux) gives every thread that runs a parallel op a team of
workers, kept until that thread ends. While the process holds more such workers than it has
CPUs, libgomp all but stops spinning between parallel regions (`gomp_throttled_spin_count_var`:
100 spins against ~300,000; 1,000 at most, whatever OMP_WAIT_POLICY or GOMP_SPINCOUNT say):
every parallel op in every thread then waits for its workers through a futex, which on 2 cores
made the decode thread's steps ~20-30% longer and a training step up to 1.6x. So a process
runs its model work in the decode thread (runtime/continuous.py, which ends when idle) and
anything else that runs torch — loading a model, training — in a thread that ends when that
work does: `in_own_thread`, or `@own_thread` on a function.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


def in_own_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """`fn(*args, **kwargs)` run in a new thread; blocks until it returns, then returns what
    it returned or raises what it raised."""
    result: list[Any] = []

    def run() -> None:
        try:
            result.append((True, fn(*args, **kwargs)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            result.append((False, exc))

    # A daemon: a worker told to stop at once does not wait for the work to end.
    thread = threading.Thread(target=run, name=getattr(fn, "__name__", "torch-work"), daemon=True)
    thread.start()
    thread.join()
    ok, value = result[0]
    if not ok:
        raise value
    return value


def own_thread(fn: Callable[P, T]) -> Callable[P, T]:
    """`fn`, each call run by `in_own_thread`."""

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return in_own_thread(fn, *args, **kwargs)

    return run
