"""Generation on the snips test sets with the real base model: conformance, field accuracy,
latency and tokens/s for raw transformers `generate` (the baseline, same prompts), the
model runtime's three modes, and constrained decoding with each Outlines backend.

    .venv/bin/python bench/generate.py [--limit 12] [--max-tokens 160]

Every configuration answers the same first --limit test inputs of each dataset with greedy
decoding and three few-shot examples from train.jsonl (as the endpoint does with no adapter).
Latency p50/p95 are over those requests; tokens/s is completion tokens over summed latency;
the last column is the tokens/s ratio against the raw baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"


def load(name: str, limit: int) -> tuple[dict, list[dict], list[tuple[str, object]]]:
    folder = DATASETS / name
    schema = json.loads((folder / "schema.json").read_text())
    rows = [json.loads(line) for line in (folder / "test.jsonl").read_text().splitlines() if line]
    train = [json.loads(line) for line in (folder / "train.jsonl").read_text().splitlines() if line]
    shots = [(r["input"], r["output"]) for r in train[:3]]
    return schema, rows[:limit], shots


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=160)
    args = parser.parse_args()

    from runtime import GenerateRequest, ModelRuntime, validate_text
    from runtime.decode import generate as raw_generate
    from service.config import Settings
    from training.metrics import field_accuracy
    from training.modeling import resolve_base_model
    from training.prompts import build_messages, render_prompt

    path = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    engines = {"default": ModelRuntime(model_path=path)}
    engines["default"].load()
    base = engines["default"]
    for backend in ("llguidance", "xgrammar", "outlines_core"):
        engine = ModelRuntime(model_path=path, backends=(backend,))
        engine.model, engine.tokenizer, engine.model_fingerprint, engine.adapters = (
            base.model,
            base.tokenizer,
            base.model_fingerprint,
            base.adapters,
        )
        from runtime.grammar.compiler import GrammarCompiler

        engine.grammars = GrammarCompiler(base.tokenizer, backends=(backend,))
        engine._ready.set()
        engines[backend] = engine

    print(f"bench/generate.py  limit={args.limit}  max_tokens={args.max_tokens}")
    header = (
        f"{'dataset':15} {'configuration':26} {'conform':>8} {'field acc':>9} "
        f"{'p50 ms':>8} {'p95 ms':>8} {'tok/s':>7} {'vs raw':>7}"
    )
    for dataset in ("snips-weather", "snips-commands"):
        schema, rows, shots = load(dataset, args.limit)
        print("\n" + header)
        configs = [
            ("raw transformers generate", None, None),
            ("engine auto", "default", "auto"),
            ("engine constrained", "default", "constrained"),
            ("engine unconstrained", "default", "unconstrained"),
            ("constrained llguidance", "llguidance", "constrained"),
            ("constrained xgrammar", "xgrammar", "constrained"),
            ("constrained outlines_core", "outlines_core", "constrained"),
        ]
        raw_rate = None
        for label, engine_name, mode in configs:
            latencies, tokens, preds, valid = [], 0, [], 0
            for row in rows:
                start = time.perf_counter()
                if engine_name is None:
                    prompt = render_prompt(
                        base.tokenizer,
                        build_messages(
                            schema=schema,
                            description=None,
                            instructions=None,
                            examples=shots,
                            input=row["input"],
                        ),
                    )
                    gen = raw_generate(
                        base.model,
                        base.tokenizer,
                        prompt,
                        grammar=None,
                        max_tokens=args.max_tokens,
                    )
                    text, used = gen.text, gen.completion_tokens
                    output, errors = validate_text(schema, text)
                else:
                    result = engines[engine_name].generate(
                        GenerateRequest(
                            schema=schema,
                            input=row["input"],
                            examples=shots,
                            mode=mode,
                            max_tokens=args.max_tokens,
                        )
                    )
                    output, errors, used = (
                        result.output,
                        result.errors,
                        result.usage.completion_tokens,
                    )
                latencies.append(time.perf_counter() - start)
                tokens += used
                valid += not errors
                preds.append(output if not errors else None)
            rate = tokens / sum(latencies)
            raw_rate = raw_rate or rate
            accuracy = field_accuracy([r["output"] for r in rows], preds)["overall"]
            p50, p95 = (percentile(latencies, q) * 1000 for q in (0.5, 0.95))
            print(
                f"{dataset:15} {label:26} {valid / len(rows):8.0%} {accuracy:9.1%} "
                f"{p50:8.0f} {p95:8.0f} "
                f"{rate:7.1f} {rate / raw_rate:7.2f}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
