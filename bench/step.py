"""What a training step costs, by variant: forward + backward of the real base model with LoRA
on batches of one dev set (the optimizer aside), for precision (fp32, bf16) x LoRA dropout
(torch's `nn.Dropout`, `BitsDropout`), the variants interleaved round by round in one process
so the machine's drift hits them alike; the whole table twice, in a child process on glibc's
malloc and in one on jemalloc (what a worker uses where it is installed).

    .venv/bin/python bench/step.py [--dataset snips-commands] [--rounds 4] [--batches 6]

Prints ms a step (median of rounds; a round is one step on each of --batches batches of 4
examples, from short to long) and the ratio to fp32 + nn.Dropout on glibc.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"
PRECISIONS = ("fp32", "bf16")
DROPOUTS = ("nn.Dropout", "BitsDropout")


def measure(dataset: str, rounds: int, n_batches: int) -> dict[str, float]:
    """{"precision dropout": median ms a step} in this process."""
    import torch
    from peft import get_peft_model

    from service.config import Settings
    from training.config import TrainingConfig
    from training.data import Pair
    from training.finetune import (
        _bits_dropout,
        _collate,
        encode_pairs,
        lora_config,
        target_loss,
        uncast_lora_inputs,
    )
    from training.modeling import load_model, resolve_base_model

    folder = DATASETS / dataset
    schema = json.loads((folder / "schema.json").read_text())
    rows = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines()]
    pairs = [Pair(r["input"], r["output"]) for r in rows if r]
    base = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    config = TrainingConfig()
    times: dict[str, list[float]] = {}
    for precision in PRECISIONS:
        model, tokenizer = load_model(base, precision=precision)
        encoded, _ = encode_pairs(tokenizer, pairs, schema=schema, max_seq_len=config.max_seq_len)
        encoded.sort(key=len)
        stride = max(1, len(encoded) // n_batches)
        batches = [
            _collate(encoded[i : i + config.batch_size], tokenizer.pad_token_id)
            for i in range(0, stride * n_batches, stride)
        ]
        torch.manual_seed(0)
        model = get_peft_model(model, lora_config(config, model))
        if precision == "bf16":
            uncast_lora_inputs(model)  # as training does under autocast
        model.train()
        dropout_slots = [
            (module.lora_dropout, name)
            for module in model.modules()
            if isinstance(getattr(module, "lora_dropout", None), torch.nn.ModuleDict)
            for name in module.lora_dropout
        ]
        autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16")

        def step(batch, model=model, autocast=autocast) -> None:
            with autocast:
                loss = target_loss(model, *batch)
            loss.backward()
            model.zero_grad(set_to_none=True)

        step(batches[-1])  # warm up
        for _ in range(rounds):
            for dropout in DROPOUTS:
                make = torch.nn.Dropout if dropout == "nn.Dropout" else _bits_dropout()
                for slots, name in dropout_slots:
                    slots[name] = make(config.lora_dropout)
                started = time.perf_counter()
                for batch in batches:
                    step(batch)
                ms = (time.perf_counter() - started) / len(batches) * 1000
                times.setdefault(f"{precision} {dropout}", []).append(ms)
    return {variant: statistics.median(ms) for variant, ms in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="snips-commands")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batches", type=int, default=6)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.dataset, args.rounds, args.batches)))
        return

    from cli.malloc import jemalloc_env

    plain = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    allocators = {"glibc": plain, "jemalloc": jemalloc_env(plain, malloc="jemalloc")}
    results = {}
    for allocator, env in allocators.items():
        if env is None:
            print(f"{allocator}: not installed, skipped")
            continue
        child = subprocess.run(
            [sys.executable, __file__, "--child", *sys.argv[1:]],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        results[allocator] = json.loads(child.stdout.strip().splitlines()[-1])
    baseline = results["glibc"]["fp32 nn.Dropout"]
    print(f"bench/step.py  dataset={args.dataset}  rounds={args.rounds}  batches={args.batches}")
    print(f"{'allocator':10} {'precision':9} {'LoRA dropout':13} {'ms/step':>8} {'vs first':>8}")
    for allocator, medians in results.items():
        for variant, ms in medians.items():
            precision, dropout = variant.split()
            print(f"{allocator:10} {precision:9} {dropout:13} {ms:8.0f} {ms / baseline:7.2f}x")


if __name__ == "__main__":
    main()
