"""The gathered LoRA forward gives each row exactly what peft gives it."""

from pathlib import Path

import pytest
import torch

from runtime.lora import LoraBank, UnsupportedAdapter, read_adapter
from tests.runtime.test_adapters import make_adapter
from training.modeling import load_model

TEXTS = ["hello there", "hi", "a somewhat longer input, padded less", "the top layers"]


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("lora")
    kinds = {
        "r8": {},
        "r4-rslora": {"rank": 4, "use_rslora": True},
        "top-half": {"layers": 0.5},  # TrainingConfig.lora_layers: LoRA on the top layers only
    }
    return {
        name: make_adapter(root / name, tiny_model_dir, seed=i, fingerprint="-", **options)
        for i, (name, options) in enumerate(kinds.items())
    }


def logits(model, tokenizer, **kwargs) -> torch.Tensor:
    enc = tokenizer(TEXTS, return_tensors="pt", padding=True, padding_side="left")
    with torch.inference_mode():
        return model(**enc, **kwargs).logits


def test_a_mixed_batch_gets_each_rows_peft_logits(tiny_model_dir, adapters):
    from peft import PeftModel

    model, tokenizer = load_model(tiny_model_dir)
    bank = LoraBank(model)
    for name, path in adapters.items():
        bank.add(name, read_adapter(Path(path), model))
    keys = ["r4-rslora", None, "r8", "top-half"]
    with bank.rows(keys):
        ours = logits(model, tokenizer)
    base = logits(model, tokenizer)  # outside a batch the hooks add nothing

    reference, _ = load_model(tiny_model_dir)
    assert torch.equal(base, logits(reference, tokenizer))
    peft = PeftModel.from_pretrained(reference, adapters["r8"], adapter_name="r8")
    peft.load_adapter(adapters["r4-rslora"], adapter_name="r4-rslora")
    peft.load_adapter(adapters["top-half"], adapter_name="top-half")
    expected = logits(peft, tokenizer, adapter_names=[key or "__base__" for key in keys])
    for row in (0, 2, 3):  # the adapters do change the answer
        assert not torch.allclose(ours[row], base[row], atol=1e-3)
    assert torch.allclose(ours, expected, atol=1e-5)


def test_an_adapter_reattached_under_its_key_serves_its_new_weights(tiny_model_dir, adapters):
    """The stacked matrices are kept while the rows stay the same: a key that now names other
    weights (an adapter re-read, or evicted and another attached) must not get the old ones."""
    model, tokenizer = load_model(tiny_model_dir)
    bank = LoraBank(model)
    bank.add("a", read_adapter(Path(adapters["r8"]), model))
    keys = ["a", None, "a", None]
    with bank.rows(keys):
        first = logits(model, tokenizer)
    with bank.rows(keys):
        assert torch.equal(logits(model, tokenizer), first)
    bank.remove("a")
    bank.add("a", read_adapter(Path(adapters["r4-rslora"]), model))
    with bank.rows(keys):
        second = logits(model, tokenizer)
    fresh = LoraBank(load_model(tiny_model_dir)[0])
    fresh.add("a", read_adapter(Path(adapters["r4-rslora"]), fresh.model))
    with fresh.rows(keys):
        expected = logits(fresh.model, tokenizer)
    assert not torch.allclose(second, first, atol=1e-3)
    assert torch.equal(second, expected)


def test_lora_weights_that_do_not_fit_the_model_are_refused(tiny_model_dir, adapters, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    path = Path(shutil.copytree(adapters["r8"], tmp_path / "cut"))
    weights = load_file(path / "adapter_model.safetensors")
    key = next(k for k in weights if k.endswith("lora_B.weight"))
    weights[key] = weights[key][:-1]  # one output row short
    save_file(weights, path / "adapter_model.safetensors")
    model, _ = load_model(tiny_model_dir)
    with pytest.raises(UnsupportedAdapter, match="LoRA shapes do not fit the base model"):
        read_adapter(path, model)
