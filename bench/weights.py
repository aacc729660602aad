"""Serving weights: int4 against dense (fp32), on the dev sets, measured in the same run.

    .venv/bin/python bench/weights.py [--adapters DIR] [--limit 0] [--runs 3] [--requests 6]

Two model runtimes over the real base model, one per `FORMWRIGHT_SERVE_WEIGHTS` (`dense`, the
default, and `int4`: runtime/quant.py). Per dataset, on its first --limit test inputs (0: all):
the base model few-shot (constrained, three examples from train.jsonl) and, when
DIR/<dataset>-adapter exists (`bench/train.py --dump DIR` writes it), that adapter as served
(auto) — conformance, exact match, field accuracy, and how many answers equal dense's. Then the
speed of a lone constrained few-shot request on snips-weather (cold: no cached prefix): decode
tokens/s and time to first token, each the median of --runs runs of --requests requests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.generate import load, ours_request  # noqa: E402


def predictor(
    engine: Any, schema: dict, mode: str, adapter: str | None, shots: list
) -> Callable[[str], str]:
    from runtime import GenerateRequest

    def predict(text: str) -> str:
        request = GenerateRequest(
            schema=schema, input=text, examples=shots, mode=mode, max_tokens=192
        )
        return engine.generate(request, adapter=adapter).raw

    return predict


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapters", type=Path, help="bench/train.py --dump's directory")
    parser.add_argument("--limit", type=int, default=0, help="test inputs scored (0: all)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=6, help="lone requests a run")
    args = parser.parse_args()

    from runtime import GenerateRequest, ModelRuntime
    from runtime.quant import WEIGHTS
    from service.config import Settings
    from training.data import Pair
    from training.evaluate import evaluate
    from training.modeling import resolve_base_model

    path = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    engines = {weights: ModelRuntime(model_path=path, weights=weights) for weights in WEIGHTS}
    for engine in engines.values():
        engine.load()

    print(f"bench/weights.py  limit={args.limit or 'all'}  runs={args.runs}")
    print(
        f"{'dataset':15} {'configuration':26} {'weights':7} {'conform':>8} {'exact':>7} "
        f"{'field acc':>9} {'same as dense':>13}"
    )
    for dataset in ("snips-weather", "snips-commands"):
        schema, rows, shots = load(dataset, args.limit or None)
        test = [Pair(row["input"], row["output"]) for row in rows]
        configs = [("base few-shot constrained", "constrained", None, shots)]
        adapter = args.adapters / f"{dataset}-adapter" if args.adapters else None
        if adapter is not None and adapter.exists():
            configs.append(("adapter served (auto)", "auto", str(adapter), []))
        for label, mode, adapter_path, examples in configs:
            scores = {}
            for weights, engine in engines.items():
                predict = predictor(engine, schema, mode, adapter_path, examples)
                scores[weights] = evaluate(
                    test, predict=predict, schema=schema, concurrency=engine.max_batch_size
                )
            dense = scores["dense"].predictions
            for weights, score in scores.items():
                same = sum(a == b for a, b in zip(score.predictions, dense, strict=True))
                print(
                    f"{dataset:15} {label:26} {weights:7} {score.conformance:8.1%} "
                    f"{score.exact_match:7.1%} {score.field_accuracy:9.1%} "
                    f"{same:>6}/{len(test):<6}",
                    flush=True,
                )

    schema, rows, shots = load("snips-weather", args.requests)
    figures: dict[str, dict[str, list[float]]] = {w: {"decode": [], "ttft": []} for w in engines}
    for _ in range(args.runs):
        for weights, engine in engines.items():
            values = [
                ours_request(
                    engine,
                    GenerateRequest(
                        schema=schema,
                        input=row["input"],
                        examples=shots,
                        mode="constrained",
                        max_tokens=160,
                    ),
                )
                for row in rows
            ]
            figures[weights]["decode"].append(statistics.median(v["decode_tok_s"] for v in values))
            figures[weights]["ttft"].append(statistics.median(v["ttft_ms"] for v in values))
    m = {w: {k: statistics.median(v) for k, v in f.items()} for w, f in figures.items()}
    print(f"\n{'lone request, snips-weather (median of runs)':44} {'int4':>8} {'dense':>8} ratio")
    for key, label in (("decode", "decode tok/s"), ("ttft", "first token ms")):
        int4, dense = m["int4"][key], m["dense"][key]
        print(f"{label:44} {int4:8.1f} {dense:8.1f} {int4 / dense:5.2f}x")


if __name__ == "__main__":
    main()
