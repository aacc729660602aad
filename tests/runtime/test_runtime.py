import json
import time

import pytest

from runtime import GenerateRequest, GrammarCompileError, ModelRuntime, RuntimeNotReady

from .samples import NESTED

ONLY_XGRAMMAR = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}


def _req(**kw):
    base = {"schema": NESTED, "input": "a refund for gold customer ann", "max_tokens": 120}
    return GenerateRequest(**{**base, **kw})


def test_constrained_output_validates_in_full(tiny_runtime):
    result = tiny_runtime.generate(_req(mode="constrained"))
    assert result.valid, result.errors
    assert result.errors == []
    assert result.output == json.loads(result.raw)
    assert result.decoding == f"constrained:{tiny_runtime.backends[0]}"
    assert [(a.decoding, a.valid) for a in result.attempts] == [(result.decoding, True)]
    assert result.usage.prompt_tokens > 50
    assert 0 < result.usage.completion_tokens <= 120
    assert result.latency_ms > 0


def test_auto_without_adapter_is_constrained(tiny_runtime):
    result = tiny_runtime.generate(_req(mode="auto"))
    assert result.valid
    assert result.decoding.startswith("constrained:")


def test_unconstrained_returns_invalid_with_errors_instead_of_failing(tiny_runtime):
    result = tiny_runtime.generate(_req(mode="unconstrained", max_tokens=8))
    assert result.decoding == "unconstrained"
    assert result.valid is False
    assert result.output is None
    assert result.errors
    assert "not JSON" in result.errors[0].message
    assert result.usage.completion_tokens == 8


def test_token_budget_too_small_is_invalid_not_an_exception(tiny_runtime):
    result = tiny_runtime.generate(_req(mode="constrained", max_tokens=3))
    assert result.valid is False
    assert result.finish_reason == "length"
    assert "max_tokens ran out" in result.errors[0].message
    assert result.raw.startswith("{")


def test_sampling_is_reproducible_with_a_seed(tiny_runtime):
    runs = [tiny_runtime.generate(_req(temperature=1.0, seed=s)).raw for s in (7, 7, 8, 9)]
    assert runs[0] == runs[1]
    assert len(set(runs)) > 1  # different seeds, different (still valid) answers


def test_greedy_is_deterministic(tiny_runtime):
    assert tiny_runtime.generate(_req()).raw == tiny_runtime.generate(_req()).raw


def test_examples_reach_the_prompt_only_when_given(tiny_runtime):
    with_examples = _req(examples=[("refund please", {"kind": "refund"})])
    a = tiny_runtime.generate(_req(max_tokens=1, mode="unconstrained"))
    b = tiny_runtime.generate(
        GenerateRequest(**{**with_examples.__dict__, "max_tokens": 1, "mode": "unconstrained"})
    )
    assert b.usage.prompt_tokens > a.usage.prompt_tokens


def test_constrained_raises_when_no_backend_compiles_but_auto_falls_back(tiny_model_dir):
    runtime = ModelRuntime(model_path=tiny_model_dir, backends=["outlines_core"])
    runtime.load()
    with pytest.raises(GrammarCompileError):
        runtime.generate(_req(schema=ONLY_XGRAMMAR, mode="constrained", max_tokens=4))
    result = runtime.generate(_req(schema=ONLY_XGRAMMAR, mode="auto", max_tokens=4))
    assert result.decoding == "unconstrained"
    assert [a.decoding for a in result.attempts] == ["constrained", "unconstrained"]
    assert result.attempts[0].valid is False


def test_start_loads_in_background_and_reports_readiness(tiny_model_dir):
    runtime = ModelRuntime(model_path=tiny_model_dir)
    assert not runtime.ready
    with pytest.raises(RuntimeNotReady):
        runtime.generate(_req())
    t = time.perf_counter()
    runtime.start()
    assert time.perf_counter() - t < 0.5
    assert runtime.wait_ready(60)
    assert runtime.error is None
    assert runtime.count_tokens("hello world") == 2
    assert runtime.model_fingerprint
    assert runtime.model_fingerprint.startswith("sha256:")


def test_load_failure_is_reported_not_raised(tmp_path):
    runtime = ModelRuntime(model_spec=str(tmp_path / "missing"), cache_dir=tmp_path)
    runtime.start()
    assert not runtime.wait_ready(30)
    assert runtime.error
    assert "missing" in runtime.error
    with pytest.raises(RuntimeNotReady, match="missing"):
        runtime.count_tokens("x")


def test_bad_requests_are_refused_early():
    with pytest.raises(ValueError, match="mode"):
        GenerateRequest(schema={}, input="x", mode="fast")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_tokens"):
        GenerateRequest(schema={}, input="x", max_tokens=0)


def test_schemas_warmed_before_load_are_compiled_after(tiny_model_dir):
    runtime = ModelRuntime(model_path=tiny_model_dir, backends=["xgrammar"])
    runtime.warm(NESTED, schema_fingerprint="early")  # model not loaded yet: remembered
    runtime.load()
    deadline = time.perf_counter() + 30
    while ("early", "xgrammar", "ok") not in runtime.grammars.cached():
        assert time.perf_counter() < deadline
        time.sleep(0.05)
    runtime.warm({"type": "boolean"}, schema_fingerprint="late")
    assert runtime.grammar({"type": "boolean"}, schema_fingerprint="late").backend == "xgrammar"


def test_a_schema_too_long_for_the_prompt_is_enforced_by_the_grammar_alone(tiny_runtime):
    from runtime.runtime import PROMPT_SCHEMA_TOKENS

    words = " ".join(f"word{i}" for i in range(PROMPT_SCHEMA_TOKENS))
    huge = {
        "title": "Kettle order",
        "type": "object",
        "properties": {"size": {"enum": ["small", "large"], "description": words}},
        "required": ["size"],
    }
    result = tiny_runtime.generate(_req(schema=huge, mode="constrained", max_tokens=20))
    assert result.valid
    assert result.usage.prompt_tokens < PROMPT_SCHEMA_TOKENS / 4  # the schema stayed out
    shown = tiny_runtime.generate(_req(mode="constrained", max_tokens=1))
    assert shown.usage.prompt_tokens > tiny_runtime.count_tokens(json.dumps(NESTED)) / 2
