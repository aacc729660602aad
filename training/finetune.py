"""LoRA fine-tuning of a causal LM on (input, JSON output) pairs, resumable, cancellable.

Each example is the adapter's serving prompt (`prompts.render_prompt` of
`prompts.build_messages` with no schema and no few-shot turns) followed by the target
(`prompts.render_target` + EOS); the loss is on the target tokens only. Serving an adapter
must therefore prompt the same way (the engine does).

Heavy imports (torch, transformers, peft) happen inside the functions.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import math
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import TrainingConfig
from training.data import Pair, dataset_hash
from training.threads import own_thread

IGNORE = -100
CHECKPOINT_PREFIX = "checkpoint-"
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "formwright-adapter/1"

OnProgress = Callable[[int, int, float, float, float], None]
ShouldStop = Callable[[], bool]


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]  # IGNORE on the prompt

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class FinetuneResult:
    status: str  # "completed" or "cancelled"
    step: int
    total_steps: int  # planned; a converged run completes at `step` before it
    losses: list[float]  # one per step, from step 1 (resumed runs include earlier steps)
    tokens: int  # tokens forwarded in this run (padding excluded)
    seconds: float  # wall time of this run
    dropped: int  # examples longer than max_seq_len, left out
    checkpoint: Path | None  # the latest checkpoint written
    resumed_from: int | None  # the step this run resumed at, if it did
    precision: str  # what config.precision resolved to here: fp32, bf16 or fp16
    model: Any = field(default=None, repr=False)  # the PeftModel (trained as far as `step`)
    tokenizer: Any = field(default=None, repr=False)

    @property
    def final_loss(self) -> float | None:
        return self.losses[-1] if self.losses else None

    @property
    def converged(self) -> bool:
        """Completed before its planned steps: `converged(losses)` said so."""
        return self.status == "completed" and self.step < self.total_steps


# --- data ------------------------------------------------------------------------------------


def encode_pairs(
    tokenizer: Any,
    pairs: Sequence[Pair],
    *,
    schema: dict[str, Any] | None = None,
    description: str | None = None,
    instructions: str | None = None,
    max_seq_len: int,
) -> tuple[list[Encoded], int]:
    """Token ids and labels per pair, and how many pairs were longer than `max_seq_len`.

    Prompt and target are tokenized apart, as serving does (the prompt is encoded, then the
    model writes the target), so the adapter learns the token boundary it will meet. Targets
    are written in `schema`'s property order, the order constrained decoding will follow.
    """
    from training.prompts import build_messages, in_schema_order, render_prompt, render_target

    encoded, dropped = [], 0
    for pair in pairs:
        messages = build_messages(
            schema=None,  # an adapter's prompt: it learns its schema, it is not shown it
            description=description,
            instructions=instructions,
            examples=[],
            input=pair.input,
        )
        prompt = tokenizer(render_prompt(tokenizer, messages), add_special_tokens=False)
        target = tokenizer(
            render_target(in_schema_order(pair.output, schema), tokenizer.eos_token),
            add_special_tokens=False,
        )
        ids = list(prompt["input_ids"]) + list(target["input_ids"])
        if len(ids) > max_seq_len:
            dropped += 1
            continue
        labels = [IGNORE] * len(prompt["input_ids"]) + list(target["input_ids"])
        encoded.append(Encoded(ids, labels))
    return encoded, dropped


def planned_steps(lengths: Sequence[int], config: TrainingConfig) -> int:
    """Optimizer steps of a run: `epochs` passes, capped by `max_steps` and by the
    `max_train_tokens` budget at the data's mean example length.

    A step costs about its tokens, so the token budget bounds the time whatever the input
    length: 300 steps are ~120k tokens on snips-weather but ~420k on 350-token receipts.
    """
    if not lengths:
        return 0
    per_epoch = math.ceil(len(lengths) / config.batch_size)
    steps = min(config.max_steps, math.ceil(config.epochs * per_epoch))
    if config.max_train_tokens is not None:
        tokens_per_step = config.batch_size * sum(lengths) / len(lengths)
        steps = min(steps, math.ceil(config.max_train_tokens / tokens_per_step))
    return max(1, steps)


def converged(losses: Sequence[float], config: TrainingConfig) -> bool:
    """Whether the run can end: the mean loss of its last `converged_window` steps is below
    `converged_loss`. A function of the losses alone, so a resumed run decides as the
    uninterrupted one did."""
    window = config.converged_window
    if config.converged_loss is None or len(losses) < window:
        return False
    return sum(losses[-window:]) / window < config.converged_loss


def plan_batches(lengths: Sequence[int], config: TrainingConfig) -> list[list[int]]:
    """The whole run's batches (lists of example indices), one per step.

    Per epoch: a seeded shuffle, then windows of `bucket_batches` batches are sorted by
    length and cut into batches (little padding), then the batches are shuffled. The plan is
    stored in each checkpoint, so a resumed run sees exactly the same batches.
    """
    n = len(lengths)
    if n == 0:
        return []
    total = planned_steps(lengths, config)
    plan: list[list[int]] = []
    epoch = 0
    while len(plan) < total:
        rng = random.Random(f"{config.seed}:{epoch}")
        order = list(range(n))
        rng.shuffle(order)
        window = config.batch_size * config.bucket_batches
        batches = []
        for start in range(0, n, window):
            chunk = sorted(order[start : start + window], key=lambda i: (-lengths[i], i))
            batches += [
                chunk[b : b + config.batch_size] for b in range(0, len(chunk), config.batch_size)
            ]
        rng.shuffle(batches)
        plan += batches
        epoch += 1
    return plan[:total]


def _collate(examples: Sequence[Encoded], pad_id: int) -> tuple[Any, Any, Any]:
    import torch

    width = max(len(e) for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, e in enumerate(examples):
        ids[row, : len(e)] = torch.tensor(e.input_ids)
        labels[row, : len(e)] = torch.tensor(e.labels)
        mask[row, : len(e)] = 1
    return ids, labels, mask


# --- model -----------------------------------------------------------------------------------


def lora_config(config: TrainingConfig, model: Any) -> Any:
    """peft's LoraConfig for `config` on `model` (a transformers decoder)."""
    import torch
    from peft import LoraConfig, TaskType

    targets, layers = config.target_modules, None
    num_layers = model.config.num_hidden_layers
    adapted = max(1, math.ceil(config.lora_layers * num_layers))
    if adapted < num_layers:
        layers = list(range(num_layers - adapted, num_layers))
        if targets == "all-linear":  # peft takes a layer list only with module names
            head = model.get_output_embeddings()
            targets = sorted(
                {
                    name.rsplit(".", 1)[-1]
                    for name, module in model.named_modules()
                    if isinstance(module, torch.nn.Linear) and module is not head
                }
            )
    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=config.lora_rank,
        lora_alpha=config.alpha,  # type: ignore[arg-type]  # typed int, any number works
        lora_dropout=config.lora_dropout,
        target_modules=targets,
        layers_to_transform=layers,
        bias="none",
    )


