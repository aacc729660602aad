"""Serving LoRA adapters: per-request switching, LRU eviction, refusing damaged or foreign ones."""

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from runtime import AdapterRefused, GenerateRequest, ModelRuntime
from service.metrics.prom import PrometheusEvents
from training.config import TrainingConfig
from training.finetune import build_manifest, lora_config, save_adapter
from training.modeling import load_model

SCHEMA = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}


def make_adapter(
    dest: Path,
    model_dir: Path,
    *,
    seed: int,
    fingerprint: str,
    rank: int = 8,
    layers: float = 1.0,
    **lora: object,
) -> str:
    """A random (non-zero) LoRA adapter: its answers differ from the base model's. `lora`
    sets more LoraConfig fields."""
    import torch
    from peft import get_peft_model

    torch.manual_seed(seed)
    model, _ = load_model(model_dir)
    config = lora_config(TrainingConfig(lora_rank=rank, lora_layers=layers), model)
    config.init_lora_weights = False
    for key, value in lora.items():
        setattr(config, key, value)
    peft_model = get_peft_model(model, config)
    manifest = build_manifest(
        base_model_fingerprint=fingerprint,
        schema_id=1,
        schema_version=1,
        dataset_hash="sha256:0",
        config=TrainingConfig(),
    )
    return str(save_adapter(peft_model, dest, manifest))


@pytest.fixture(scope="module")
def runtime(tiny_model_dir: Path) -> ModelRuntime:
    runtime = ModelRuntime(
        model_path=tiny_model_dir, max_loaded_adapters=2, events=PrometheusEvents()
    )
    runtime.load()
    return runtime


@pytest.fixture(scope="module")
def adapters(runtime: ModelRuntime, tiny_model_dir: Path, tmp_path_factory) -> list[str]:
    root = tmp_path_factory.mktemp("adapters")
    return [
        make_adapter(root / f"a{i}", tiny_model_dir, seed=i, fingerprint=runtime.model_fingerprint)
        for i in range(3)
    ]


def answer(runtime: ModelRuntime, adapter: str | None) -> str:
    request = GenerateRequest(schema=SCHEMA, input="hello", mode="unconstrained", max_tokens=12)
    return runtime.generate(request, adapter=adapter).raw


def test_each_request_gets_its_own_adapter_and_the_base_stays_the_base(runtime, adapters):
    base = answer(runtime, None)
    first, second = answer(runtime, adapters[0]), answer(runtime, adapters[1])
    assert first != base
    assert second != first
    # Interleaved: switching back gives the same answers (greedy), no reload of the model.
    assert answer(runtime, None) == base
    assert answer(runtime, adapters[0]) == first
    assert answer(runtime, adapters[1]) == second


def test_least_recently_used_adapter_is_evicted_and_reloads(runtime, adapters):
    first = answer(runtime, adapters[0])
    answer(runtime, adapters[1])
    answer(runtime, adapters[2])
    assert runtime.loaded_adapters == [adapters[1], adapters[2]]
    assert answer(runtime, adapters[0]) == first
    assert runtime.loaded_adapters == [adapters[2], adapters[0]]


def test_auto_mode_uses_the_adapter_first_then_constrained(runtime, adapters):
    request = GenerateRequest(schema=SCHEMA, input="hello", mode="auto", max_tokens=40)
    result = runtime.generate(request, adapter=adapters[0])
    assert result.attempts[0].decoding == "unconstrained"
    if not result.attempts[0].valid:
        assert result.decoding.startswith("constrained:")
        assert len(result.attempts) == 2


def test_fields_an_adapter_copies_are_held_to_the_inputs_spans(runtime, tiny_model_dir, tmp_path):
    """The manifest says the adapter copies /a from its input (training/spans.py): constrained
    decoding, alone or as `auto`'s fallback, gives /a only text of the input; the random tiny
    model would write anything there otherwise. (Which valid free answers `auto` keeps is
    `training.spans.strays`, tested in tests/training/test_spans.py: this model's free answers
    are never valid JSON.)"""
    import json

    from training.finetune import MANIFEST
    from training.spans import span_units

    path = Path(
        make_adapter(tmp_path / "s", tiny_model_dir, seed=5, fingerprint=runtime.model_fingerprint)
    )
    manifest = json.loads((path / MANIFEST).read_text())
    (path / MANIFEST).write_text(json.dumps({**manifest, "copied_fields": {"/a": 2}}))
    text = "send the parcel to Oslo by Friday"
    for mode in ("constrained", "auto"):
        request = GenerateRequest(schema=SCHEMA, input=text, mode=mode, max_tokens=40)
        result = runtime.generate(request, adapter=str(path))
        assert result.valid
        assert span_units(text, result.output["a"]) is not None, result.output


def refusals() -> float:
    return REGISTRY.get_sample_value("formwright_adapter_refusals_total") or 0.0


def test_a_tampered_adapter_is_refused(runtime, tiny_model_dir, tmp_path):
    path = Path(
        make_adapter(tmp_path / "t", tiny_model_dir, seed=7, fingerprint=runtime.model_fingerprint)
    )
    weights = path / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-16])
    before = refusals()
    with pytest.raises(AdapterRefused, match="sha256 mismatch"):
        answer(runtime, str(path))
    assert str(path) not in runtime.loaded_adapters
    assert refusals() == before + 1


def test_an_adapter_for_another_base_model_is_refused(runtime, tiny_model_dir, tmp_path):
    path = make_adapter(tmp_path / "f", tiny_model_dir, seed=8, fingerprint="sha256:other")
    before = refusals()
    with pytest.raises(AdapterRefused, match="another base model"):
        answer(runtime, path)
    assert refusals() == before + 1


def test_an_adapter_the_engine_cannot_serve_is_refused(runtime, tiny_model_dir, tmp_path):
    fingerprint = runtime.model_fingerprint
    path = make_adapter(
        tmp_path / "d", tiny_model_dir, seed=9, fingerprint=fingerprint, use_dora=True
    )
    before = refusals()
    with pytest.raises(AdapterRefused, match="cannot be served: only plain LoRA"):
        answer(runtime, path)
    assert path not in runtime.loaded_adapters
    assert refusals() == before + 1
