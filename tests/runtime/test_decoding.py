import json
import time

import pytest

from runtime.decode import generate
from runtime.grammar import BACKENDS, GrammarCompileError, GrammarTimeout
from runtime.grammar.compiler import GrammarCompiler, schema_key
from runtime.grammar.processor import GrammarLogitsProcessor
from training.prompts import build_messages, render_prompt

from .samples import NESTED

# outlines_core turns if/then into a huge regex: seconds to compile; llguidance refuses it.
SLOW_FOR_OUTLINES_CORE = {
    "type": "object",
    "if": {"properties": {"a": {"const": 1}}},
    "then": {"required": ["b"]},
}
# Only xgrammar accepts "not" (llguidance: unimplemented; outlines_core: unsupported).
ONLY_XGRAMMAR = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}


@pytest.fixture(scope="module")
def model_and_tok(tiny_runtime):
    return tiny_runtime.model, tiny_runtime.tokenizer


def _prompt(tok, schema):
    return render_prompt(
        tok,
        build_messages(
            schema=schema,
            description=None,
            instructions=None,
            examples=[],
            input="anything",
        ),
    )


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_makes_a_random_model_conform(model_and_tok, backend):
    from schemas.validation import validate_instance

    model, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=[backend])
    grammar = compiler.get(NESTED)
    assert grammar.backend == backend
    for seed in range(3):
        out = generate(
            model,
            tok,
            _prompt(tok, NESTED),
            grammar=grammar,
            max_tokens=120,
            temperature=1.0,
            seed=seed,
        )
        assert out.finish_reason == "stop", out.text
        instance = json.loads(out.text)
        assert validate_instance(NESTED, instance) == []
        assert out.text == json.dumps(instance, ensure_ascii=False, separators=(",", ":"))


def test_grammars_are_cached_per_schema_and_backend(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["xgrammar"], cache_size=2)
    g1 = compiler.get(NESTED, schema_fingerprint="fp1")
    assert compiler.get(NESTED, schema_fingerprint="fp1") is g1
    compiler.get({"type": "boolean"}, schema_fingerprint="fp2")
    compiler.get({"type": "integer"}, schema_fingerprint="fp3")
    assert [fp for fp, _, _ in compiler.cached()] == ["fp2", "fp3"]  # fp1 evicted (LRU)
    # Key order is part of a grammar (properties are emitted in it): two orders, two keys.
    assert schema_key({"b": 1, "a": 2}) != schema_key({"a": 2, "b": 1})


def test_falls_back_to_the_next_backend_and_records_it(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["outlines_core", "xgrammar"])
    grammar = compiler.get(ONLY_XGRAMMAR)
    assert grammar.backend == "xgrammar"
    states = {backend: state for _, backend, state in compiler.cached()}
    assert states == {"outlines_core": "error", "xgrammar": "ok"}


def test_llguidance_enforces_what_it_can_when_a_keyword_is_beyond_it(model_and_tok):
    model, tok = model_and_tok
    # `not` is beyond llguidance: the schema still compiles with it (lenient), every other
    # keyword enforced; `not` is checked after generation, as the capability report says.
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 0, "maximum": 99, "not": {"const": 3}},
            "s": {"enum": ["a", "b"]},
        },
        "required": ["n", "s"],
        "additionalProperties": False,
    }
    grammar = GrammarCompiler(tok, backends=["llguidance"]).get(schema)
    assert grammar.backend == "llguidance"
    out = generate(model, tok, _prompt(tok, schema), grammar=grammar, max_tokens=120)
    answer = json.loads(out.text)
    assert list(answer) == ["n", "s"]
    assert isinstance(answer["n"], int)
    assert answer["s"] in {"a", "b"}


def test_no_backend_compiles_raises_with_every_attempt(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["llguidance", "outlines_core"])
    # A required property that can never be present: no grammar can spell an answer.
    unsatisfiable = {"type": "object", "properties": {"a": False}, "required": ["a"]}
    with pytest.raises(GrammarCompileError) as info:
        compiler.get(unsatisfiable)
    assert not isinstance(info.value, GrammarTimeout)
    assert [a["backend"] for a in info.value.attempts] == ["llguidance", "outlines_core"]


