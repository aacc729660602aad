"""Benchmark Outlines' grammar backends on the real base model (CPU).

    .venv/bin/python bench/backends.py [--runs 5] [--max-tokens 64]

For each backend and each dataset schema (snips-weather, snips-commands):
- setup: building the backend's tokenizer tables (once per process and backend);
- compile: schema -> compiled grammar -> first mask, fresh each run (no cache);
- mask: grammar cost per token alone (fill mask + advance), replaying the constrained output;
- decode: wall time per generated token through model.generate, constrained vs unconstrained,
  after subtracting the prefill (a 1-token generate of the same prompt).
Medians over --runs. Ratios are against the unconstrained baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATASETS = ROOT / "bench" / "data"
INPUTS = {
    "snips-weather": "will it be cold in berlin germany tomorrow evening",
    "snips-commands": "add the song yellow by coldplay to my summer hits playlist",
}


def _median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--model", default=os.environ.get("FORMWRIGHT_BASE_MODEL"))
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "models")
    args = parser.parse_args()

    import torch

    from runtime.decode import generate
    from runtime.grammar import BACKENDS
    from runtime.grammar.compiler import CompiledGrammar
    from training.modeling import load_model, resolve_base_model
    from training.prompts import build_messages, render_prompt

    t0 = time.perf_counter()
    path = resolve_base_model(args.model, cache_dir=args.cache_dir)
    model, tok = load_model(path)
    print(
        f"model {path} loaded in {time.perf_counter() - t0:.1f} s; "
        f"torch threads {torch.get_num_threads()}",
        flush=True,
    )

    schemas = {name: json.loads((DATASETS / name / "schema.json").read_text()) for name in INPUTS}
    prompts = {
        name: render_prompt(
            tok,
            build_messages(
                schema=schemas[name],
                description=None,
                instructions=None,
                examples=[],
                input=INPUTS[name],
            ),
        )
        for name in INPUTS
    }

    def timed_generate(prompt: str, grammar: CompiledGrammar | None, max_tokens: int):
        t = time.perf_counter()
        g = generate(model, tok, prompt, grammar=grammar, max_tokens=max_tokens)
        return time.perf_counter() - t, g

    def timed_free(prompt: str, n: int) -> float:
        # The baseline writes exactly n tokens (eos suppressed), like a constrained run that
        # uses its whole budget, so per-token costs compare like for like.
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        t = time.perf_counter()
        with torch.inference_mode():
            model.generate(
                **enc,
                max_new_tokens=n,
                min_new_tokens=n,
                do_sample=False,
                pad_token_id=tok.eos_token_id,
            )
        return time.perf_counter() - t

    rows = []
    for name, prompt in prompts.items():
        timed_free(prompt, 4)  # warm-up
        prefill = statistics.median(timed_free(prompt, 1) for _ in range(args.runs))
        free = [
            (timed_free(prompt, args.max_tokens) - prefill) / (args.max_tokens - 1)
            for _ in range(args.runs)
        ]
        base = statistics.median(free)
        rows.append((name, "unconstrained", None, None, None, base * 1000, 1.0, args.max_tokens))
        print(
            f"{name}: prefill {prefill * 1000:.0f} ms, unconstrained {base * 1000:.1f} ms/token",
            flush=True,
        )

        for backend in BACKENDS:
            t = time.perf_counter()
            bk = BACKENDS[backend](tok)
            setup = time.perf_counter() - t
            schema_json = json.dumps(schemas[name])
            compiles = []
            for _ in range(args.runs):
                t = time.perf_counter()
                factory = bk.compile(schema_json)
                m = factory()
                mask = torch.full((1, (len(tok) + 31) // 32), -1, dtype=torch.int32)
                m.fill(mask, 0)
                compiles.append(time.perf_counter() - t)
            grammar = CompiledGrammar(backend, name, 0.0, factory)
            per_token, n_tokens, out = [], 0, None
            for _ in range(args.runs):
                dt, out = timed_generate(prompt, grammar, args.max_tokens)
                per_token.append((dt - prefill) / max(1, out.completion_tokens - 1))
                n_tokens = out.completion_tokens
            # Grammar cost alone: replay the constrained output's tokens through a fresh matcher.
            ids = tok(out.text, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
            mask_costs = []
            for _ in range(args.runs):
                m = grammar.matcher()
                t = time.perf_counter()
                for token in ids:
                    m.fill(mask, 0)
                    m.advance(token)
                mask_costs.append((time.perf_counter() - t) / len(ids))
            cost = statistics.median(per_token)
            rows.append(
                (
                    name,
                    backend,
                    setup * 1000,
                    _median_ms(compiles),
                    _median_ms(mask_costs),
                    cost * 1000,
                    cost / base,
                    n_tokens,
                )
            )
            head = out.text[:80]
            print(
                f"  {backend}: {out.completion_tokens} tok, {out.finish_reason}: {head}", flush=True
            )

    print()
    print(f"runs={args.runs} max_tokens={args.max_tokens} threads={torch.get_num_threads()}")
    header = (
        "schema",
        "decoding",
        "setup ms",
        "compile ms",
        "mask ms/tok",
        "decode ms/tok",
        "x uncon.",
        "tokens",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, dec, setup, comp, mask_ms, dec_ms, ratio, n in rows:
        cells = [
            name,
            dec,
            "-" if setup is None else f"{setup:.0f}",
            "-" if comp is None else f"{comp:.1f}",
            "-" if mask_ms is None else f"{mask_ms:.3f}",
            f"{dec_ms:.1f}",
            f"{ratio:.2f}",
            str(n),
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
