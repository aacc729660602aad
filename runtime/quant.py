"""Low-bit weights for decoding on CPU (opt-in: `FORMWRIGHT_SERVE_WEIGHTS=int4`).

Decoding on CPU is bound by reading the weights: in fp32 a forward of SmolLM2-135M reads
~0.5 GB, and the linear layers are ~90% of a step. Here every linear layer of the decoder also
keeps its weight in 4 bits (groups of 32 input features, a bf16 scale and zero per group:
torch's `_weight_int4pack_mm_for_cpu`, the kernel of gpt-fast and torchao) and the output head
in 8 bits (one scale per vocabulary row: `_weight_int8pack_mm`); those matmuls run in bf16, the
rest of the model (norms, attention, residuals, the LoRA added by `runtime/lora.py`) stays as
loaded.

The low-bit weights serve decode steps only, inside `decoding(model)`: a step of a few
positions per row reads every weight once, which 4 bits make ~3x cheaper. A prefill (hundreds
of positions) is compute-bound, where the dense fp32 matmul is the faster one on every CPU
measured (2x faster without AVX-512), so prompts are prefilled, and their KV written, with the
dense weights. Which weights a forward uses depends on its kind only, never on the other rows
of the batch, so a row answers the same in any batch.

The default base model ships as a Q4_1 GGUF (4-bit codes, a scale and a minimum per 32 inputs),
and its embedding, the tied head, as Q8_0: requantizing the dense weights by each group's minimum
and maximum gives back the shipped codes, so the int4 model is the model llama.cpp runs, with
bf16 rounding of scales and activations. The outputs are therefore close to the fp32 engine's,
not identical: greedy answers can differ where two tokens nearly tie, which is why this is not
the default (README, "Serving weights", has the dev-set figures).

The modules stay `torch.nn.Linear` (with their weights, which the LoRA loader checks shapes and
dtype against, and which the dense forwards use); only their `forward` is replaced, so forward
hooks still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

GROUP = 32  # input features sharing a scale and zero (Q4_1's block)
TILE = 16  # the int4 kernel packs output features by this many
WEIGHTS = ("dense", "int4")
SWITCH = "_formwright_low_bit"  # the model's attribute holding its `_Switch`


class _Switch:
    """Whether the model's forwards use the low-bit weights (inside `decoding`)."""

    on = False


@contextmanager
def decoding(model: Any) -> Iterator[None]:
    """Forwards inside use `model`'s low-bit weights, if it has any (decode steps)."""
    switch = getattr(model, SWITCH, None) or _Switch()
    switch.on = True
    try:
        yield
    finally:
        switch.on = False


@contextmanager
def decoding_after_prompt(model: Any) -> Iterator[None]:
    """For `model.generate`: its first forward (the prompt) dense, its one-token steps in the
    low-bit weights, as the continuous batcher runs them."""
    switch = getattr(model, SWITCH, None) or _Switch()

    def choose(_: Any, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        switch.on = ids is not None and ids.shape[1] == 1

    hook = model.register_forward_pre_hook(choose, with_kwargs=True)
    try:
        yield
    finally:
        hook.remove()
        switch.on = False


def quantize_int4(weight: Any) -> tuple[Any, Any]:
    """(packed codes, scales_and_zeros) of a [out, in] weight for `_weight_int4pack_mm_for_cpu`:
    per group of GROUP inputs, q = round((w - min) / scale) in 0..15 with scale = (max - min)/15;
    the kernel computes (q - 8) * scale + zero, so zero = min + 8 * scale."""
    import torch

    out_features, in_features = weight.shape
    w = weight.detach().float().reshape(out_features, in_features // GROUP, GROUP)
    low, high = w.amin(-1, keepdim=True), w.amax(-1, keepdim=True)
    scale = (high - low) / 15
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))  # a constant group: q = 0
    q = ((w - low) / scale).round().clamp(0, 15).to(torch.int32).reshape(out_features, -1)
    packed = torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1)
    scales_and_zeros = torch.cat([scale, low + 8 * scale], -1)  # [out, groups, 2]
    return packed, scales_and_zeros.transpose(0, 1).contiguous().to(torch.bfloat16)


def quantize_int8(weight: Any) -> tuple[Any, Any]:
    """(int8 weight, one bf16 scale per output row) for `_weight_int8pack_mm`."""
    import torch

    w = weight.detach().float()
    scale = w.abs().amax(-1).clamp(min=1e-12) / 127
    q = (w / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
    return q.contiguous(), scale.to(torch.bfloat16)


def _packed_forward(layer: Any, switch: _Switch, matmul: Callable[[Any], Any]) -> Any:
    """A `forward` for `layer` that, while `switch` is on, runs `matmul(x as 2-D bf16)` and adds
    the layer's bias; otherwise the layer's own (dense) forward."""
    import torch

    dense, bias, out_features = layer.forward, layer.bias, layer.out_features

    def forward(x: Any) -> Any:
        if not switch.on:
            return dense(x)
        y = matmul(x.reshape(-1, x.shape[-1]).to(torch.bfloat16))
        y = y.to(x.dtype).reshape(*x.shape[:-1], out_features)
        return y if bias is None else y + bias

    return forward


def _int4_forward(layer: Any, switch: _Switch) -> Any:
    import torch

    packed, scales_and_zeros = quantize_int4(layer.weight)
    mm = torch.ops.aten._weight_int4pack_mm_for_cpu
    return _packed_forward(layer, switch, lambda x: mm(x, packed, GROUP, scales_and_zeros))


def _int8_forward(layer: Any, switch: _Switch) -> Any:
    import torch

    q, scales = quantize_int8(layer.weight)
    mm = torch.ops.aten._weight_int8pack_mm
    return _packed_forward(layer, switch, lambda x: mm(x, q, scales))


def native_bf16() -> bool:
    """Whether oneDNN has a bf16 path on this CPU (`ideep::has_bf16_type_support`: AVX-512 or
    newer on x86, bf16 on ARM). Without it bf16 matmuls are slow — on an AVX2-only EPYC a
    600-token bf16 matmul took 5.8x fp32's, and int4 prefilled ~2x slower than dense."""
    import torch

    return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())


def quantize_model(model: Any, weights: str) -> int:
    """Decode with `model`'s linear layers in `weights` ("dense": as loaded, a no-op); returns how
    many layers were changed (a layer whose shape the kernels cannot take stays dense). CPU
    only: on another device the model is left as loaded."""
    import torch

    if weights not in WEIGHTS:
        raise ValueError(f"unknown serving weights {weights!r}: one of {', '.join(WEIGHTS)}")
    if weights == "dense":
        return 0
    if model.device.type != "cpu":
        log.warning("serving weights %s are CPU-only; %s keeps its weights", weights, model.device)
        return 0
    if not native_bf16():
        log.warning(
            "serving weights %s on a CPU without a fast bf16 path (no AVX-512): decoding gains "
            "less than with one (README, Serving weights; measure with bench/weights.py)",
            weights,
        )
    head = model.get_output_embeddings()
    switch = _Switch()
    changed = 0
    for module in model.modules():
        if not isinstance(module, torch.nn.Linear) or module.in_features % GROUP:
            continue
        if module is head:
            forward = _int8_forward(module, switch)
        elif module.out_features % TILE == 0:
            forward = _int4_forward(module, switch)
        else:
            continue
        module.forward = forward  # type: ignore[method-assign]
        changed += 1
    setattr(model, SWITCH, switch)
    return changed
