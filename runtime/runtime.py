"""The model runtime: one base model, prompts, decoding, full validation. No HTTP, no database.

Threading: `generate` may be called from any thread (the HTTP layer's pool). Grammar compiles run
in the calling thread, so a slow compile never holds up other requests; the model itself is
used by one thread, the batcher's, which decodes the rows of concurrent requests — base model
or any attached adapters (adapters.py, lora.py), each row with its own grammar — as one batch
(see batcher.py). Queueing and admission are the caller's (scheduler.FairScheduler). What
happens is reported to `events` (events.py).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from runtime.adapters import AdapterCache
from runtime.continuous import ContinuousBatcher, Pending
from runtime.decode import Generation, Row, RowWatch
from runtime.events import RuntimeEvents
from runtime.grammar import GrammarCompileError
from runtime.grammar.compiler import (
    DEFAULT_BACKEND_ORDER,
    DEFAULT_CACHE_SIZE,
    DEFAULT_COMPILE_TIMEOUT_S,
    CompiledGrammar,
    GrammarCompiler,
    schema_key,
)
from runtime.quant import quantize_model
from training.spans import input_text, restrict_to_spans, strays
from training.threads import in_own_thread

if TYPE_CHECKING:
    from schemas.errors import Issue
    from training.prompts import Conversation

log = logging.getLogger(__name__)

# A schema longer than this (SchemaStore files run to 10k tokens) stays out of the base
# model's prompt: it would crowd a small model's context and make every prefill slow. The
# grammar still enforces it; its title and description stand in for the task.
PROMPT_SCHEMA_TOKENS = 1500

OFF_SPAN = "the adapter copies this field from the input, and this text is not in it"

Mode = Literal["auto", "constrained", "unconstrained"]
MODES: tuple[str, ...] = ("auto", "constrained", "unconstrained")


class RuntimeNotReady(RuntimeError):
    """The base model is still loading (or failed to load: see `ModelRuntime.error`)."""


@dataclass
class GenerateRequest:
    schema: dict[str, Any]
    input: str | Conversation  # one text, or user/assistant turns (training.prompts)
    schema_fingerprint: str | None = None
    description: str | None = None
    instructions: str | None = None
    # Few-shot (input, output) pairs; used only when no adapter serves the request.
    examples: list[tuple[str, Any]] = field(default_factory=list)
    mode: Mode = "auto"
    max_tokens: int = 256
    temperature: float = 0.0
    seed: int | None = None
    # Sees the text of every attempt as it is decoded, and can stop it (runtime.decode).
    watch: RowWatch | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must not be negative")


@dataclass
class Attempt:
    decoding: str  # "unconstrained" | "constrained:<backend>" | "constrained" (compile failed)
    valid: bool
    errors: list[Issue]
    finish_reason: str | None = None  # "stop" | "length" | None when nothing was generated


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    forced_tokens: int = 0  # of the completion tokens: forced by the grammar, fed ahead


@dataclass
class GenerateResult:
    output: Any  # the parsed JSON, or None when the text is not JSON
    raw: str
    valid: bool
    errors: list[Issue]
    decoding: str
    attempts: list[Attempt]
    usage: Usage
    latency_ms: float
    finish_reason: str | None = None
    first_token_ms: float | None = None  # of the answer returned (its attempt), from the start


class ModelRuntime:
    """Holds one base model + tokenizer and answers `GenerateRequest`s."""

    def __init__(
        self,
        *,
        model_spec: str | None = None,
        cache_dir: Path = Path("var/models"),
        model_path: Path | None = None,
        device: str | None = None,
        backends: Sequence[str] = DEFAULT_BACKEND_ORDER,
        compile_timeout_s: float = DEFAULT_COMPILE_TIMEOUT_S,
        grammar_cache_size: int = DEFAULT_CACHE_SIZE,
        max_loaded_adapters: int = 8,
        max_batch_size: int = 8,
        weights: str = "dense",
        events: RuntimeEvents | None = None,
    ) -> None:
        # model_path (an already resolved dir) wins over model_spec (FORMWRIGHT_BASE_MODEL).
        self.model_spec = model_spec
        self.cache_dir = Path(cache_dir)
        self.model_path: Path | None = model_path
        self.device = device
        self.weights = weights  # how the linear layers are served: runtime/quant.py
        self.backends = tuple(backends)
        self.compile_timeout_s = compile_timeout_s
        self.grammar_cache_size = grammar_cache_size
        self.model: Any = None
        self.tokenizer: Any = None
        self.grammars: GrammarCompiler | None = None
        self.model_fingerprint: str | None = None
        self.error: str | None = None
        self._ready = threading.Event()
        self._load_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.max_loaded_adapters = max(1, max_loaded_adapters)
        self.events = events or RuntimeEvents()
        self.adapters: AdapterCache | None = None  # created with the model
        self._max_batch_size = max(1, max_batch_size)
        self.batcher: ContinuousBatcher | None = None  # created with the model
        # Schemas registered while the model loads: compiled as soon as it is ready.
        self._pending_warm: dict[str, dict[str, Any]] = {}
        self._schema_tokens: dict[str, int] = {}  # by fingerprint, for the prompt rule
        self._copied: dict[str, dict[str, int]] = {}  # by adapter path: _copied_fields

    # ---------------------------------------------------------------- lifecycle

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    @property
    def max_batch_size(self) -> int:
        """Rows decoded together: how many concurrent requests keep the model busiest."""
        return self._max_batch_size

    def start(self) -> None:
        """Load the model in a background thread; returns at once (/healthz stays instant)."""
        if self._thread is not None or self.ready:
            return
        self._thread = threading.Thread(target=self._load_logged, name="model-load", daemon=True)
        self._thread.start()

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until loaded (True), failed or timed out (False)."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.ready

    def _load_logged(self) -> None:
        try:
            self.load()
        except Exception as exc:  # noqa: BLE001 - reported through .error and /readyz
            log.exception("loading the base model failed")
            self.error = f"{type(exc).__name__}: {exc}"

    def load(self) -> None:
        """Load synchronously (idempotent): resolve, load, fingerprint, set up grammars. The
        torch work runs in a thread of its own (training/threads.py): the calling thread keeps
        no OpenMP workers that would slow the decode thread."""
        with self._load_lock:
            if not self.ready:
                in_own_thread(self._load)

    def _load(self) -> None:
        from training.modeling import load_model, model_fingerprint, resolve_base_model

        self.error = None
        t0 = time.perf_counter()
        if self.model_path is None:
            self.model_path = resolve_base_model(self.model_spec, cache_dir=self.cache_dir)
        model, tokenizer = load_model(self.model_path, device=self.device)
        quantize_model(model, self.weights)
        self.model_fingerprint = model_fingerprint(self.model_path)
        self.model, self.tokenizer = model, tokenizer
        self.adapters = AdapterCache(
            model,
            capacity=self.max_loaded_adapters,
            model_fingerprint=self.model_fingerprint,
            events=self.events,
        )
        self.batcher = ContinuousBatcher(
            model,
            tokenizer,
            adapters=self.adapters,
            max_batch_size=self._max_batch_size,
            events=self.events,
        )
        self.grammars = GrammarCompiler(
            tokenizer,
            backends=self.backends,
            timeout_s=self.compile_timeout_s,
            cache_size=self.grammar_cache_size,
        )
        self.grammars.prepare()
        self._ready.set()
        with self._pending_lock:
            pending, self._pending_warm = self._pending_warm, {}
        for fingerprint, schema in pending.items():
            self.grammars.warm(schema, schema_fingerprint=fingerprint)
        log.info("base model %s loaded in %.1f s", self.model_path, time.perf_counter() - t0)

    def _require_ready(self) -> None:
        if not self.ready:
            raise RuntimeNotReady(self.error or "the base model is still loading")

    # ---------------------------------------------------------------- helpers

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` by the base model's tokenizer (for input limits before model work)."""
        self._require_ready()
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_schema(self, req: GenerateRequest) -> tuple[dict[str, Any] | None, str | None]:
        """The schema and task description a base-model prompt shows (PROMPT_SCHEMA_TOKENS)."""
        from training.prompts import compact_json

        key = req.schema_fingerprint or schema_key(req.schema)
        tokens = self._schema_tokens.get(key)
        if tokens is None:
            tokens = self.count_tokens(compact_json(req.schema))
            if len(self._schema_tokens) >= self.grammar_cache_size:
                self._schema_tokens.clear()
            self._schema_tokens[key] = tokens
        if tokens <= PROMPT_SCHEMA_TOKENS:
            return req.schema, req.description
        about = " ".join(str(req.schema.get(k) or "") for k in ("title", "description"))
        return None, req.description or about.strip() or None

    def warm(self, schema: dict[str, Any], *, schema_fingerprint: str | None = None) -> None:
        """Precompile a schema's grammar in the background; never blocks, never raises.

        Before the model is loaded the schema is remembered (bounded) and compiled right after.
        """
        if self.grammars is not None and self.ready:
            self.grammars.warm(schema, schema_fingerprint=schema_fingerprint)
            return
        fingerprint = schema_fingerprint or schema_key(schema)
        with self._pending_lock:
            if len(self._pending_warm) < self.grammar_cache_size:
                self._pending_warm[fingerprint] = schema
        if self.ready and self.grammars is not None:  # loaded meanwhile, maybe after the flush
            with self._pending_lock:
                self._pending_warm.pop(fingerprint, None)
            self.grammars.warm(schema, schema_fingerprint=fingerprint)

    def grammar(
        self, schema: dict[str, Any], *, schema_fingerprint: str | None = None
    ) -> CompiledGrammar:
        """The cached compiled grammar (first backend that compiles it); may raise
        GrammarCompileError / GrammarTimeout."""
        self._require_ready()
        assert self.grammars is not None
        return self.grammars.get(schema, schema_fingerprint=schema_fingerprint)

    # ---------------------------------------------------------------- generate

    def generate(self, req: GenerateRequest, adapter: str | None = None) -> GenerateResult:
        """Answer one request; every output is validated in full against `req.schema`.

        `auto`: with an adapter, the adapter's unconstrained answer first and constrained
        decoding only when that does not validate; without one, constrained; if no backend
        can compile the schema, `auto` falls back to unconstrained decoding and says so in
        `attempts`. `constrained`: constrained only, raising GrammarCompileError/GrammarTimeout
        when the schema cannot be compiled. `unconstrained`: free generation. An invalid output
        is returned (valid=False, errors), never raised: the HTTP layer decides (422
        unconformant_output).
        """
        self._require_ready()
        return self._generate(req, adapter)

    def _generate(self, req: GenerateRequest, adapter: str | None) -> GenerateResult:
        start = time.perf_counter()
        from training.prompts import build_messages, render_prompt

        # An adapter gets the prompt it was trained on: no schema, no few-shot examples.
        shown, description = self.prompt_schema(req) if adapter is None else (None, req.description)
        messages = build_messages(
            schema=shown,
            description=description,
            instructions=req.instructions,
            examples=req.examples if adapter is None else [],
            input=req.input,
        )
        prompt = render_prompt(self.tokenizer, messages)
        # Everything before the request's own text (system, few-shot turns) is shared.
        shared = max(prompt.rfind(messages[-1]["content"]), 0)
        attempts: list[Attempt] = []
        usage = Usage()
        gen: Generation | None = None
        decoding = "unconstrained"

        # Fields the adapter learned to copy from its input, held to the input's spans.
        copied = self._copied_fields(adapter) if adapter is not None else {}
        text = input_text(req.input) if copied else ""
        restricted = None  # the schema with those fields held, once worked out
        if adapter is not None and req.mode == "auto":
            # The adapter's own answer first; constrained decoding only when it does not
            # conform, or writes a copied field with text that is not in the input.
            first = self._run(prompt, shared, req, None, adapter)
            usage.prompt_tokens += first.prompt_tokens
            usage.completion_tokens += first.completion_tokens
            output, errors = validate_text(
                req.schema, first.text, finish_reason=first.finish_reason
            )
            attempts.append(Attempt("unconstrained", not errors, errors, first.finish_reason))
            off: list[str] = []
            if copied and not errors:
                off, restricted = strays(req.schema, output, text, copied)
            attempts[-1].errors += [_issue(OFF_SPAN, "copied", pointer) for pointer in off]
            if not errors and not off:
                return GenerateResult(
                    output=output,
                    raw=first.text,
                    valid=True,
                    errors=[],
                    decoding="unconstrained",
                    attempts=attempts,
                    usage=usage,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    finish_reason=first.finish_reason,
                    first_token_ms=_since(start, first.first_token_at),
                )
        if req.mode in ("auto", "constrained"):
            try:
                if copied and restricted is None:
                    restricted = restrict_to_spans(req.schema, text, copied)[0]
                if restricted is None:
                    grammar = self.grammar(req.schema, schema_fingerprint=req.schema_fingerprint)
                else:  # keyed by its content: the spans differ per input
                    grammar = self.grammar(restricted)
            except GrammarCompileError as exc:
                if req.mode == "constrained":
                    raise
                attempts.append(
                    Attempt("constrained", False, [_issue(f"no grammar: {exc.detail}", "grammar")])
                )
            else:
                decoding = f"constrained:{grammar.backend}"
                gen = self._run(prompt, shared, req, grammar, adapter)
        if gen is None:
            decoding = "unconstrained"
            gen = self._run(prompt, shared, req, None, adapter)

        usage.prompt_tokens += gen.prompt_tokens
        usage.completion_tokens += gen.completion_tokens
        usage.forced_tokens += gen.forced_tokens
        output, errors = validate_text(req.schema, gen.text, finish_reason=gen.finish_reason)
        attempts.append(Attempt(decoding, not errors, errors, gen.finish_reason))
        return GenerateResult(
            output=output,
            raw=gen.text,
            valid=not errors,
            errors=errors,
            decoding=decoding,
            attempts=attempts,
            usage=usage,
            latency_ms=(time.perf_counter() - start) * 1000,
            finish_reason=gen.finish_reason,
            first_token_ms=_since(start, gen.first_token_at),
        )

    def _copied_fields(self, adapter: str) -> dict[str, int]:
        """The adapter manifest's `copied_fields` (adapter files never change in place)."""
        if adapter not in self._copied:
            from training.finetune import copied_fields_of

            self._copied[adapter] = copied_fields_of(Path(adapter))
        return self._copied[adapter]

    def _run(
        self,
        prompt: str,
        shared: int,
        req: GenerateRequest,
        grammar: CompiledGrammar | None,
        adapter: str | None = None,
    ) -> Generation:
        """Decode one row in the running batch (continuous.py)."""
        assert self.batcher is not None
        row = Row(prompt, grammar, req.max_tokens, req.watch, prefix=shared)
        return self.batcher.submit(Pending(row, adapter, req.temperature, req.seed))

    @property
    def loaded_adapters(self) -> list[str]:
        """The attached adapters' paths, least recently used first."""
        return self.adapters.paths if self.adapters else []


def _since(start: float, moment: float | None) -> float | None:
    return None if moment is None else (moment - start) * 1000


def _issue(message: str, keyword: str | None = None, path: str = "") -> Issue:
    from schemas.errors import Issue

    return Issue(path=path, message=message, keyword=keyword)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def validate_text(
    schema: dict[str, Any], text: str, *, finish_reason: str | None = None
) -> tuple[Any, list[Issue]]:
    """Parse strict JSON (no NaN/Infinity) and validate it in full against `schema`."""
    from schemas.validation import validate_instance

    try:
        instance = json.loads(text, parse_constant=_reject_constant)
    except ValueError as exc:
        why = f"the output is not JSON ({exc})"
        if finish_reason == "length":
            why += "; max_tokens ran out before the JSON was complete"
        return None, [_issue(why, "json")]
    return instance, list(validate_instance(schema, instance))
