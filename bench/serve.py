"""Serving many adapters from one real base model: adapter switch and cold load, throughput
with 1, 8 and 32 distinct adapters, and batching on vs off.

    .venv/bin/python bench/serve.py [--runs 3] [--clients 16] [--max-tokens 32]

Adapters are LoRA r=8 on every linear projection of the real model, saved N times under N
paths (the speed does not depend on the weights). Clients are threads calling the engine
(`ModelRuntime.generate`, constrained, snips-weather test inputs) in a closed loop — the HTTP layer
adds the same small cost to every configuration. Every number is the median of --runs runs
in this invocation; ratios compare configurations measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"

from training.threads import own_thread  # noqa: E402 - after the path above


@own_thread  # as a server's model work (training/threads.py)
def make_adapters(engine, folder: Path, count: int) -> list[str]:
    """`count` copies of one adapter for the engine's base model, each under its own path."""
    import shutil

    from peft import get_peft_model

    from training.config import TrainingConfig
    from training.finetune import build_manifest, lora_config, save_adapter
    from training.modeling import load_model

    model, _ = load_model(engine.model_path)
    manifest = build_manifest(
        base_model_fingerprint=engine.model_fingerprint,
        schema_id="bench",
        schema_version=1,
        dataset_hash="sha256:0",
        config=TrainingConfig(),
    )
    first = save_adapter(
        get_peft_model(model, lora_config(TrainingConfig(), model)),
        folder / "0",
        manifest,
    )
    paths = [str(first)]
    for i in range(1, count):
        paths.append(str(shutil.copytree(first, folder / str(i))))
    return paths


def throughput(engine, requests, adapters: list[str], *, clients: int, rounds: int) -> float:
    """Completion tokens/s of `clients` threads each sending `rounds` requests, spread over
    the adapters in turn."""

    def client(c: int) -> int:
        tokens = 0
        for r in range(rounds):
            i = c * rounds + r
            request = requests[i % len(requests)]
            result = engine.generate(request, adapter=adapters[i % len(adapters)])
            tokens += result.usage.completion_tokens
        return tokens

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        tokens = sum(pool.map(client, range(clients)))
    return tokens / (time.perf_counter() - start)


def latency_ms(engine, request, adapters: list[str], repeat: int = 3) -> float:
    """Median latency of one request alone, cycling through `adapters`."""
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        engine.generate(request, adapter=adapters[i % len(adapters)])
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=2, help="requests per client and run")
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()

    from runtime import GenerateRequest, ModelRuntime
    from service.config import Settings
    from training.modeling import resolve_base_model

    folder = DATASETS / "snips-weather"
    schema = json.loads((folder / "schema.json").read_text())
    inputs = [
        json.loads(line)["input"] for line in (folder / "test.jsonl").read_text().splitlines()
    ]
    requests = [
        GenerateRequest(schema=schema, input=text, mode="constrained", max_tokens=args.max_tokens)
        for text in inputs
    ]
    path = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    cold_count = 2 * args.runs
    # Room for every adapter: a cold load measures reading one, not the LRU churn after it.
    engine = ModelRuntime(
        model_path=path, max_loaded_adapters=32 + cold_count, max_batch_size=args.clients
    )
    engine.load()
    engine.generate(requests[0])  # compile the grammar once
    batcher = engine.batcher

    rows: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        rows.setdefault(name, []).append(value)
        print(f"  {name}: {value:.1f}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory() as tmp:
        adapters = make_adapters(engine, Path(tmp), 32 + cold_count)
        cold = iter(adapters[32:])
        # A short prompt, so that the per-row adapter choice is not lost in a long prefill.
        small = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
        one_token = GenerateRequest(schema=small, input="hi", mode="constrained", max_tokens=1)
        engine.generate(one_token, adapter=adapters[0])
        engine.generate(one_token, adapter=adapters[1])
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            # Switch: one-token requests alternating between two attached adapters, against
            # the same requests all on one adapter.
            same = latency_ms(engine, one_token, adapters[:1], repeat=10)
            alternating = latency_ms(engine, one_token, adapters[:2], repeat=10)
            record("1-token request, one adapter (ms)", same)
            record("1-token request, alternating 2 (ms)", alternating)
            record("switch cost (ms)", alternating - same)

            batcher.max_batch_size = args.clients
            for n in (1, 8, 32):
                rate = throughput(
                    engine, requests, adapters[:n], clients=args.clients, rounds=args.rounds
                )
                record(f"tokens/s, {n} adapter{'s' * (n > 1)}, batching on", rate)
            for _ in range(2):  # checked against its manifest, read, attached
                start = time.perf_counter()
                engine.adapters.attach(next(cold))
                record("cold load (ms)", (time.perf_counter() - start) * 1000)
            single_on = latency_ms(engine, requests[1], adapters[:1])
            batcher.max_batch_size = 1
            record(
                "tokens/s, 1 adapter, batching off",
                throughput(engine, requests, adapters[:1], clients=args.clients, rounds=1),
            )
            single_off = latency_ms(engine, requests[1], adapters[:1])
            record("single request, batching on (ms)", single_on)
            record("single request, batching off (ms)", single_off)

    median = {name: statistics.median(values) for name, values in rows.items()}
    on = median["tokens/s, 1 adapter, batching on"]
    ratios = {
        "tokens/s, 32 adapters, batching on": ("vs 1 adapter", on, ">= 0.80"),
        "tokens/s, 8 adapters, batching on": ("vs 1 adapter", on, ""),
        "tokens/s, 1 adapter, batching on": (
            "vs batching off",
            median["tokens/s, 1 adapter, batching off"],
            ">= 3.00",
        ),
        "single request, batching on (ms)": (
            "vs batching off",
            median["single request, batching off (ms)"],
            "<= 1.10",
        ),
    }
    targets = {
        "switch cost (ms)": "<= 5 ms",
        "cold load (ms)": "<= 300 ms",
    }
    print(
        f"bench/serve.py  runs={args.runs} clients={args.clients} max_tokens={args.max_tokens} "
        f"rounds={args.rounds}"
    )
    print(f"{'measure (median of runs)':40} {'value':>9}  {'ratio':>22}  target")
    for name, value in median.items():
        ratio, target = "", targets.get(name, "")
        if name in ratios:
            label, baseline, target = ratios[name]
            ratio = f"{value / baseline:.2f}x {label}"
        print(f"{name:40} {value:9.1f}  {ratio:>22}  {target}")


if __name__ == "__main__":
    main()
