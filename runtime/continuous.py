"""Continuous batching: rows join and leave the running batch at every decode step.

One daemon thread owns the model. Each turn of its loop it
1. stops rows whose request gave up (their `RowWatch` was cancelled: a 504, a client gone),
   freeing their slots;
2. admits waiting rows into free slots (oldest first; at most `max_adapters` distinct adapters
   run at once, so attaching one never evicts another that a running row uses) and prefills
   them in one forward, starting from the KV of their prompt's shared prefix when the prefix
   cache has it (prefix.py);
3. runs one decode forward over every running row, each with its own adapter (the gathered
   LoRA forward, lora.py), grammar matcher and budget, and with its own number of new tokens:
   the token it chose last, then the tokens its grammar forces next (jump-ahead, below);
4. hands every finished row its result and frees its slot at once.
So a request arriving mid-batch starts at the next step, and a short answer never waits for a
long one. Rows live in the slots of a `SlotCache` (kvcache.py).

Jump-ahead. Where the grammar admits a single continuation (a key, its quotes and colon, the
rest of an enum value, the closing brace), the matcher proposes its tokens (llguidance's
fast-forward tokens, xgrammar's jump-forward string). They are fed in the same forward as the
row's last token, and each position's logits are then read as a step-by-step decode would:
a proposed token is kept while it is exactly what the row picks there (greedy or sampled, under
the grammar's mask), and the first pick that differs replaces it and ends the run. The output
is therefore the step-by-step output, in fewer forwards; the KV of rejected positions is
overwritten at the next step.

Budget. A constrained row whose budget left nears what closing its open structures needs is
closed instead of cut off (closing.py): before a token is taken, the ending from the state
after it is worked out; if that ending would no longer fit, the ending from the state before it
is written instead and the row finishes ("length", but valid). This starts once the budget
left is within MAX_CLOSING tokens, and runs more often as the budget left nears the last
ending found (CLOSE_WATCH): a token that opens an object with many required keys can lengthen
the ending by dozens of tokens at once. A search that finds none is tried again CLOSE_WATCH
tokens later (a pattern the walk cannot satisfy may be satisfied by what the model writes).

Token choice follows `model.generate` with the old GrammarLogitsProcessor exactly: greedy is
the first maximum of the masked logits; sampling divides by the temperature and draws with the
row's own generator (seeded from the request), so a seeded row answers the same in any batch.
"""

from __future__ import annotations

import atexit
import inspect
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from runtime.adapters import AdapterCache, AdapterRefused
from runtime.attention import use_grouped_sdpa
from runtime.closing import MAX_CLOSING, START, Closer
from runtime.decode import Generation, Row
from runtime.events import RuntimeEvents
from runtime.grammar.base import unpack_bitmask
from runtime.kvcache import SlotCache
from runtime.prefix import MIN_PREFIX_TOKENS, PrefixCache
from runtime.quant import decoding

log = logging.getLogger(__name__)

# Proposed tokens fed per row and step: a run of forced tokens is rarely longer (a long key),
# and every row of the batch is padded to the longest run.
MAX_DRAFT = 16
# Positions one decode forward may hold (rows x widest feed). On CPU a forward of up to ~16
# positions costs about what one does (the weights' memory traffic dominates); past that it
# costs in proportion, and every row is padded to the widest feed. So a lone row may take 15
# forced tokens along, while a full batch takes none.
STEP_TOKENS = 16
# Seconds without a row before the decode thread gives the KV cache back and ends (the next
# row starts another). An idle decode thread that had run the model keeps its OpenMP workers,
# and while the process holds more of them than CPUs libgomp stops spinning between parallel
# regions (training/threads.py): a training step in another thread took ~1.6x as long (1.48 ->
# 2.40 s on an AMX Xeon, 2 cores) until the thread ended.
IDLE_EXIT_S = 2.0
# Positions one prefill forward may hold: prompts of similar length are prefilled together.
PREFILL_TOKENS = 512
DEFAULT_PREFIX_CACHE_BYTES = 256 << 20
# When a constrained row's ending is worked out, by the budget left over its last one (room):
# every CLOSE_WATCH tokens; at every token but those inside a string's text (which do not
# lengthen it) within OPEN_MARGIN; at every token within CLOSE_MARGIN (an escape or a pattern
# can lengthen it by a few tokens).
CLOSE_WATCH = 16
OPEN_MARGIN = 64
CLOSE_MARGIN = 8


