import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from training.config import TrainingConfig
from training.data import Pair, dataset_hash
from training.finetune import (
    IGNORE,
    build_manifest,
    encode_pairs,
    finetune,
    list_checkpoints,
    plan_batches,
    planned_steps,
    save_adapter,
    verify_adapter,
)

PAIRS = [
    Pair("weather in Paris in celsius", {"city": "Paris", "unit": "celsius"}),
    Pair("is it cold in kelvin", {"city": None, "unit": "kelvin"}),
    Pair("rain in Rome tomorrow, fahrenheit please", {"city": "Rome", "unit": "fahrenheit"}),
    Pair("sunny in Oslo? celsius", {"city": "Oslo", "unit": "celsius"}),
]
# Small and fast: a few steps of the 2-layer model take well under a second.
FAST = TrainingConfig(
    max_steps=6, epochs=100, batch_size=2, learning_rate=1e-2, checkpoint_every=2, seed=3
)


def trainable(model: Any) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from training.modeling import load_tokenizer

    return load_tokenizer(tiny_model_dir)


def test_loss_is_on_the_target_tokens_only(tokenizer: Any) -> None:
    encoded, dropped = encode_pairs(tokenizer, PAIRS[:1], max_seq_len=512)
    assert dropped == 0
    (example,) = encoded
    target = [t for t in example.labels if t != IGNORE]
    first = example.labels.index(target[0])
    assert example.labels[:first] == [IGNORE] * first
    assert example.input_ids[first:] == target
    assert tokenizer.decode(target) == '{"city":"Paris","unit":"celsius"}<|im_end|>'
    assert tokenizer.decode(example.input_ids[:first]).endswith("<|im_start|>assistant\n")
    assert "weather in Paris in celsius" in tokenizer.decode(example.input_ids[:first])
    _, dropped = encode_pairs(tokenizer, PAIRS, max_seq_len=len(example) - 1)
    assert dropped >= 1


def test_target_loss_equals_the_full_forward_loss(tiny_model_dir: Path, tokenizer: Any) -> None:
    import torch
    import torch.nn.functional as F

    from training.finetune import _collate, target_loss
    from training.modeling import load_model

    model, _ = load_model(tiny_model_dir, device="cpu")
    encoded, _ = encode_pairs(tokenizer, PAIRS, max_seq_len=512)
    ids, labels, mask = _collate(encoded, tokenizer.pad_token_id)
    with torch.no_grad():
        fast = target_loss(model, ids, labels, mask)
        logits = model(input_ids=ids, attention_mask=mask).logits
        full = F.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1)
        )
    assert torch.allclose(fast, full, atol=1e-5)


def test_the_shared_prompt_prefix_runs_once_with_the_same_loss_and_gradients(
    tiny_model_dir: Path, tokenizer: Any
) -> None:
    import torch
    import torch.nn.functional as F
    from peft import get_peft_model

    from training.finetune import _collate, lora_config, shared_prefix, target_loss
    from training.modeling import load_model

    model, _ = load_model(tiny_model_dir, device="cpu")
    model = get_peft_model(model, lora_config(TrainingConfig(lora_dropout=0.0), model))
    torch.manual_seed(0)
    for name, param in model.named_parameters():
        if "lora_B" in name:  # LoRA starts as a no-op; make it count in the prefix's K/V
            torch.nn.init.normal_(param, std=0.5)
    encoded, _ = encode_pairs(tokenizer, PAIRS, max_seq_len=512)
    ids, labels, mask = _collate(encoded, tokenizer.pad_token_id)
    assert shared_prefix(ids, labels, mask) == 27  # SmolLM2's system turn

    def loss_and_grads(loss: Any) -> tuple[float, list[Any]]:
        model.zero_grad()
        loss.backward()
        grads = [p.grad.clone() for p in model.parameters() if p.requires_grad]
        return float(loss.detach()), grads

    fast, fast_grads = loss_and_grads(target_loss(model, ids, labels, mask))
    logits = model(input_ids=ids, attention_mask=mask).logits
    full, full_grads = loss_and_grads(
        F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))
    )
    assert fast == pytest.approx(full, abs=1e-5)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(fast_grads, full_grads, strict=True))
    # One row, or rows that differ from the first token: nothing to share.
    assert shared_prefix(ids[:1], labels[:1], mask[:1]) == 0


