"""Continuous batching on the tiny model: rows join and leave a running batch, forced tokens are
fed ahead, shared prompt prefixes are reused, cancelled rows stop — and every answer is the
one the row would get decoded alone, step by step, from a cold prefill."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from runtime.adapters import AdapterCache
from runtime.continuous import ContinuousBatcher, Pending
from runtime.decode import Generation, Row, RowWatch
from runtime.events import RuntimeEvents
from runtime.grammar.compiler import GrammarCompiler
from tests.runtime.samples import NESTED
from tests.runtime.test_adapters import make_adapter

PICK = {
    "type": "object",
    "properties": {
        "size": {"enum": ["small", "large", "extra-large"]},
        "n": {"type": "integer", "minimum": 0, "maximum": 99},
        "label": {"type": "string", "maxLength": 5},
    },
    "required": ["size", "n", "label"],
}
# A system turn long enough to be worth caching (MIN_PREFIX_TOKENS), shared by every prompt.
FINGERPRINT = "sha256:tiny"
SYSTEM = "You answer in JSON. " + " ".join(f"Rule {i}: be brief." for i in range(12))


@pytest.fixture(scope="module")
def parts(tiny_model_dir: Path) -> tuple[Any, Any, GrammarCompiler]:
    from training.modeling import load_model

    model, tokenizer = load_model(tiny_model_dir, device="cpu")
    grammars = GrammarCompiler(tokenizer, backends=("llguidance", "xgrammar", "outlines_core"))
    return model, tokenizer, grammars


def make(parts, **kw: Any) -> ContinuousBatcher:
    model, tokenizer, _ = parts
    adapters = AdapterCache(
        model, capacity=2, model_fingerprint=FINGERPRINT, events=RuntimeEvents()
    )
    return ContinuousBatcher(
        model,
        tokenizer,
        adapters=adapters,
        max_batch_size=kw.pop("max_batch_size", 4),
        events=RuntimeEvents(),
        **kw,
    )


def row(parts, text: str, *, schema=None, backend="llguidance", max_tokens=24, watch=None) -> Row:
    _, tokenizer, grammars = parts
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": text}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    grammar = grammars.compile(schema, backend=backend) if schema is not None else None
    return Row(prompt, grammar, max_tokens, watch=watch, prefix=prompt.rfind(text))


def submit(batcher: ContinuousBatcher, r: Row) -> Future[Generation]:
    return batcher.enqueue(Pending(r, None, 0.0, None))


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.002)


def test_a_request_joining_a_running_batch_gets_the_tokens_it_gets_alone(parts):
    batcher = make(parts)
    long, late = row(parts, "long one", max_tokens=40), row(parts, "late", schema=PICK)
    alone = [batcher.submit(Pending(r, None, 0.0, None)) for r in (long, late)]
    first = submit(batcher, long)
    start = batcher.forwards
    wait_for(lambda: batcher.forwards >= start + 5)  # the long row is decoding
    joined = submit(batcher, late)
    assert joined.result(60).text == alone[1].text
    assert not first.done()  # it joined the running batch, not the next one
    assert first.result(60).text == alone[0].text
    assert alone[1].completion_tokens > 1


def test_a_row_that_finishes_frees_its_slot_for_the_next_request(parts):
    batcher = make(parts, max_batch_size=2)
    long = submit(batcher, row(parts, "long", max_tokens=60))
    short = submit(batcher, row(parts, "short", max_tokens=3))
    wait_for(lambda: batcher.running == 2)
    waiting = submit(batcher, row(parts, "next", max_tokens=3))
    wait_for(lambda: batcher.waiting == 0 and short.done())
    assert waiting.result(60).completion_tokens == 3
    assert not long.done()  # the third request started and ended inside the long one
    assert long.result(60).completion_tokens == 60


def decoding_threads() -> int:
    return sum(t.name == "decoder" for t in threading.enumerate())


def test_an_idle_engine_gives_back_the_kv_memory_of_a_burst_and_its_thread(parts):
    batcher = make(parts, max_batch_size=4)
    first = batcher.cache.nbytes
    burst = [submit(batcher, row(parts, f"row {i}", max_tokens=300)) for i in range(4)]
    wait_for(lambda: batcher.cache.nbytes > 4 * first)
    assert decoding_threads() >= 1
    assert [f.result(60).completion_tokens for f in burst] == [300] * 4
    # Idle, the decode thread gives the memory back and ends (an idle one slowed training in
    # the same process: runtime/continuous.py).
    assert batcher.wait_ended(timeout=10)
    assert batcher.cache.nbytes == 0
    assert decoding_threads() == 0
    # and it grows again for the next request, which answers as before
    again = submit(batcher, row(parts, "row 0", max_tokens=300)).result(60)
    assert again.text == burst[0].result().text


@pytest.mark.parametrize("backend", ["llguidance", "xgrammar"])
def test_jump_ahead_gives_the_step_by_step_output_in_fewer_forwards(parts, backend):
    inputs = ["alpha", "beta", "gamma"]
    results = {}
    for jump in (False, True):
        batcher = make(parts, jump_ahead=jump)
        rows = [
            row(parts, t, schema=s, backend=backend, max_tokens=60)
            for t in inputs
            for s in (PICK, NESTED)
        ]
        with ThreadPoolExecutor(len(rows)) as pool:
            futures = [pool.submit(batcher.submit, Pending(r, None, 0.0, None)) for r in rows]
            results[jump] = ([f.result() for f in futures], batcher.forwards)
    (steps, step_forwards), (jumps, jump_forwards) = results[False], results[True]
    assert [g.text for g in jumps] == [g.text for g in steps]
    assert [g.finish_reason for g in jumps] == [g.finish_reason for g in steps]
    assert sum(g.forced_tokens for g in steps) == 0
    assert sum(g.forced_tokens for g in jumps) > 0
    assert jump_forwards < step_forwards


def test_sampled_rows_with_a_seed_answer_the_same_in_any_company(parts):
    batcher = make(parts)
    sampled = row(parts, "dice", schema=PICK)
    alone = batcher.submit(Pending(sampled, None, 1.0, 7)).text
    with ThreadPoolExecutor(3) as pool:
        futures = [
            pool.submit(batcher.submit, Pending(sampled, None, 1.0, 7)),
            pool.submit(batcher.submit, Pending(row(parts, "other", max_tokens=30), None, 0, None)),
            pool.submit(batcher.submit, Pending(sampled, None, 1.0, 7)),
        ]
        texts = [f.result().text for f in futures]
    assert texts[0] == texts[2] == alone


def test_a_cancelled_request_stops_within_a_step_and_the_others_finish_unchanged(parts):
    batcher = make(parts)
    others = [row(parts, "one", max_tokens=30), row(parts, "two", schema=PICK)]
    alone = [batcher.submit(Pending(r, None, 0.0, None)).text for r in others]
    streamed: list[str] = []
    watch = RowWatch(on_text=streamed.append)
    doomed = submit(batcher, row(parts, "doomed", max_tokens=500, watch=watch))
    futures = [submit(batcher, r) for r in others]
    wait_for(lambda: batcher.running == 3)
    wait_for(lambda: len(streamed) >= 3)
    watch.cancel()
    forwards = batcher.forwards
    stopped = doomed.result(10)
    assert stopped.finish_reason == "cancelled"
    assert batcher.forwards <= forwards + 2  # within the step under way and the next
    assert stopped.text.startswith("".join(streamed))
    assert stopped.completion_tokens < 500
    assert [f.result(60).text for f in futures] == alone
    wait_for(lambda: batcher.running == 0)


def test_a_cancelled_request_that_never_started_is_dropped(parts):
    batcher = make(parts, max_batch_size=1)
    busy = submit(batcher, row(parts, "busy", max_tokens=40))
    wait_for(lambda: batcher.running == 1)
    watch = RowWatch()
    queued = submit(batcher, row(parts, "queued", watch=watch))
    wait_for(lambda: batcher.waiting == 1)
    watch.cancel()
    assert queued.result(10).finish_reason == "cancelled"
    assert not busy.done()
    assert busy.result(60).completion_tokens == 40


def test_a_reused_prefix_gives_the_tokens_of_a_cold_prefill(parts):
    cold = make(parts, prefix_cache_bytes=0)
    warm = make(parts)
    rows = [row(parts, t, schema=PICK) for t in ("first", "second", "third")]
    expected = [cold.submit(Pending(r, None, 0.0, None)).text for r in rows]
    assert [warm.submit(Pending(r, None, 0.0, None)).text for r in rows] == expected
    assert (warm.prefixes.misses, warm.prefixes.hits) == (1, 2)  # one prefill of the prefix
    assert cold.prefixes.hits == 0


def test_the_prefix_cache_is_per_adapter_and_bounded(parts, tiny_model_dir, tmp_path):
    adapter = make_adapter(tmp_path / "a", tiny_model_dir, seed=5, fingerprint=FINGERPRINT)
    cold = make(parts, prefix_cache_bytes=0)
    warm = make(parts)
    r = row(parts, "same text", max_tokens=12)
    base, tuned = (cold.submit(Pending(r, a, 0.0, None)).text for a in (None, adapter))
    assert base != tuned  # the adapter changes the answer, so its KV too
    assert [warm.submit(Pending(r, a, 0.0, None)).text for a in (None, adapter) * 2] == [
        base,
        tuned,
    ] * 2
    assert (warm.prefixes.misses, warm.prefixes.hits, len(warm.prefixes)) == (2, 2, 2)
    one_entry = warm.prefixes.nbytes // 2
    small = make(parts, prefix_cache_bytes=one_entry)
    for a in (None, adapter, None):
        small.submit(Pending(r, a, 0.0, None))
    assert len(small.prefixes) == 1
    assert small.prefixes.nbytes <= one_entry


def test_a_request_that_times_out_stops_decoding_and_frees_its_row(settings, engine, tiny_runtime):
    from fastapi.testclient import TestClient

    from service.app import create_app
    from tests.fixtures.app import TeamClient, make_team

    settings.request_timeout_s = 1.0
    app = create_app(settings, db_engine=engine, runtime=tiny_runtime)
    batcher = tiny_runtime.batcher
    with TestClient(app) as client:
        alice = TeamClient(client, make_team(engine, "alice"), "alice")
        alice.post("/v1/schemas", json={"name": "free", "schema": {"type": "string"}})
        body = {"input": "go on", "mode": "unconstrained", "max_tokens": 1000}
        started = batcher.forwards
        # 5 ms a forward: the budget takes 5 s, whatever the tiny model's own speed
        slow = tiny_runtime.model.register_forward_pre_hook(lambda *_: time.sleep(0.005))
        try:
            assert alice.post("/v1/schemas/free/generate", json=body).status_code == 504
            wait_for(lambda: batcher.running == 0, timeout=5)
        finally:
            slow.remove()
        # stopped, not run to its budget (the tiny model never says eos by chance here)
        assert batcher.forwards - started < 1000