@dataclass(eq=False)
class Pending:
    """One row to decode, with the adapter (path; None = base model) it runs on."""

    row: Row
    adapter: str | None
    temperature: float
    seed: int | None
    future: Future[Generation] = field(default_factory=Future)
    since: float = field(default_factory=time.monotonic)

    @property
    def cancelled(self) -> bool:
        """The request gave up (a 504, a client gone): the row stops within one step."""
        return self.row.watch is not None and self.row.watch.cancelled


class _Running:
    """A row in a slot: its tokens so far, its grammar state and its sampler."""

    def __init__(self, pending: Pending, prompt_ids: list[int], device: Any) -> None:
        import torch

        self.pending = pending
        self.prompt_tokens = len(prompt_ids)
        self.feed = prompt_ids  # tokens the next forward writes (prefill: the whole prompt)
        self.draft: list[int] = []  # the proposed tokens at the end of `feed`
        self.out: list[int] = []
        self.forced = 0  # proposed tokens kept
        self.sent = ""  # the text streamed to the row's watch so far
        self.first_token_at: float | None = None
        self.finish: str | None = None
        # (prefix cache key, shared tokens) when this row's prefill should fill that entry
        self.cache_key: tuple[Hashable, int] | None = None
        grammar = pending.row.grammar
        self.matcher = grammar.matcher() if grammar is not None else None
        # As GrammarLogitsProcessor: "active" (the matcher decides), "end" (grammar complete
        # without eos, e.g. llguidance after the closing brace: eos only), "free" (no grammar).
        self.state = "active" if self.matcher is not None else "free"
        # Tokens its last worked-out ending took (None: not worked out yet), and where its
        # output ends (in a string or not) for working one out.
        self.ending: int | None = None
        self.quote = START
        self.recheck = 0  # after a search that found none, the next is not before this token
        self.generator = None
        if pending.temperature > 0:
            seed = pending.seed if pending.seed is not None else secrets.randbits(63)
            self.generator = torch.Generator(device=device).manual_seed(seed)