def test_batch_plan() -> None:
    lengths = [5, 9, 3, 7, 1, 8, 2]
    config = TrainingConfig(batch_size=2, epochs=2, max_steps=100, bucket_batches=2, seed=1)
    plan = plan_batches(lengths, config)
    assert len(plan) == 2 * math.ceil(7 / 2)
    assert plan == plan_batches(lengths, config)
    for epoch in (plan[:4], plan[4:]):
        assert sorted(i for batch in epoch for i in batch) == list(range(7))
    # within a bucket window, batches are cut from examples sorted by length
    assert all(lengths[b[0]] >= lengths[b[-1]] for b in plan)
    capped = TrainingConfig(batch_size=2, epochs=2, max_steps=3, bucket_batches=2, seed=1)
    assert plan_batches(lengths, capped) == plan[:3]
    half = TrainingConfig(batch_size=2, epochs=0.5, max_steps=100, bucket_batches=2, seed=1)
    assert len(plan_batches(lengths, half)) == 2
    # Mean length 5, 2 per step: 10 tokens a step; a 25-token budget buys 3 steps.
    budget = TrainingConfig(batch_size=2, epochs=2, max_train_tokens=25, bucket_batches=2, seed=1)
    assert plan_batches(lengths, budget) == plan[:3]


def test_the_token_budget_bounds_long_inputs_not_short_ones() -> None:
    config = TrainingConfig()  # the defaults
    snips = [100] * 600  # snips-weather: ~600 pairs of ~100 tokens
    receipts = [350] * 350  # long inputs
    assert planned_steps(snips, config) == config.epochs * 600 / config.batch_size
    assert planned_steps(receipts, config) * 4 * 350 <= config.max_train_tokens + 4 * 350
    assert planned_steps(receipts, config) < config.max_steps / 3


