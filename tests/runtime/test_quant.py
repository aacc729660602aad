"""int4 serving weights: the shipped 4-bit codes come back exactly, decode steps answer close to
fp32 while prompts are prefilled dense, adapters still apply, and a runtime served from them
answers valid JSON."""

from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime import GenerateRequest, ModelRuntime
from runtime.lora import LoraBank, read_adapter
from runtime.quant import GROUP, decoding, quantize_int4, quantize_model
from tests.runtime.test_adapters import make_adapter
from training.modeling import load_model

TEXTS = ["hello there", "a somewhat longer input, padded less"]


def int4_matmul(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    packed, scales_and_zeros = quantize_int4(weight)
    y = torch.ops.aten._weight_int4pack_mm_for_cpu(
        x.to(torch.bfloat16), packed, GROUP, scales_and_zeros
    )
    return y.float()


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    out_groups=st.integers(1, 6),
    in_groups=st.integers(1, 4),
)
def test_q4_1_weights_keep_their_codes(seed, out_groups, in_groups):
    """A Q4_1 block (w = d*q + m, q spanning 0..15, as llama.cpp quantizes) is requantized to the
    same codes: the int4 product equals the product with the dequantized weight, up to bf16."""
    g = torch.Generator().manual_seed(seed)
    out_features, in_features = 16 * out_groups, GROUP * in_groups
    q = torch.randint(0, 16, (out_features, in_features), generator=g)
    q[:, ::GROUP], q[:, 1::GROUP] = 0, 15  # each block spans the whole range
    d = torch.rand(out_features, in_groups, 1, generator=g) * 0.05 + 1e-3
    m = -torch.rand(out_features, in_groups, 1, generator=g) * 0.4
    weight = (q.reshape(out_features, in_groups, GROUP) * d + m).reshape(out_features, -1)
    x = torch.randn(3, in_features, generator=g)
    exact = x.to(torch.bfloat16).float() @ weight.T
    assert torch.allclose(int4_matmul(x, weight), exact, rtol=2e-2, atol=2e-2 * exact.abs().max())


def logits(model, tokenizer) -> torch.Tensor:
    enc = tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="left")
    with torch.inference_mode():
        return model(**enc).logits[:, -1]


def test_int4_decode_steps_answer_close_to_fp32_and_adapters_still_apply(tiny_model_dir, tmp_path):
    dense, tokenizer = load_model(tiny_model_dir)
    model, _ = load_model(tiny_model_dir)
    linears = sum(isinstance(m, torch.nn.Linear) for m in model.modules())
    assert quantize_model(model, "int4") == linears
    reference = logits(dense, tokenizer)
    assert torch.equal(logits(model, tokenizer), reference)  # outside a decode step: dense
    with decoding(model):
        ours = logits(model, tokenizer)
    assert not torch.equal(ours, reference)  # the quantized weights are in use
    assert torch.nn.functional.cosine_similarity(ours, reference).min() > 0.99

    path = Path(make_adapter(tmp_path / "a", tiny_model_dir, seed=1, fingerprint="-"))
    banks = [LoraBank(m) for m in (dense, model)]
    for bank, m in zip(banks, (dense, model), strict=True):
        bank.add("a", read_adapter(path, m))
    with banks[0].rows(["a", "a"]):
        dense_lora = logits(dense, tokenizer)
    with banks[1].rows(["a", "a"]), decoding(model):
        ours_lora = logits(model, tokenizer)
    delta, ours_delta = dense_lora - reference, ours_lora - ours
    assert delta.abs().max() > 1e-2  # the adapter changes the answer, and the same way
    assert torch.nn.functional.cosine_similarity(ours_delta, delta).min() > 0.95


@pytest.mark.parametrize("bf16", [True, False])
def test_int4_on_a_cpu_without_bf16_warns_that_it_may_be_slower(
    tiny_model_dir, monkeypatch, caplog, bf16
):
    model, _ = load_model(tiny_model_dir)
    monkeypatch.setattr("runtime.quant.native_bf16", lambda: bf16)
    with caplog.at_level("WARNING", logger="runtime.quant"):
        assert quantize_model(model, "int4") > 0
    assert ("without a fast bf16 path" in caplog.text) is not bf16


def test_unknown_weights_are_refused(tiny_model_dir):
    model, _ = load_model(tiny_model_dir)
    with pytest.raises(ValueError, match="unknown serving weights"):
        quantize_model(model, "int3")


def test_a_runtime_on_int4_weights_answers_valid_json(tiny_model_dir):
    runtime = ModelRuntime(model_path=tiny_model_dir, weights="int4")
    runtime.load()
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city", "days"],
        "additionalProperties": False,
    }
    result = runtime.generate(
        GenerateRequest(schema=schema, input="weather in Paris", mode="constrained", max_tokens=40)
    )
    assert result.valid, result.raw
    assert set(result.output) == {"city", "days"}


@pytest.mark.parametrize("engine", ["continuous", "generate"])
def test_int4_weights_decode_and_dense_weights_prefill(tiny_model_dir, engine):
    """Each request's prompt goes through the dense weights (one prefill forward), and every
    forward after it, one per decode step, through the 4-bit ones: in both engines."""
    from runtime.decode import generate
    from runtime.quant import SWITCH
    from training.prompts import build_messages, render_prompt

    runtime = ModelRuntime(model_path=tiny_model_dir, weights="int4")
    runtime.load()
    model, switch = runtime.model, getattr(runtime.model, SWITCH)
    layer = model.model.layers[0].self_attn.q_proj
    low_bit = []  # per forward of the model, whether it ran the 4-bit weights
    forward = layer.forward

    def spy(x):
        low_bit.append(switch.on)
        return forward(x)

    layer.forward = spy
    schema = {"type": "object", "properties": {"note": {"type": "string", "maxLength": 40}}}
    for i in range(3):
        low_bit.clear()
        text = f"request {i}: {'abc ' * i}"
        if engine == "continuous":
            request = GenerateRequest(schema=schema, input=text, mode="constrained", max_tokens=12)
            runtime.generate(request)
        else:
            messages = build_messages(
                schema=schema, description=None, instructions=None, examples=[], input=text
            )
            prompt = render_prompt(runtime.tokenizer, messages)
            generate(
                model, runtime.tokenizer, prompt, grammar=runtime.grammar(schema), max_tokens=12
            )
        assert low_bit[0] is False, low_bit  # the prompt: dense
        assert len(low_bit) > 2, low_bit
        assert all(low_bit[1:]), low_bit  # every decode step: 4 bits
    assert not switch.on  # and dense again after
