"""SDPA for grouped-query attention with several new tokens per row and a mask.

transformers' SDPA path repeats every key/value head for each query head of its group when a
mask comes with more than one query per row (`repeat_kv`: a copy of the rows' whole KV, each
layer, each forward) — the case of every jump-ahead step and every prefill here. The heads of
a group share their keys and values, so their queries can instead be stacked along the query
axis against the unrepeated KV (what transformers already does for a single query): the same
attention, without the copy. Everything else goes to transformers' SDPA unchanged.
"""

from __future__ import annotations

from typing import Any

NAME = "formwright_sdpa"


def grouped_sdpa(
    module: Any, query: Any, key: Any, value: Any, attention_mask: Any, **kwargs: Any
) -> tuple[Any, None]:
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    batch, heads, width, dim = query.shape
    if (
        groups == 1
        or width == 1
        or attention_mask is None
        or attention_mask.dtype != torch.bool
        or attention_mask.shape[1] != 1
        or kwargs.get("position_bias") is not None
    ):
        return sdpa_attention_forward(module, query, key, value, attention_mask, **kwargs)
    # head h reads kv head h // groups: [batch, kv_heads, groups * width, dim], row g*width+w
    stacked = query.reshape(batch, heads // groups, groups * width, dim)
    mask = attention_mask.repeat(1, 1, groups, 1)
    out = torch.nn.functional.scaled_dot_product_attention(
        stacked, key, value, attn_mask=mask, scale=kwargs.get("scaling")
    )
    return out.reshape(batch, heads, width, dim).transpose(1, 2).contiguous(), None


def use_grouped_sdpa(model: Any) -> None:
    """Route `model`'s SDPA attention through `grouped_sdpa` (other implementations stay)."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    if model.config._attn_implementation != "sdpa":
        return
    AttentionInterface.register(NAME, grouped_sdpa)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