def test_loss_goes_down_on_a_repeated_tiny_dataset(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = TrainingConfig(
        max_steps=20,
        epochs=100,
        batch_size=4,
        learning_rate=1e-2,
        lora_dropout=0.0,
        checkpoint_every=100,
    )
    progress: list[tuple] = []
    result = finetune(
        tiny_model_dir,
        PAIRS,
        config=config,
        checkpoint_dir=tmp_path,
        on_progress=lambda *args: progress.append(args),
    )
    assert (result.status, result.step, result.total_steps) == ("completed", 20, 20)
    assert len(result.losses) == 20
    # a 2-layer random model with r=8 adapters: from ~ln(49152) = 10.8 down by more than 0.5
    assert sum(result.losses[-3:]) / 3 < result.losses[0] - 0.5
    assert [p[0] for p in progress] == list(range(1, 21))
    step, total, loss, tokens_per_s, eta_s = progress[-1]
    assert (step, total, loss, eta_s) == (20, 20, result.losses[-1], 0.0)
    assert tokens_per_s > 0
    # the last step is always checkpointed
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-000020"]


def test_a_run_ends_at_the_first_window_under_converged_loss_and_resumes_there(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    full = finetune(
        tiny_model_dir,
        PAIRS,
        config=replace(FAST, converged_loss=None),
        checkpoint_dir=tmp_path / "full",
    )
    assert (full.step, full.converged) == (6, False)
    means = [sum(full.losses[k - 3 : k]) / 3 for k in range(3, 7)]
    # a threshold the mean of steps 2-4 passes
    config = replace(FAST, converged_loss=means[1] + 1e-6, converged_window=3)
    first = next(
        k for k, mean in zip(range(3, 7), means, strict=True) if mean < config.converged_loss
    )
    progress: list[tuple] = []
    result = finetune(
        tiny_model_dir,
        PAIRS,
        config=config,
        checkpoint_dir=tmp_path / "early",
        on_progress=lambda *args: progress.append(args),
    )
    assert (result.status, result.step, result.total_steps) == ("completed", first, 6)
    assert result.converged
    assert result.losses == full.losses[:first]
    step, total, *_, eta_s = progress[-1]
    assert (step, total, eta_s) == (first, first, 0.0)  # the progress bar ends full
    assert list_checkpoints(tmp_path / "early")[-1].name == f"checkpoint-{first:06d}"
    # a worker that dies after training resumes a converged run: it does not train on
    again = finetune(tiny_model_dir, PAIRS, config=config, checkpoint_dir=tmp_path / "early")
    assert (again.step, again.resumed_from, again.losses) == (first, first, result.losses)
    assert again.converged


def test_lora_layers_adapts_only_the_top_layers(tiny_model_dir: Path, tmp_path: Path) -> None:
    config = replace(FAST, max_steps=2, lora_layers=0.5)
    result = finetune(tiny_model_dir, PAIRS, config=config, checkpoint_dir=tmp_path)
    adapted = {n for n, p in result.model.named_parameters() if p.requires_grad}
    # The tiny model has 2 layers: LoRA on every linear of layer 1, none on layer 0.
    assert all(".layers.1." in n for n in adapted)
    assert len(adapted) == 2 * 7  # A and B of q, k, v, o, gate, up, down


def test_bf16_training_keeps_the_adapter_fp32_and_learns_like_fp32(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from safetensors.torch import load_file

    config = replace(FAST, max_steps=12, lora_dropout=0.0)
    runs = {
        precision: finetune(
            tiny_model_dir,
            PAIRS,
            config=replace(config, precision=precision),
            checkpoint_dir=tmp_path / precision,
        )
        for precision in ("fp32", "bf16")
    }
    model = runs["bf16"].model
    assert {p.dtype for p in model.parameters() if not p.requires_grad} == {torch.bfloat16}
    assert {p.dtype for p in model.parameters() if p.requires_grad} == {torch.float32}
    fp32, bf16 = runs["fp32"].losses, runs["bf16"].losses
    assert sum(bf16[-3:]) / 3 < bf16[0] - 0.5
    # bf16 rounding moves the curve a little, not its course
    assert all(abs(a - b) < 0.05 * a for a, b in zip(fp32, bf16, strict=True))
    # the adapter serves on the fp32 engine: it is saved in fp32
    dest = save_adapter(model, tmp_path / "adapter", {})
    saved = load_file(dest / "adapter_model.safetensors")
    assert {t.dtype for t in saved.values()} == {torch.float32}


def test_bf16_lora_layers_take_their_input_uncast_for_the_same_loss_and_gradients(
    tiny_model_dir: Path,
) -> None:
    import torch
    from peft import get_peft_model

    from training.finetune import _collate, lora_config, target_loss, uncast_lora_inputs
    from training.modeling import load_model

    model, tokenizer = load_model(tiny_model_dir, precision="bf16")
    config = replace(FAST, lora_dropout=0.0)
    torch.manual_seed(0)
    model = get_peft_model(model, lora_config(config, model))
    for name, param in model.named_parameters():
        if "lora_B" in name:  # as trained, not zero: the LoRA branch counts in the loss
            torch.nn.init.normal_(param, std=0.1)
    encoded, _ = encode_pairs(tokenizer, PAIRS, max_seq_len=512)
    batch = _collate(encoded, tokenizer.pad_token_id)
    inputs: list[Any] = []
    lora_a = next(m for n, m in model.named_modules() if n.endswith("q_proj.lora_A.default"))
    lora_a.register_forward_hook(lambda module, args, out: inputs.append(args[0].dtype))

    def step() -> tuple[float, dict[str, Any]]:
        inputs.clear()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = target_loss(model, *batch)
        loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        model.zero_grad(set_to_none=True)
        return loss.item(), grads

    cast_loss, cast_grads = step()
    assert set(inputs) == {torch.float32}  # peft copies the bf16 activation to fp32
    uncast_lora_inputs(model)
    loss, grads = step()
    assert set(inputs) == {torch.bfloat16}
    assert loss == pytest.approx(cast_loss, rel=1e-3)
    for name, grad in grads.items():
        assert torch.allclose(grad, cast_grads[name], rtol=1e-2, atol=1e-4), name


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("p", [0.05, 0.3, 0.9])
def test_lora_dropout_drops_its_share_and_keeps_the_mean(dtype: str, p: float) -> None:
    import torch

    from training.finetune import _bits_dropout

    torch.manual_seed(0)
    dropout = _bits_dropout()(p)
    x = torch.ones(4, 90, 576, dtype=getattr(torch, dtype))
    out = dropout(x)
    dropped = (out == 0).float().mean().item()
    assert abs(dropped - p) < 0.01
    kept = out[out != 0].unique().tolist()
    assert kept == [pytest.approx(1 / (1 - p), rel=1e-2)]
    assert abs(out.float().mean().item() - 1) < 0.05  # inverted dropout: the mean holds
    # masks differ from call to call and element to element; eval mode is the identity
    assert not torch.equal(dropout(x), out)
    assert torch.equal(dropout.eval()(x), x)


def test_training_swaps_lora_dropout_for_bits_dropout(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    config = replace(FAST, max_steps=1, lora_dropout=0.1)
    model = finetune(tiny_model_dir, PAIRS, config=config, checkpoint_dir=tmp_path).model
    dropouts = [m for name, m in model.named_modules() if ".lora_dropout." in name]
    assert len(dropouts) == 2 * 7
    assert all(type(m).__name__ == "BitsDropout" and m.p == 0.1 for m in dropouts)
    assert not any(isinstance(m, torch.nn.Dropout) for m in dropouts)


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [({"avx512_bf16": True}, "bfloat16"), ({"amx_bf16": True}, "bfloat16"), ({}, "float32")],
)
def test_auto_precision_is_bf16_only_where_the_cpu_multiplies_bf16(
    monkeypatch: pytest.MonkeyPatch, capabilities: dict[str, bool], expected: str
) -> None:
    import torch

    from training.modeling import weight_dtype

    monkeypatch.setattr(torch.cpu, "get_capabilities", lambda: capabilities)
    assert weight_dtype("cpu", "auto") == getattr(torch, expected)
    assert weight_dtype("cpu", "fp32") == torch.float32
    assert weight_dtype("cpu", "bf16") == torch.bfloat16


def test_stop_checkpoint_resume_matches_an_uninterrupted_run(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    straight = finetune(tiny_model_dir, PAIRS, config=FAST, checkpoint_dir=tmp_path / "a")

    steps_seen: list[int] = []
    stopped = finetune(
        tiny_model_dir,
        PAIRS,
        config=FAST,
        checkpoint_dir=tmp_path / "b",
        on_progress=lambda step, *_: steps_seen.append(step),
        should_stop=lambda: len(steps_seen) >= 3,
    )
    assert (stopped.status, stopped.step) == ("cancelled", 3)
    # periodic checkpoint at 2, the stop's at 3; keep_checkpoints=2
    assert [p.name for p in list_checkpoints(tmp_path / "b")] == [
        "checkpoint-000002",
        "checkpoint-000003",
    ]
    state = json.loads((tmp_path / "b" / "checkpoint-000003" / "state.json").read_text())
    assert state["step"] == 3
    assert len(state["plan"]) == 6

    resumed = finetune(tiny_model_dir, PAIRS, config=FAST, checkpoint_dir=tmp_path / "b")
    assert (resumed.status, resumed.step, resumed.resumed_from) == ("completed", 6, 3)
    assert resumed.losses == straight.losses
    a, b = trainable(straight.model), trainable(resumed.model)
    assert a.keys() == b.keys()
    import torch

    assert all(torch.equal(a[name], b[name]) for name in a)


def test_resume_refuses_another_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    finetune(
        tiny_model_dir,
        PAIRS,
        config=FAST,
        checkpoint_dir=tmp_path,
        should_stop=lambda: True,
    )
    assert [p.name for p in list_checkpoints(tmp_path)] == ["checkpoint-000000"]
    other = TrainingConfig(**{**FAST.to_dict(), "learning_rate": 1e-3})
    with pytest.raises(ValueError, match="another config or dataset"):
        finetune(tiny_model_dir, PAIRS, config=other, checkpoint_dir=tmp_path)
    fresh = finetune(
        tiny_model_dir,
        PAIRS,
        config=other,
        checkpoint_dir=tmp_path,
        resume=False,
    )
    assert (fresh.status, fresh.resumed_from) == ("completed", None)


def test_saved_adapter_loads_with_plain_peft_and_is_verified(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    result = finetune(tiny_model_dir, PAIRS, config=FAST, checkpoint_dir=tmp_path / "ckpt")
    manifest = build_manifest(
        base_model_fingerprint="sha256:base",
        schema_id=7,
        schema_version=2,
        dataset_hash=dataset_hash(PAIRS),
        config=FAST,
        metrics={"exact_match": 0.5},
    )
    dest = save_adapter(result.model, tmp_path / "adapters" / "v2", manifest)
    assert sorted(p.name for p in dest.iterdir()) == [
        "adapter_config.json",
        "adapter_model.safetensors",
        "manifest.json",
    ]
    assert [p.name for p in dest.parent.iterdir()] == ["v2"]  # no temp dir left behind
    written = json.loads((dest / "manifest.json").read_text())
    assert written["format"] == "formwright-adapter/1"
    assert written["schema_id"] == 7
    assert written["hyperparameters"]["lora_rank"] == TrainingConfig().lora_rank
    assert written["metrics"] == {"exact_match": 0.5}
    assert sorted(written["files"]) == ["adapter_config.json", "adapter_model.safetensors"]
    assert verify_adapter(dest) == []

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    loaded = PeftModel.from_pretrained(base, dest)
    trained = {n.replace(".default", ""): p for n, p in trainable(result.model).items()}
    loaded_weights = {
        n.replace(".default", ""): p for n, p in loaded.named_parameters() if "lora_" in n
    }
    assert loaded_weights.keys() == trained.keys()
    assert all(torch.equal(loaded_weights[n], trained[n]) for n in trained)

    with pytest.raises(FileExistsError):
        save_adapter(result.model, dest, manifest)

    weights = dest / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    (dest / "notes.txt").write_text("hi")
    assert verify_adapter(dest) == [
        "adapter_model.safetensors: sha256 mismatch",
        "notes.txt: not in the manifest",
    ]
    (dest / "adapter_config.json").unlink()
    assert "adapter_config.json: missing" in verify_adapter(dest)
    (dest / "manifest.json").write_text("{")
    assert verify_adapter(dest)[0].startswith("manifest.json: unreadable")