@functools.cache
def _bits_dropout() -> type:
    import torch

    class BitsDropout(torch.nn.Module):
        """Dropout (inverted, like `nn.Dropout`) whose mask takes 16 random bits an element,
        four from each 64-bit draw of torch's generator. `nn.Dropout` draws a float an
        element: ~1.2 ms for one 4x90x576 LoRA input on 2 cores, 420 inputs a step, 15-19%
        of a bf16 step in the profiler; this one made a step 7-11% faster (`bench/step.py`).
        `p` is kept to 1/65536."""

        def __init__(self, p: float) -> None:
            super().__init__()
            self.p = p
            self.threshold = round(p * 65536) - 32768  # int16 draws below it drop

        def forward(self, x: Any) -> Any:
            if not self.training or self.p == 0:
                return x
            n = x.numel()
            bits = torch.empty((n + 3) // 4, dtype=torch.int64, device=x.device)
            bits.random_(-(2**63), None)  # all 64 bits (random_() leaves the sign bit 0)
            keep = bits.view(torch.int16)[:n].view(x.shape) >= self.threshold
            # x * keep is exact in any dtype; the scale then rounds once, as it would in fp32.
            return x * keep.to(x.dtype) * (1 / (1 - self.p))

        def extra_repr(self) -> str:
            return f"p={self.p}"

    return BitsDropout


def cheap_lora_dropout(model: Any) -> None:
    """Swap peft's LoRA input dropout (`nn.Dropout`) for `BitsDropout`, the same
    regularizer with cheaper masks (it trains no parameter and saves nothing)."""
    import torch

    for module in model.modules():
        dropouts = getattr(module, "lora_dropout", None)
        if isinstance(dropouts, torch.nn.ModuleDict):
            for name, dropout in dropouts.items():
                if isinstance(dropout, torch.nn.Dropout) and dropout.p > 0:
                    dropouts[name] = _bits_dropout()(dropout.p)


def uncast_lora_inputs(model: Any) -> None:
    """Let peft's LoRA layers take their input in the dtype it comes in, for training under
    bf16 autocast. peft casts each LoRA input to the adapter's dtype (fp32), and autocast casts
    it back to bf16 for the matmul: two copies of the activation a layer, forward and
    backward, for the same bf16 product. Without them a bf16 step took 9-11% less on an AMX
    Xeon (snips-commands and receipts batches, the two ways interleaved in one process).
    Without autocast the casts are needed."""
    for module in model.modules():
        if hasattr(module, "cast_input_dtype_enabled"):
            module.cast_input_dtype_enabled = False


def shared_prefix(ids: Any, labels: Any, mask: Any) -> int:
    """How many leading tokens every row of a batch has in common, before any target token.

    Every adapter prompt starts with the same system message (27 tokens of SmolLM2's chat
    template, a quarter to a third of a snips example), so a batch can run it once.
    """
    import torch

    if ids.shape[0] < 2:
        return 0
    same = (ids == ids[:1]).all(dim=0) & mask.bool().all(dim=0)
    n = int(torch.cumprod(same.long(), dim=0).sum())
    targets = (labels != IGNORE).any(dim=0).nonzero()
    first_target = int(targets[0]) if len(targets) else ids.shape[1]
    # The position before the first target token must stay in the rows: its hidden state
    # predicts that token.
    return max(0, min(n, first_target - 1))


def target_loss(model: Any, ids: Any, labels: Any, mask: Any) -> Any:
    """Mean cross-entropy over the target tokens of a batch.

    The LM head (49k x 576 for SmolLM2) runs only at target positions, ~1/6 of the
    sequence here, when the model's logits are the plain head over the last hidden state.
    The prompt prefix all rows share runs once, as a one-row KV cache repeated for the batch
    (the same loss and gradients: tests/training/test_finetune.py): ~23% fewer tokens a
    step on snips.
    """
    import torch.nn.functional as F

    hf = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(hf, "base_model", hf)
    head = hf.get_output_embeddings()
    plain = (
        backbone is not hf
        and head is not None
        and getattr(hf.config, "final_logit_softcapping", None) is None
        and getattr(hf.config, "logit_scale", None) is None
    )
    if not plain:
        shift_labels = labels[:, 1:]
        keep = shift_labels != IGNORE
        logits = model(input_ids=ids, attention_mask=mask).logits[:, :-1][keep]
        return F.cross_entropy(logits.float(), shift_labels[keep])
    start = shared_prefix(ids, labels, mask)
    past: dict[str, Any] = {}
    if start:
        prefix = backbone(input_ids=ids[:1, :start], use_cache=True)
        # transformers 5.x renamed past_key_values to cache (the old name warns, then goes).
        name = "cache" if "cache" in inspect.signature(backbone.forward).parameters else None
        cache = prefix[name] if name else prefix.past_key_values
        cache.batch_repeat_interleave(ids.shape[0])
        past = {name or "past_key_values": cache}
    hidden = backbone(
        input_ids=ids[:, start:], attention_mask=mask, use_cache=False, **past
    ).last_hidden_state
    shift_labels = labels[:, start + 1 :]
    keep = shift_labels != IGNORE
    return F.cross_entropy(head(hidden[:, :-1][keep]).float(), shift_labels[keep])


def _schedule(optimizer: Any, *, warmup: int, total: int) -> Any:
    from torch.optim.lr_scheduler import LambdaLR

    def factor(step: int) -> float:
        # No zero-LR step: warmup reaches the peak at `warmup`, decay ends at 1/(total-warmup).
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))

    return LambdaLR(optimizer, factor)