def test_compile_timeout_returns_quickly_and_the_compile_finishes_later(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["outlines_core"], timeout_s=0.05)
    t = time.perf_counter()
    with pytest.raises(GrammarTimeout):
        compiler.get(SLOW_FOR_OUTLINES_CORE)
    gave_up = time.perf_counter() - t
    # The abandoned compile is not restarted: a second request waits on the same one.
    assert [state for _, _, state in compiler.cached()] == ["compiling"]
    grammar = compiler.compile(SLOW_FOR_OUTLINES_CORE, backend="outlines_core", timeout_s=60)
    assert grammar.backend == "outlines_core"
    # Compared with the compile itself, not with a wall-clock bound a loaded machine can miss.
    assert gave_up < 0.5 * (time.perf_counter() - t)


def test_an_abandoned_outlines_core_compile_is_killed_at_its_limits(model_and_tok, monkeypatch):
    """outlines_core builds its index in a child process: past the time or memory limit the
    child is killed and the compile fails, instead of running on in a thread nobody can stop."""
    import multiprocessing

    import runtime.grammar.backend_outlines_core as outlines_core

    _, tok = model_and_tok
    monkeypatch.setattr(outlines_core, "COMPILE_TIME_LIMIT_S", 0.5)
    backend = outlines_core.OutlinesCoreBackend(tok)
    with pytest.raises(GrammarCompileError, match="gave up compiling after 0.5 s"):
        backend.compile(json.dumps(SLOW_FOR_OUTLINES_CORE))
    monkeypatch.setattr(outlines_core, "COMPILE_TIME_LIMIT_S", 60)
    monkeypatch.setattr(outlines_core, "COMPILE_MEMORY_BYTES", 1)
    t = time.perf_counter()
    with pytest.raises(GrammarCompileError):
        backend.compile(json.dumps(SLOW_FOR_OUTLINES_CORE))
    assert time.perf_counter() - t < 30
    assert multiprocessing.active_children() == []


def test_timeout_falls_back_to_a_faster_backend(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["outlines_core", "xgrammar"], timeout_s=0.05)
    assert compiler.get(SLOW_FOR_OUTLINES_CORE).backend == "xgrammar"


def test_warm_compiles_in_the_background(model_and_tok):
    _, tok = model_and_tok
    compiler = GrammarCompiler(tok, backends=["xgrammar"])
    future = compiler.warm(NESTED, schema_fingerprint="warm")
    assert future.result(timeout=30).backend == "xgrammar"
    assert compiler.get(NESTED, schema_fingerprint="warm") is future.result()


def test_processor_constrains_rows_independently(model_and_tok):
    """Mixed batch: row 0 free, row 1 boolean grammar, row 2 enum grammar (another backend)."""
    import torch

    _, tok = model_and_tok
    g_bool = GrammarCompiler(tok, backends=["llguidance"]).get({"type": "boolean"})
    g_enum = GrammarCompiler(tok, backends=["xgrammar"]).get({"enum": ["yes"]})
    proc = GrammarLogitsProcessor(
        [None, g_bool.matcher(), g_enum.matcher()],
        eos_token_id=tok.eos_token_id,
        vocab_size=len(tok),
    )
    scores = proc(torch.zeros((3, 5), dtype=torch.long), torch.zeros((3, len(tok))))
    allowed = [set(torch.nonzero(row > float("-inf")).flatten().tolist()) for row in scores]
    assert len(allowed[0]) == len(tok)
    assert all(
        tok.decode([t])
        and "true".startswith(tok.decode([t]))
        or "false".startswith(tok.decode([t]))
        for t in allowed[1]
    )
    assert all('"yes"'.startswith(tok.decode([t])) for t in allowed[2])


@pytest.mark.parametrize("backend", BACKENDS)
def test_open_objects_get_no_invented_keys(model_and_tok, backend):
    """Without additionalProperties every backend still writes only the declared keys."""
    model, tok = model_and_tok
    schema = {
        "type": "object",
        "properties": {"a": {"type": "boolean"}, "b": {"enum": ["x", "y"]}},
        "required": ["a"],
    }
    grammar = GrammarCompiler(tok, backends=[backend]).get(schema)
    for seed in range(3):
        out = generate(model, tok, "hi", grammar=grammar, max_tokens=40, temperature=1.0, seed=seed)
        assert out.finish_reason == "stop", out.text
        assert set(json.loads(out.text)) <= {"a", "b"}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("limits", [{}, {"maxLength": 6}, {"minLength": 1, "maxLength": 40}])
