"""Grammar-constrained decoding over a transformers model, with Outlines' three backends.

Design
- A *compiled grammar* is what a backend builds from one JSON Schema for one tokenizer
  (outlines_core: an `Index`; xgrammar: a `CompiledGrammar`; llguidance: a validated grammar and
  a template `LLMatcher`). It is compiled once per (schema fingerprint, backend) and kept in a
  bounded LRU. Each generated row gets a fresh, cheap *row matcher* from it.
- Generation runs through `model.generate(..., logits_processor=[GrammarLogitsProcessor])`.
  The processor holds one matcher per batch row (or None for a free row) and one shared int32
  bitmask (all three libraries fill the same 32-tokens-per-word layout), so rows with different
  schemas, backends or none at all can share one batch; see `GrammarLogitsProcessor`.
  We drive the libraries' matchers directly (reusing Outlines' vocabulary conversion) rather
  than Outlines' backend logits processors: each of those holds one grammar for the whole batch,
  and the llguidance one rebuilds its matcher from the grammar text on every request.
- All grammars spell JSON compactly (no whitespace, "," and ":"), the spelling of
  `training.prompts.compact_json`, so adapters and constrained decoding write the same text, and
  a random or confused model cannot spend its budget on whitespace.
- Compilation runs in a daemon thread per (schema, backend); the caller waits at most
  `timeout_s` and then gets `GrammarTimeout`. Python cannot stop a thread, so the compile goes
  on in the background (all three libraries release the GIL while compiling): when it ends,
  its result (or error) lands in the cache, and requests arriving meanwhile wait on the same
  in-flight compile instead of starting another. A daemon thread never blocks process exit.
  Hostile-schema limits (size, depth) belong to the registry, which refuses them before this.
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
from typing import Any, Protocol

BACKENDS = ("outlines_core", "llguidance", "xgrammar")
# From bench/backends.py (real model, 2 CPU cores): per-token grammar cost is 3-25 us for all
# three, lost in a ~40 ms decode step, so compile time and coverage decide. llguidance compiles
# the dataset schemas in ~0.5 ms and refuses keywords it cannot enforce (so we fall back rather
# than silently ignore them); xgrammar takes 3-12 ms and accepts the most; outlines_core takes
# 55-160 ms (seconds for if/then) and enforces least, so it comes last.
DEFAULT_BACKEND_ORDER: tuple[str, ...] = ("llguidance", "xgrammar", "outlines_core")
DEFAULT_COMPILE_TIMEOUT_S = 10.0
DEFAULT_CACHE_SIZE = 256


class GrammarCompileError(Exception):
    """No backend could compile a schema; `attempts` says what each one answered."""

    def __init__(self, detail: str, *, attempts: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.attempts = attempts or []


class GrammarTimeout(GrammarCompileError):
    """A compile took longer than its timeout; it was abandoned (it may finish in background)."""


def schema_key(schema: dict[str, Any]) -> str:
    """A fingerprint for schemas that arrive without the registry's one."""
    canonical = json.dumps(schema, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- row matchers


class RowMatcher(Protocol):
    """The grammar state of one generated row."""

    def fill(self, bitmask: Any, row: int) -> None:
        """Write the allowed next tokens into `bitmask[row]` (CPU int32, 32 tokens a word)."""

    def advance(self, token_id: int) -> bool:
        """Consume a sampled token; False if the grammar rejects it."""

    def is_terminated(self) -> bool:
        """The grammar has accepted its stop token; nothing more may be consumed."""


class _OutlinesCoreMatcher:
    def __init__(self, guide: Any, eos_token_id: int) -> None:
        self.guide = guide
        self.eos = eos_token_id
        self.done = False

    def fill(self, bitmask: Any, row: int) -> None:
        v = bitmask[row : row + 1]
        self.guide.write_mask_into(v.data_ptr(), v.numel(), v.element_size())

    def advance(self, token_id: int) -> bool:
        if token_id == self.eos and self.guide.is_finished():
            self.done = True
            return True
        if not self.guide.accepts_tokens([token_id]):
            return False
        self.guide.advance(token_id=token_id, return_tokens=False)
        return True

    def is_terminated(self) -> bool:
        return self.done


class _XGrammarMatcher:
    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher

    def fill(self, bitmask: Any, row: int) -> None:
        self.matcher.fill_next_token_bitmask(bitmask, row)

    def advance(self, token_id: int) -> bool:
        return bool(self.matcher.accept_token(token_id))

    def is_terminated(self) -> bool:
        return bool(self.matcher.is_terminated())


class _LLGuidanceMatcher:
    def __init__(self, matcher: Any) -> None:
        self.matcher = matcher

    def fill(self, bitmask: Any, row: int) -> None:
        v = bitmask[row]
        self.matcher.unsafe_compute_mask_ptr(v.data_ptr(), v.numel() * v.element_size())

    def advance(self, token_id: int) -> bool:
        return bool(self.matcher.consume_token(token_id)) and not self.matcher.is_error()

    def is_terminated(self) -> bool:
        return bool(self.matcher.is_stopped())


# --------------------------------------------------------------------------- backends


class _Backend:
    """Tokenizer-bound state of one library, built once (0.1-0.3 s), then compiles schemas."""

    name = ""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.eos_token_id = int(tokenizer.eos_token_id)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        raise NotImplementedError


class _OutlinesCoreBackend(_Backend):
    name = "outlines_core"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        from outlines.backends.outlines_core import OutlinesCoreBackend

        # Outlines' own vocabulary conversion: it knows how byte-level BPE tokens map to text.
        self.vocabulary = OutlinesCoreBackend.create_outlines_core_vocabulary(
            tokenizer.get_vocab(),
            self.eos_token_id,
            tokenizer.eos_token,
            lambda token: tokenizer.convert_tokens_to_string([token]),
        )

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        from outlines_core import Guide, Index
        from outlines_core.json_schema import build_regex_from_schema

        try:
            # "" = no whitespace between JSON tokens (None would allow optional spaces).
            regex = build_regex_from_schema(schema_json, "")
            index = Index(regex, self.vocabulary)
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarCompileError(f"outlines_core: {exc}") from exc
        eos = self.eos_token_id
        return lambda: _OutlinesCoreMatcher(Guide(index), eos)


class _XGrammarBackend(_Backend):
    name = "xgrammar"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        import xgrammar as xgr

        info = xgr.TokenizerInfo.from_huggingface(tokenizer, vocab_size=len(tokenizer))
        # Our own LRU caches compiled grammars; xgrammar's cache would hold them twice.
        self.compiler = xgr.GrammarCompiler(info, cache_enabled=False)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        import xgrammar as xgr

        try:
            compiled = self.compiler.compile_json_schema(
                schema_json, any_whitespace=False, separators=(",", ":"), strict_mode=True
            )
        except (ValueError, RuntimeError, TypeError) as exc:
            raise GrammarCompileError(f"xgrammar: {exc}") from exc
        return lambda: _XGrammarMatcher(xgr.GrammarMatcher(compiled))


class _LLGuidanceBackend(_Backend):
    name = "llguidance"

    def __init__(self, tokenizer: Any) -> None:
        super().__init__(tokenizer)
        import llguidance.hf

        self.llg_tokenizer = llguidance.hf.from_tokenizer(tokenizer)

    def compile(self, schema_json: str) -> Callable[[], RowMatcher]:
        from llguidance import LLMatcher

        try:
            strict = json.dumps(strict_objects(json.loads(schema_json)), ensure_ascii=False)
            # overrides, not defaults: a schema's own "x-guidance" must not loosen the spelling.
            grammar = LLMatcher.grammar_from_json_schema(
                strict, overrides={"whitespace_flexible": False, "lenient": False}
            )
        except ValueError as exc:
            raise GrammarCompileError(f"llguidance: {exc}") from exc
        template = LLMatcher(self.llg_tokenizer, grammar, log_level=0)
        if template.is_error():
            raise GrammarCompileError(f"llguidance: {template.get_error()}")
        # The first mask builds the lexer, which is most of llguidance's cost: pay it here.
        import torch

        mask = torch.empty((1, (self.llg_tokenizer.vocab_size + 31) // 32), dtype=torch.int32)
        _LLGuidanceMatcher(template).fill(mask, 0)
        if template.is_error():
            raise GrammarCompileError(f"llguidance: {template.get_error()}")
        return lambda: _LLGuidanceMatcher(template.deep_copy())


_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples", "x-guidance"})
_OPEN_OBJECT_KEYWORDS = ("additionalProperties", "unevaluatedProperties", "patternProperties")


def strict_objects(schema: Any, *, in_all_of: bool = False) -> Any:
    """The schema with `additionalProperties: false` wherever `properties` leaves it open.

    llguidance follows JSON Schema literally and lets the model invent extra keys (a random
    model never stops inventing them); xgrammar's strict mode and outlines_core never write
    them. The result is a subset of the original, so outputs still validate against it; allOf
    members are left open, since closing each of them would reject the others' keys.
    """
    if isinstance(schema, list):
        return [strict_objects(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA_KEYWORDS:
            out[key] = value
        elif key == "allOf" and isinstance(value, list):
            out[key] = [strict_objects(v, in_all_of=True) for v in value]
        elif key in ("properties", "patternProperties", "$defs", "definitions", "dependentSchemas"):
            # maps of name -> subschema: the names are not keywords
            out[key] = (
                {k: strict_objects(v) for k, v in value.items()}
                if isinstance(value, dict)
                else value
            )
        else:
            out[key] = strict_objects(value)
    if "properties" in out and not in_all_of and not any(k in out for k in _OPEN_OBJECT_KEYWORDS):
        out["additionalProperties"] = False
    return out


_BACKEND_CLASSES: dict[str, type[_Backend]] = {
    "outlines_core": _OutlinesCoreBackend,
    "xgrammar": _XGrammarBackend,
    "llguidance": _LLGuidanceBackend,
}


@dataclass(frozen=True)
class CompiledGrammar:
    """One schema compiled by one backend for one tokenizer; `matcher()` starts a row."""

    backend: str
    schema_fingerprint: str
    compile_ms: float
    new_matcher: Callable[[], RowMatcher] = field(repr=False)

    def matcher(self) -> RowMatcher:
        return self.new_matcher()


# --------------------------------------------------------------------------- compiler + cache


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
        unknown = [b for b in backends if b not in _BACKEND_CLASSES]
        if unknown or not backends:
            raise ValueError(f"unknown grammar backends {unknown}; choose from {BACKENDS}")
        self.tokenizer = tokenizer
        self.backends = tuple(backends)
        self.timeout_s = timeout_s
        self.cache_size = cache_size
        self._lock = threading.Lock()
        self._backend_objs: dict[str, _Backend] = {}
        # key -> Future[CompiledGrammar]; finished futures hold a grammar or a GrammarCompileError
        self._cache: OrderedDict[tuple[str, str], Future[CompiledGrammar]] = OrderedDict()

    def _backend(self, name: str) -> _Backend:
        with self._lock:
            obj = self._backend_objs.get(name)
        if obj is None:
            obj = _BACKEND_CLASSES[name](self.tokenizer)
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
        if backend not in _BACKEND_CLASSES:
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


# --------------------------------------------------------------------------- logits processor


class GrammarLogitsProcessor:
    """A transformers logits processor with one grammar (or none) per batch row.

    Rows may use different schemas and backends: each matcher fills its own row of a shared
    int32 bitmask, then one vectorized op masks the whole batch. A row whose matcher is None is
    free; a row that has stopped allows everything (generate pads it anyway).
    """

    def __init__(
        self,
        matchers: Sequence[RowMatcher | None],
        *,
        eos_token_id: int,
        vocab_size: int | None = None,
    ) -> None:
        self.matchers = list(matchers)
        self.eos_token_id = eos_token_id
        # The tokenizer's size, which the matchers' masks are laid out for; the model's logits
        # may be wider (padded embedding matrix).
        self.vocab_size = vocab_size
        self._started = False
        # Per row: "free" (no grammar or done: allow all), "active" (the matcher decides),
        # "end" (grammar complete without having seen eos, e.g. llguidance stops right after
        # the closing brace: allow eos only).
        self._state = ["free" if m is None else "active" for m in self.matchers]
        self._bitmask: Any = None
        self._shifts: Any = None

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import torch

        batch, vocab = scores.shape
        if self._bitmask is None:
            width = (self.vocab_size or vocab) + 31
            self._bitmask = torch.full((batch, width // 32), -1, dtype=torch.int32)
            self._shifts = torch.arange(32, dtype=torch.int32)
        if self._started:
            last = input_ids[:, -1].tolist()
            for row, matcher in enumerate(self.matchers):
                if matcher is None or self._state[row] == "free":
                    continue
                token = last[row]
                if (
                    self._state[row] == "end"
                    or token == self.eos_token_id
                    and (matcher.is_terminated())
                ):
                    self._state[row] = "free"  # the row has ended; generate pads it from now
                elif not matcher.advance(token):
                    # Cannot happen with a correct mask (or a row stopped at its budget and
                    # padded); end the row and let validation report a broken output rather
                    # than crash the whole batch.
                    self._state[row] = "end"
                elif token == self.eos_token_id:
                    self._state[row] = "free"
                elif matcher.is_terminated():
                    self._state[row] = "end"
        self._started = True

        bitmask = self._bitmask
        bitmask.fill_(-1)
        any_constrained = False
        force_eos = []
        for row, matcher in enumerate(self.matchers):
            if self._state[row] == "active":
                assert matcher is not None
                matcher.fill(bitmask, row)
                any_constrained = True
            elif self._state[row] == "end":
                force_eos.append(row)
                any_constrained = True
        if not any_constrained:
            return scores
        # Unpack 32 bits a word; plain tensor ops (no torch.compile, which needs a C compiler
        # on CPU) and device-agnostic. ~0.1 ms for a 49k vocabulary.
        allowed = ((bitmask.unsqueeze(-1) >> self._shifts) & 1).bool().view(batch, -1)
        allowed = allowed[:, :vocab].to(scores.device)
        if allowed.shape[1] < vocab:  # logits wider than the tokenizer: padding ids stay banned
            pad = torch.zeros((batch, vocab - allowed.shape[1]), dtype=torch.bool)
            allowed = torch.cat([allowed, pad.to(scores.device)], dim=1)
        dead = ~allowed.any(dim=1)
        for row in force_eos:
            dead[row] = True
        if bool(dead.any()):
            # A finished grammar, or a grammar error that left no token: end the row (instead
            # of sampling from NaN).
            allowed[dead] = False
            allowed[dead, self.eos_token_id] = True
        return scores.masked_fill(~allowed, float("-inf"))


# --------------------------------------------------------------------------- generation


@dataclass
class Generation:
    """Token-level result of one generated row."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (eos) | "length" (max_tokens ran out)


@dataclass
class Row:
    """One completion to decode: a chat-formatted prompt, its grammar (None = free) and budget."""

    prompt: str
    grammar: CompiledGrammar | None
    max_tokens: int


class _RowBudgets:
    """A stopping criterion that ends each row at its own max_tokens (the batch runs to the
    largest); a stopped row is padded by generate and cut back to its budget afterwards."""

    def __init__(self, prompt_width: int, budgets: Sequence[int]) -> None:
        self.prompt_width = prompt_width
        self.budgets = budgets

    def __call__(self, input_ids: Any, scores: Any, **_: Any) -> Any:
        import torch

        made = input_ids.shape[1] - self.prompt_width
        return torch.tensor([made >= b for b in self.budgets], device=input_ids.device)


def generate_batch(
    model: Any,
    tokenizer: Any,
    rows: Sequence[Row],
    *,
    temperature: float = 0.0,
    seed: int | None = None,
) -> list[Generation]:
    """Decode `rows` as one left-padded batch; greedy at temperature 0.

    Each row keeps its own grammar (one matcher a row) and budget; its adapter is the caller's
    (lora.LoraBank.rows). A row that finishes early is padded until the last one finishes
    (no continuous batching), so the batch keeps its rows in place. Greedy rows give
    the same tokens as decoded alone, up to floating-point ties.

    Not thread-safe: the caller serializes use of `model` (sampling seeds torch's global RNG).
    """
    import torch
    from transformers import GenerationConfig, LogitsProcessorList, StoppingCriteriaList

    enc = tokenizer(
        [row.prompt for row in rows],
        return_tensors="pt",
        padding=True,
        padding_side="left",
        add_special_tokens=False,
    )
    device = next(model.parameters()).device
    input_ids = enc["input_ids"].to(device)
    attention_mask = enc["attention_mask"].to(device)
    width = input_ids.shape[1]
    budgets = [row.max_tokens for row in rows]
    eos = int(tokenizer.eos_token_id)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    do_sample = temperature > 0
    config = GenerationConfig(
        max_new_tokens=max(budgets),
        do_sample=do_sample,
        temperature=temperature if do_sample else None,
        top_k=0 if do_sample else None,  # plain temperature sampling: no hidden top-k cut
        top_p=1.0 if do_sample else None,
        eos_token_id=eos,
        pad_token_id=pad,
        bos_token_id=tokenizer.bos_token_id,
    )
    processors = LogitsProcessorList()
    if any(row.grammar is not None for row in rows):
        matchers = [row.grammar.matcher() if row.grammar else None for row in rows]
        processors.append(
            GrammarLogitsProcessor(matchers, eos_token_id=eos, vocab_size=len(tokenizer))
        )
    stopping = StoppingCriteriaList()
    if len(set(budgets)) > 1:
        stopping.append(_RowBudgets(width, budgets))
    if do_sample and seed is not None:
        torch.manual_seed(seed)
    with torch.inference_mode():
        out = model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=stopping,
        )
    generations = []
    for i, budget in enumerate(budgets):
        new = out[i, width : width + budget].tolist()
        finish = "length"
        if eos in new:
            new = new[: new.index(eos) + 1]
            finish = "stop"
        generations.append(
            Generation(
                text=tokenizer.decode(new, skip_special_tokens=True),
                prompt_tokens=int(attention_mask[i].sum()),
                completion_tokens=len(new),
                finish_reason=finish,
            )
        )
    return generations


def generate(
    model: Any,
    tokenizer: Any,
    prompt: str,
    *,
    grammar: CompiledGrammar | None,
    max_tokens: int,
    temperature: float = 0.0,
    seed: int | None = None,
) -> Generation:
    """One completion for `prompt` (already chat-formatted): a batch of one."""
    (generation,) = generate_batch(
        model,
        tokenizer,
        [Row(prompt, grammar, max_tokens)],
        temperature=temperature,
        seed=seed,
    )
    return generation