# --- checkpoints -----------------------------------------------------------------------------


def _rng_state() -> dict[str, Any]:
    import numpy as np
    import torch

    state = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _trainable_state(model: Any) -> dict[str, Any]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def list_checkpoints(checkpoint_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first (a checkpoint is complete once it has its name)."""
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return []
    found = [
        p
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith(CHECKPOINT_PREFIX) and (p / "state.json").is_file()
    ]
    return sorted(found, key=lambda p: int(p.name.removeprefix(CHECKPOINT_PREFIX)))


def _save_checkpoint(
    root: Path,
    *,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    keep: int,
) -> Path:
    import torch
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    dest = root / f"{CHECKPOINT_PREFIX}{step:06d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=root))
    try:
        save_file(_trainable_state(model), tmp / "adapter.safetensors")
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(_rng_state(), tmp / "rng.pt")
        (tmp / "state.json").write_text(json.dumps(state))
        if dest.exists():  # the same step saved again (stop right after a periodic save)
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    for old in list_checkpoints(root)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return dest


def _run_key(config: TrainingConfig, data_hash: str, n: int) -> dict[str, Any]:
    return {"config": config.to_dict(), "dataset_hash": data_hash, "examples": n}


# --- training --------------------------------------------------------------------------------


@own_thread
def finetune(
    base_model: Path,
    train: Sequence[Pair],
    *,
    config: TrainingConfig | None = None,
    checkpoint_dir: Path,
    schema: dict[str, Any] | None = None,
    description: str | None = None,
    instructions: str | None = None,
    resume: bool = True,
    on_progress: OnProgress | None = None,
    should_stop: ShouldStop | None = None,
    device: str | None = None,
) -> FinetuneResult:
    """Train a LoRA adapter on `train` for `config`'s steps, or fewer once its loss has
    `converged`; return it with the run's story.

    Every `checkpoint_every` steps (and on a stop) the adapter weights, optimizer, scheduler,
    step, batch plan and python/numpy/torch RNG states go to `checkpoint_dir`. With
    `resume=True` the latest checkpoint there is continued exactly: same batches, same
    dropout, the same final weights as an uninterrupted run. A checkpoint made with another
    config or dataset is refused (ValueError): point a new run at a fresh directory.
    `resume=False` starts over and deletes the checkpoints already there.
    `should_stop()` is checked before every step; when it answers True the run checkpoints
    and returns status "cancelled". `on_progress(step, total, loss, tokens_per_s, eta_s)`
    follows every step. The training runs in a thread of its own (training/threads.py).
    """
    import torch
    from peft import get_peft_model
    from safetensors.torch import load_file

    from training.modeling import load_model

    config = config or TrainingConfig()
    torch.set_num_threads(os.cpu_count() or 1)
    checkpoint_dir = Path(checkpoint_dir)

    model, tokenizer = load_model(Path(base_model), device=device, precision=config.precision)
    device = str(next(model.parameters()).device)
    # bf16 weights: the matmuls run in bf16 under autocast; the adapter (peft keeps it fp32),
    # its gradients and the optimizer stay fp32.
    dtype = next(model.parameters()).dtype
    precision = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
    autocast = torch.autocast(
        device.split(":")[0], dtype=torch.bfloat16, enabled=precision == "bf16"
    )
    encoded, dropped = encode_pairs(
        tokenizer,
        train,
        schema=schema,
        description=description,
        instructions=instructions,
        max_seq_len=config.max_seq_len,
    )
    if not encoded:
        raise ValueError(
            f"no training example fits in max_seq_len={config.max_seq_len} tokens "
            f"({dropped} left out)"
        )
    key = _run_key(config, dataset_hash(train), len(encoded))

    torch.manual_seed(config.seed)
    model = get_peft_model(model, lora_config(config, model))
    cheap_lora_dropout(model)
    if precision == "bf16":  # under autocast
        uncast_lora_inputs(model)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=config.weight_decay)

    plan = plan_batches([len(e) for e in encoded], config)
    total = len(plan)
    warmup = math.ceil(config.warmup_ratio * total)
    scheduler = _schedule(optimizer, warmup=warmup, total=total)
    step, losses, resumed_from = 0, [], None

    latest = list_checkpoints(checkpoint_dir)[-1:] if resume else []
    if latest:
        ckpt = latest[0]
        state = json.loads((ckpt / "state.json").read_text())
        if state["key"] != key:
            raise ValueError(
                f"{ckpt} was made by a run with another config or dataset; "
                "resume only the same run, or use a fresh checkpoint_dir"
            )
        weights = load_file(ckpt / "adapter.safetensors", device=device)
        missing = set(weights) ^ {n for n, p in model.named_parameters() if p.requires_grad}
        if missing:
            raise ValueError(f"{ckpt} does not match this model's adapter: {sorted(missing)[:3]}")
        model.load_state_dict(weights, strict=False)
        optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", map_location=device))
        scheduler.load_state_dict(torch.load(ckpt / "scheduler.pt", weights_only=False))
        plan = state["plan"]
        step = resumed_from = state["step"]
        losses = state["losses"]
        _set_rng_state(torch.load(ckpt / "rng.pt", weights_only=False))
    elif resume is False and checkpoint_dir.exists():
        for old in list_checkpoints(checkpoint_dir):
            shutil.rmtree(old, ignore_errors=True)

    def checkpoint() -> Path:
        state = {"key": key, "step": step, "total_steps": total, "plan": plan, "losses": losses}
        return _save_checkpoint(
            checkpoint_dir,
            step=step,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            state=state,
            keep=config.keep_checkpoints,
        )

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    started = time.perf_counter()
    tokens = 0
    saved: Path | None = latest[0] if latest else None
    status = "completed"
    while step < total and not converged(losses, config):
        if should_stop is not None and should_stop():
            saved = checkpoint()
            status = "cancelled"
            break
        batch = [encoded[i] for i in plan[step]]
        ids, labels, mask = (t.to(device) for t in _collate(batch, pad_id))
        with autocast:
            loss = target_loss(model, ids, labels, mask)
        loss.backward()
        if config.max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step += 1
        losses.append(float(loss.detach()))
        tokens += int(mask.sum())
        end = step if converged(losses, config) else total
        if step % config.checkpoint_every == 0 or step == end:
            saved = checkpoint()
        if on_progress is not None:
            elapsed = time.perf_counter() - started
            done = step - (resumed_from or 0)
            eta = elapsed / done * (end - step)
            on_progress(step, end, losses[-1], tokens / max(elapsed, 1e-9), eta)

    model.eval()
    return FinetuneResult(
        status=status,
        step=step,
        total_steps=total,
        losses=losses,
        tokens=tokens,
        seconds=time.perf_counter() - started,
        dropped=dropped,
        checkpoint=saved,
        resumed_from=resumed_from,
        precision=precision,
        model=model,
        tokenizer=tokenizer,
    )


# --- the adapter artifact --------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def build_manifest(
    *,
    base_model_fingerprint: str,
    schema_id: int | str,
    schema_version: int,
    dataset_hash: str,
    config: TrainingConfig,
    metrics: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The manifest body; `save_adapter` adds the format, creation time and file hashes."""
    return {
        "base_model_fingerprint": base_model_fingerprint,
        "schema_id": schema_id,
        "schema_version": schema_version,
        "dataset_hash": dataset_hash,
        "hyperparameters": config.to_dict(),
        "metrics": metrics or {},
        **extra,
    }


def save_adapter(model: Any, dest: Path, manifest: dict[str, Any]) -> Path:
    """Write the adapter in plain PEFT format plus `manifest.json`, all or nothing.

    Files are written to a temporary dir next to `dest` and renamed into place, so `dest`
    either does not exist or is complete. `manifest["files"]` gets the sha256 of every
    other file. Raises FileExistsError if `dest` exists.
    """
    dest = Path(dest)
    if dest.exists():
        raise FileExistsError(f"{dest} already exists; adapters are immutable")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        (tmp / "README.md").unlink(missing_ok=True)  # peft's model card names local paths
        files = {p.name: sha256_file(p) for p in sorted(tmp.iterdir()) if p.is_file()}
        missing = [f for f in ADAPTER_FILES if f not in files]
        if missing:
            raise RuntimeError(f"save_pretrained wrote no {', '.join(missing)}")
        body = {
            "format": MANIFEST_FORMAT,
            **manifest,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        (tmp / MANIFEST).write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
        tmp.chmod(0o755)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def verify_adapter(path: Path) -> list[str]:
    """Problems with a saved adapter dir: missing or altered files (empty list: intact)."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        files = manifest["files"]
        if not isinstance(files, dict):
            raise TypeError("files is not an object")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [f"{MANIFEST}: unreadable ({exc})"]
    problems = [
        f"{name}: not listed in the manifest" for name in ADAPTER_FILES if name not in files
    ]
    for name, digest in sorted(files.items()):
        file = path / name
        if not file.is_file():
            problems.append(f"{name}: missing")
        elif sha256_file(file) != digest:
            problems.append(f"{name}: sha256 mismatch")
    known = set(files) | {MANIFEST}
    problems += [
        f"{p.name}: not in the manifest" for p in sorted(path.iterdir()) if p.name not in known
    ]
    return problems


def copied_fields_of(path: Path) -> dict[str, int]:
    """The fields a saved adapter copies from its input (training/spans.py), from its manifest;
    none when it has no readable manifest or was trained before they were recorded."""
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    fields = manifest.get("copied_fields") if isinstance(manifest, dict) else None
    return dict(fields) if isinstance(fields, dict) else {}