def test_no_backend_lets_a_raw_control_character_into_a_string(model_and_tok, backend, limits):
    """JSON wants them escaped: a raw one makes the answer not JSON (xgrammar let them into
    strings with a length limit)."""
    _, tok = model_and_tok
    schema = {"type": "object", "properties": {"s": {"type": "string", **limits}}}
    grammar = GrammarCompiler(tok, backends=[backend]).get(schema)
    controls = [t for t in range(len(tok)) if any(c < " " for c in tok.decode([t]))]
    assert len(controls) > 32  # a token for each, and some with text around them
    for token in controls:
        matcher = grammar.matcher()
        for prefix in tok.encode('{"s":"a', add_special_tokens=False):
            assert matcher.advance(prefix)
        assert not matcher.advance(token), repr(tok.decode([token]))


def test_strict_objects_closes_objects_whose_keys_come_from_nowhere_else():
    from runtime.grammar.backend_llguidance import strict_objects

    schema = {
        "type": "object",
        "properties": {
            "properties": {"type": "object", "properties": {"x": {"const": {"properties": 1}}}},
            "open": {"type": "object", "properties": {}, "additionalProperties": True},
            "mixed": {"properties": {"a": {}}, "anyOf": [{"properties": {"b": {}}}]},
            "needs": {"properties": {"a": {}}, "required": ["a", "c"]},
            "big": {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1},
        },
        "$defs": {
            "d": {"properties": {"z": {}}},
            "base": {"properties": {"name": {}}, "required": ["name"]},
            "item": {"allOf": [{"$ref": "#/$defs/base"}, {"properties": {"label": {}}}]},
        },
    }
    out = strict_objects(schema)
    assert out["additionalProperties"] is False
    props = out["properties"]
    assert props["properties"]["additionalProperties"] is False
    assert props["properties"]["properties"]["x"] == {"const": {"properties": 1}}
    assert props["open"]["additionalProperties"] is True
    assert "additionalProperties" not in props["mixed"]  # anyOf may add "b"
    assert "additionalProperties" not in props["needs"]  # requires "c", which it does not list
    assert (props["big"]["minimum"], props["big"]["maximum"]) == (-(2**62), 2**62)
    assert out["$defs"]["d"]["additionalProperties"] is False
    # allOf members, and the definitions they are, stay open: each must admit the other's keys
    assert "additionalProperties" not in out["$defs"]["base"]
    assert "additionalProperties" not in out["$defs"]["item"]["allOf"][1]
    assert "additionalProperties" not in schema  # the input is not modified


def test_one_batch_can_mix_schemas_backends_and_free_rows(model_and_tok):
    """The design for mixed batching: one processor, one matcher (or None) per row."""
    import torch
    from transformers import LogitsProcessorList

    model, tok = model_and_tok
    g_nested = GrammarCompiler(tok, backends=["llguidance"]).get(NESTED)
    g_bool = GrammarCompiler(tok, backends=["outlines_core"]).get({"type": "boolean"})
    prompts = [_prompt(tok, NESTED), _prompt(tok, {"type": "boolean"}), "free text"]
    side, tok.padding_side = tok.padding_side, "left"  # the tokenizer is the session's
    try:
        enc = tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    finally:
        tok.padding_side = side
    proc = GrammarLogitsProcessor(
        [g_nested.matcher(), g_bool.matcher(), None],
        eos_token_id=tok.eos_token_id,
        vocab_size=len(tok),
    )
    torch.manual_seed(0)
    out = model.generate(
        **enc,
        max_new_tokens=100,
        do_sample=True,
        top_k=0,
        logits_processor=LogitsProcessorList([proc]),
        pad_token_id=tok.eos_token_id,
    )
    texts = tok.batch_decode(out[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    from schemas.validation import validate_instance

    assert validate_instance(NESTED, json.loads(texts[0])) == []
    assert json.loads(texts[1]) in (True, False)
