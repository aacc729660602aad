"""Compiling schemas into grammars: once per (schema fingerprint, backend), kept in a bounded LRU.

A *compiled grammar* is what a backend builds from one JSON Schema for one tokenizer
(outlines_core: an `Index`; xgrammar: a `CompiledGrammar`; llguidance: a validated grammar and a
template `LLMatcher`). Each generated row gets a fresh, cheap row matcher from it.

Compilation runs in a daemon thread per (schema, backend); the caller waits at most `timeout_s`
and then gets `GrammarTimeout`. Python cannot stop a thread, so the compile goes on in the
background (all three libraries release the GIL while compiling): when it ends, its result (or
error) lands in the cache, and requests arriving meanwhile wait on the same in-flight compile
instead of starting another. outlines_core, whose index can grow without bound (13 GB seen on a
SchemaStore schema), compiles in a child process killed at a time and memory limit.
A daemon thread never blocks process exit. Hostile-schema limits (size, depth) belong to the
registry, which refuses them before this.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from runtime.grammar import BACKENDS
from runtime.grammar.base import GrammarBackend, GrammarCompileError, GrammarTimeout, RowMatcher

# From bench/backends.py (real model, 2 CPU cores): per-token grammar cost is 3-25 us for all
# three, lost in a ~40 ms decode step, so compile time and coverage decide. llguidance compiles
# the dataset schemas in ~0.5 ms and refuses keywords it cannot enforce (so we fall back rather
# than silently ignore them); xgrammar takes 3-12 ms and accepts the most; outlines_core takes
# 55-160 ms (seconds for if/then) and enforces least, so it comes last.
DEFAULT_BACKEND_ORDER: tuple[str, ...] = ("llguidance", "xgrammar", "outlines_core")
DEFAULT_COMPILE_TIMEOUT_S = 10.0
DEFAULT_CACHE_SIZE = 256


def schema_key(schema: dict[str, Any]) -> str:
    """A key for schemas that arrive without one, in their own key order: a grammar emits
    properties in that order, so two orders are two grammars."""
    text = json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class CompiledGrammar:
    """One schema compiled by one backend for one tokenizer; `matcher()` starts a row."""

    backend: str
    schema_fingerprint: str
    compile_ms: float
    new_matcher: Callable[[], RowMatcher] = field(repr=False)

    def matcher(self) -> RowMatcher:
        return self.new_matcher()


class GrammarCompiler:
    """Compiles schemas with a timeout, caches them (bounded LRU) and falls back across backends.

    Thread-safe: `get`, `compile` and `warm` may be called from any thread.
    """

    def __init__(
        self,
        tokenizer: Any,
        *,
        backends: Sequence[str] = DEFAULT_BACKEND_ORDER,
        timeout_s: float = DEFAULT_COMPILE_TIMEOUT_S,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        unknown = [b for b in backends if b not in BACKENDS]
        if unknown or not backends:
            raise ValueError(f"unknown grammar backends {unknown}; choose from {tuple(BACKENDS)}")
        self.tokenizer = tokenizer
        self.backends = tuple(backends)
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._backend_objs: dict[str, GrammarBackend] = {}
        # key -> Future[CompiledGrammar]; finished futures hold a grammar or a GrammarCompileError
        self._cache: OrderedDict[tuple[str, str], Future[CompiledGrammar]] = OrderedDict()

    def _backend(self, name: str) -> GrammarBackend:
        with self._lock:
            obj = self._backend_objs.get(name)
        if obj is None:
            obj = BACKENDS[name](self.tokenizer)
            with self._lock:
                obj = self._backend_objs.setdefault(name, obj)
        return obj

    def prepare(self) -> None:
        """Build every backend's tokenizer tables now (~0.5 s in all) rather than at first use."""
        for name in self.backends:
            self._backend(name)

    def _future(self, schema_json: str, fingerprint: str, backend: str) -> Future[CompiledGrammar]:
        key = (fingerprint, backend)
        with self._lock:
            fut = self._cache.get(key)
            if fut is not None:
                self._cache.move_to_end(key)
                return fut
        # Backend setup depends on the tokenizer only, not on the schema: done before the timed
        # compile so the timeout measures the schema alone.
        compiler = self._backend(backend)
        with self._lock:
            fut = self._cache.get(key)
            if fut is not None:
                return fut
            fut = Future()
            self._cache[key] = fut
            self._evict()

        def run() -> None:
            start = time.perf_counter()
            try:
                new_matcher = compiler.compile(schema_json)
            except GrammarCompileError as exc:
                fut.set_exception(exc)
            except Exception as exc:  # noqa: BLE001 - a library crash is a compile failure
                fut.set_exception(GrammarCompileError(f"{backend}: {type(exc).__name__}: {exc}"))
            else:
                ms = (time.perf_counter() - start) * 1000
                fut.set_result(CompiledGrammar(backend, fingerprint, ms, new_matcher))

        threading.Thread(target=run, name=f"grammar-{backend}", daemon=True).start()
        return fut

    def _evict(self) -> None:
        # Evict finished entries only: dropping an in-flight one would start a duplicate compile.
        while len(self._cache) > self.cache_size:
            for key, fut in self._cache.items():
                if fut.done():
                    del self._cache[key]
                    break
            else:
                return

    def compile(
        self,
        schema: dict[str, Any],
        *,
        backend: str,
        schema_fingerprint: str | None = None,
        timeout_s: float | None = None,
    ) -> CompiledGrammar:
        """One backend, cached; raises GrammarCompileError or GrammarTimeout."""
        if backend not in BACKENDS:
            raise ValueError(f"unknown grammar backend {backend!r}")
        fingerprint = schema_fingerprint or schema_key(schema)
        schema_json = json.dumps(schema, ensure_ascii=False)
        fut = self._future(schema_json, fingerprint, backend)
        timeout = self.timeout_s if timeout_s is None else timeout_s
        try:
            return fut.result(timeout=timeout)
        except FutureTimeout:
            raise GrammarTimeout(
                f"{backend}: compiling the schema took longer than {timeout:g} s",
                attempts=[{"backend": backend, "error": "timeout"}],
            ) from None

    def get(
        self,
        schema: dict[str, Any],
        *,
        schema_fingerprint: str | None = None,
        timeout_s: float | None = None,
        backends: Sequence[str] | None = None,
    ) -> CompiledGrammar:
        """The first backend in order that compiles the schema (each gets `timeout_s`)."""
        attempts: list[dict[str, str]] = []
        timeouts = 0
        for backend in backends or self.backends:
            try:
                return self.compile(
                    schema,
                    backend=backend,
                    schema_fingerprint=schema_fingerprint,
                    timeout_s=timeout_s,
                )
            except GrammarTimeout as exc:
                timeouts += 1
                attempts.append({"backend": backend, "error": exc.detail})
            except GrammarCompileError as exc:
                attempts.append({"backend": backend, "error": exc.detail})
        detail = "no grammar backend could compile the schema: " + "; ".join(
            a["error"] for a in attempts
        )
        cls = GrammarTimeout if timeouts == len(attempts) else GrammarCompileError
        raise cls(detail, attempts=attempts)

    def warm(
        self, schema: dict[str, Any], *, schema_fingerprint: str | None = None
    ) -> Future[CompiledGrammar]:
        """Start compiling in the background (for registration); never blocks, never raises.

        Compiles with the first backend; a failure there is found again (and fallen back from)
        by the first request, at no cost since the failure is cached.
        """
        fingerprint = schema_fingerprint or schema_key(schema)
        return self._future(json.dumps(schema, ensure_ascii=False), fingerprint, self.backends[0])

    def cached(self) -> list[tuple[str, str, str]]:
        """(fingerprint, backend, state) for every cache entry — for diagnostics and tests."""
        with self._lock:
            items = list(self._cache.items())
        out = []
        for (fp, backend), fut in items:
            state = "compiling" if not fut.done() else ("error" if fut.exception() else "ok")
            out.append((fp, backend, state))
        return out