class ContinuousBatcher:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        adapters: AdapterCache,
        max_batch_size: int,
        events: RuntimeEvents,
        prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
        jump_ahead: bool = True,
    ) -> None:
        import torch

        self.model = model
        self.tokenizer = tokenizer
        self.adapters = adapters
        self.max_batch_size = max(1, max_batch_size)
        self.events = events
        self.jump_ahead = jump_ahead
        self.prefixes = PrefixCache(max_bytes=prefix_cache_bytes)
        self.device = next(model.parameters()).device
        self.eos = int(tokenizer.eos_token_id)
        self.vocab = len(tokenizer)  # the matchers' masks are laid out for the tokenizer
        self.cache = SlotCache(model)
        self.closer = Closer(tokenizer, self.vocab)
        use_grouped_sdpa(model)  # jump-ahead and prefill forwards without copying the KV
        params = inspect.signature(model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._bitmask = torch.empty(((self.vocab + 31) // 32,), dtype=torch.int32)
        self._running: list[_Running] = []  # row i lives in cache slot i
        self._waiting: deque[Pending] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self.forwards = 0  # decode and prefill forwards so far (for tests and benchmarks)

    # ---------------------------------------------------------------- requests' side

    @property
    def waiting(self) -> int:
        with self._cond:
            return len(self._waiting)

    @property
    def running(self) -> int:
        return len(self._running)

    def submit(self, pending: Pending) -> Generation:
        """Queue a row and block until it is decoded (or cancelled: finish_reason
        "cancelled", with the text so far)."""
        return self.enqueue(pending).result()

    def enqueue(self, pending: Pending) -> Future[Generation]:
        """Queue a row; its future."""
        with self._cond:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="decoder", daemon=True)
                self._thread.start()
                atexit.unregister(self.close)  # once, however often the thread restarts
                atexit.register(self.close)
            self._waiting.append(pending)
            self.events.batch_queue(depth=len(self._waiting))
            self._cond.notify_all()
        return pending.future

    def wait_ended(self, timeout: float = IDLE_EXIT_S + 1.0) -> bool:
        """Block until the decode thread has ended (IDLE_EXIT_S after its last row), at most
        `timeout` seconds; whether it has. For a benchmark that times other OpenMP work in this
        process without the decode thread's workers (training/threads.py)."""
        with self._cond:
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return thread is None or not thread.is_alive()

    def close(self) -> None:
        """Let the decode thread end once its rows are done (registered at exit: a daemon
        thread still inside torch while the interpreter finalizes aborts the process)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=10)

    # ---------------------------------------------------------------- the loop

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._running and not self._waiting and not self._closed:
                    if not self._cond.wait(IDLE_EXIT_S) and not self._waiting:
                        self.cache.shrink()  # idle: give a burst's KV memory back
                        self._thread = None
                        return
                if self._closed and not self._running and not self._waiting:
                    return
                admitted = self._admit()
            try:
                self._turn(admitted)
            except BaseException as exc:  # noqa: BLE001 - every row in hand gets it
                log.exception("decoding failed")
                for slot in reversed(range(len(self._running))):
                    self._release(slot, exc)
                for item in admitted:
                    if not item.future.done():
                        item.future.set_exception(exc)

    def _admit(self) -> list[Pending]:
        """Waiting rows that fit the free slots and the adapter limit, oldest first.
        Under the condition."""
        for item in [p for p in self._waiting if p.cancelled]:
            self._waiting.remove(item)
            item.future.set_result(Generation("", 0, 0, "cancelled"))
        free = self.max_batch_size - len(self._running)
        if not free or not self._waiting:
            return []
        in_use = {r.pending.adapter for r in self._running} - {None}
        admitted: list[Pending] = []
        skipped: list[Pending] = []
        while self._waiting and len(admitted) < free:
            item = self._waiting.popleft()
            if item.adapter is None or item.adapter in in_use:
                admitted.append(item)
            elif len(in_use) < self.adapters.capacity:
                in_use.add(item.adapter)
                admitted.append(item)
            else:
                skipped.append(item)
        self._waiting.extendleft(reversed(skipped))
        self.events.batch_queue(depth=len(self._waiting))
        return admitted

    def _turn(self, admitted: list[Pending]) -> None:
        for slot in reversed(range(len(self._running))):
            running = self._running[slot]
            if running.pending.cancelled:
                running.finish = "cancelled"
                self._release(slot, self._generation(running))
        if admitted:
            now = time.monotonic()
            self.events.batch_started(waits_s=[now - item.since for item in admitted])
            self._prefill(admitted)
        if self._running:
            self._decode()

    # ---------------------------------------------------------------- prefill

    def _prefill(self, admitted: list[Pending]) -> None:
        """Start admitted rows in the next free slots: attach their adapters, restore their
        cached prefix, and prefill the rest of their prompts, rows of similar length together."""
        self.adapters.keep([r.pending.adapter for r in self._running if r.pending.adapter])
        started = []
        for item in admitted:
            try:
                if item.adapter is not None:
                    self.adapters.attach(item.adapter)
            except AdapterRefused as exc:
                item.future.set_exception(exc)
                continue
            ids = self.tokenizer(item.row.prompt, add_special_tokens=False)["input_ids"]
            running = _Running(item, ids, self.device)
            key, shared = self._prefix_key(item, ids)
            prefix = self.prefixes.get(key) if key is not None else None
            if prefix is not None:
                running.feed = ids[prefix.length :]
            elif key is not None:
                running.cache_key = (key, shared)
            started.append((running, prefix))
        started.sort(key=lambda pair: len(pair[0].feed))  # a group is padded to its longest
        lo = len(self._running)
        for running, prefix in started:
            slot = len(self._running)
            self._running.append(running)
            self.cache.reset(slot)
            if prefix is not None:
                self.cache.load(slot, prefix)
        while lo < len(self._running):
            hi = lo + 1
            while (
                hi < len(self._running)
                and (hi + 1 - lo) * len(self._running[hi].feed) <= PREFILL_TOKENS
            ):
                hi += 1
            rows = self._running[lo:hi]
            logits = self._forward(lo, hi, [r.feed for r in rows], last_only=True)
            for slot, running in enumerate(rows, start=lo):
                self.cache.advance(slot, len(running.feed))
                if running.cache_key is not None:
                    key, shared = running.cache_key
                    self.prefixes.put(key, self.cache.read(slot, shared))
                running.feed = []
                self._accept(running, logits[slot - lo])
            lo = hi
        self._reap()

    def _prefix_key(self, item: Pending, ids: list[int]) -> tuple[Hashable | None, int]:
        """The prefix cache key of a prompt's shared head and its length in tokens (at least
        one prompt token is left to prefill: its logits give the first token)."""
        chars = item.row.prefix
        if chars <= 0:
            return None, 0
        head = self.tokenizer(item.row.prompt[:chars], add_special_tokens=False)["input_ids"]
        shared = 0
        for a, b in zip(head, ids[:-1], strict=False):
            if a != b:
                break
            shared += 1
        if shared < MIN_PREFIX_TOKENS:
            return None, 0
        return (item.adapter, tuple(ids[:shared])), shared

    # ---------------------------------------------------------------- decode

    def _decode(self) -> None:
        rows = self._running
        # Every row is padded to the longest feed: fewer proposals per row in a full batch.
        width = max(1, STEP_TOKENS // len(rows))
        for running in rows:
            del running.draft[width - 1 :]
            del running.feed[width:]
        with decoding(self.model):  # low-bit weights, if any, for decode steps only (quant.py)
            logits = self._forward(0, len(rows), [r.feed for r in rows], last_only=False)
        for slot, running in enumerate(rows):
            kept = self._accept(running, logits[slot], verify=running.draft)
            # the last chosen token and the kept proposals are now the row's KV
            self.cache.advance(slot, 1 + kept)
        self._reap()

    def _forward(self, lo: int, hi: int, feeds: list[list[int]], *, last_only: bool) -> list[Any]:
        """Rows in slots [lo, hi) each add their feed (right-padded to the longest); the logits
        of each row's last position (`last_only`) or of all its fed positions, as float32."""
        import torch

        widths = [len(f) for f in feeds]
        width = max(widths)
        ids = torch.tensor([f + [self.eos] * (width - len(f)) for f in feeds], device=self.device)
        position_ids, mask = self.cache.prepare(lo, hi, widths)
        # The LM head only where logits are read (it is a fifth of the model at this vocabulary).
        fed = torch.tensor(widths, device=self.device)[:, None]
        positions = torch.arange(width, device=self.device)[None, :]
        keep = positions == fed - 1 if last_only else positions < fed
        keys = [r.pending.adapter for r in self._running[lo:hi]]
        self.forwards += 1
        with torch.inference_mode(), self.adapters.bank.rows(keys):
            out = self.model(
                input_ids=ids,
                position_ids=position_ids,
                attention_mask=mask,
                use_cache=True,
                logits_to_keep=keep,
                **{self._cache_kw: self.cache},
            )
        counts = [1] * len(feeds) if last_only else widths
        return list(out.logits.reshape(-1, out.logits.shape[-1]).float().split(counts))

    def _accept(self, running: _Running, logits: Any, verify: list[int] | None = None) -> int:
        """Choose the row's next tokens from its logits positions: one, then as many more as
        the proposals in `verify` (fed after the last token) were picked in turn. Returns how
        many proposals were kept; sets the row's next feed."""
        kept = 0
        verify = verify or []
        for position in range(len(verify) + 1):
            token = self._pick(running, logits[position])
            ending = self._ending_instead(running, token)
            if ending is not None:
                for closing in ending:
                    self._emit(running, closing)
                running.finish = "length"
                break
            self._emit(running, token)
            if running.finish is not None:
                break
            if position == len(verify) or token != verify[position]:
                break
            kept += 1
        running.forced += kept
        if running.finish is None:
            running.draft = self._draft(running)
            running.feed = [running.out[-1], *running.draft]
        return kept

    def _pick(self, running: _Running, scores: Any) -> int:
        import torch

        if running.state == "end":
            return self.eos
        if running.state == "active":
            assert running.matcher is not None
            bitmask = self._bitmask
            running.matcher.fill(bitmask.view(1, -1), 0)
            allowed = unpack_bitmask(bitmask)
            allowed = allowed[: scores.shape[-1]].to(scores.device)
            if allowed.shape[0] < scores.shape[-1]:  # logits wider than the tokenizer
                pad = torch.zeros(scores.shape[-1] - allowed.shape[0], dtype=torch.bool)
                allowed = torch.cat([allowed, pad.to(scores.device)])
            if not bool(allowed.any()):  # a grammar error left no token: end the row
                return self.eos
            scores = scores.masked_fill(~allowed, float("-inf"))
        if running.generator is None:
            return int(scores.argmax())
        probs = torch.softmax(scores / running.pending.temperature, dim=-1)
        return int(torch.multinomial(probs, 1, generator=running.generator))

    def _ending_instead(self, running: _Running, token: int) -> list[int] | None:
        """The ending to write instead of `token` when, after it, the row could no longer be
        closed within its budget (None: take the token)."""
        if running.state != "active" or token == self.eos or len(running.out) < running.recheck:
            return None
        assert running.matcher is not None
        left = running.pending.row.max_tokens - len(running.out)
        if left - 1 > MAX_CLOSING:  # any ending the walk finds still fits after the token
            return None
        if running.ending is not None:
            room = left - running.ending
            due = room <= CLOSE_MARGIN or not len(running.out) % CLOSE_WATCH
            if not due and (room > OPEN_MARGIN or self.closer.in_text(running.quote, token)):
                return None
        after = self.closer.ending(running.matcher, running.quote, left - 1, after=token)
        if after is not None:
            running.ending = len(after)
            return None
        ending = self.closer.ending(running.matcher, running.quote, left)
        if ending is None:  # none found (yet: the model may write what a pattern waits for)
            running.ending, running.recheck = None, len(running.out) + CLOSE_WATCH
        return ending

    def _emit(self, running: _Running, token: int) -> None:
        if not running.out:
            running.first_token_at = time.perf_counter()
        running.out.append(token)
        if token == self.eos:
            running.finish = "stop"
            return
        self._stream(running)
        if running.state == "active":
            assert running.matcher is not None
            running.quote = self.closer.step(running.quote, token)
            if not running.matcher.advance(token) or running.matcher.is_terminated():
                running.state = "end"
        if len(running.out) >= running.pending.row.max_tokens:
            running.finish = "length"

    def _stream(self, running: _Running) -> None:
        watch = running.pending.row.watch
        if watch is None or watch.on_text is None:
            return
        text = self.tokenizer.decode(running.out, skip_special_tokens=True)
        # A character split across tokens decodes as U+FFFD until its last byte comes.
        if not text.endswith("\ufffd") and len(text) > len(running.sent):
            watch.on_text(text[len(running.sent) :])
            running.sent = text

    def _draft(self, running: _Running) -> list[int]:
        if not self.jump_ahead or running.state != "active":
            return []
        forced = getattr(running.matcher, "forced", None)
        if forced is None:
            return []
        room = running.pending.row.max_tokens - len(running.out) - 1
        return forced()[: min(MAX_DRAFT, room)] if room > 0 else []

    # ---------------------------------------------------------------- finishing

    def _reap(self) -> None:
        for slot in reversed(range(len(self._running))):
            running = self._running[slot]
            if running.finish is not None:
                self._release(slot, self._generation(running))

    def _generation(self, running: _Running) -> Generation:
        return Generation(
            text=self.tokenizer.decode(running.out, skip_special_tokens=True),
            prompt_tokens=running.prompt_tokens,
            completion_tokens=len(running.out),
            finish_reason=running.finish or "length",
            forced_tokens=running.forced,
            first_token_at=running.first_token_at,
        )

    def _release(self, slot: int, result: Generation | BaseException) -> None:
        """Give a row its result and its slot to the last running row."""
        running = self._running[slot]
        last = len(self._running) - 1
        if slot != last:
            self.cache.move(last, slot)
            self._running[slot] = self._running[last]
        self._running.pop()
        self.cache.reset(last)
        future = running.pending.future
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
