"""Generation on the snips test sets with the real base model, two tables.

    .venv/bin/python bench/generate.py [--limit 12] [--max-tokens 160]
    .venv/bin/python bench/generate.py --table serving [--weights int4]  # needs the [bench] extra

`--table quality` (default): conformance, field accuracy, latency and tokens/s for raw
transformers `generate` (the baseline, same prompts), the model runtime's three modes, and
constrained decoding with each Outlines backend. Every configuration answers the same first
--limit test inputs of each dataset with greedy decoding and three few-shot examples from
train.jsonl (as the endpoint does with no adapter). Latency p50/p95 are over those requests;
tokens/s is completion tokens over summed latency; the last column is the tokens/s ratio
against the raw baseline measured in the same run.

`--table serving`: the serving figures against llama.cpp (llama-cpp-python, the same GGUF the
server converts, its JSON-schema grammar, --threads threads) measured in the same run: a lone
constrained few-shot request's decode speed and time to first token (both cold: no cached
prefix, llama.cpp's KV reset), the second request to a schema against the first, --clients
clients over 8 schemas (4 on adapters) against the same requests one at a time, the share of
forced tokens, and the outputs against the engine before continuous batching (transformers
`generate` with the grammar processor, one request at a time) on the first --limit inputs.
Each figure is the median of --runs runs.
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
from typing import Any

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
    parser.add_argument("--table", choices=("quality", "serving"), default="quality")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--runs", type=int, default=3, help="serving: runs per figure")
    parser.add_argument("--requests", type=int, default=6, help="serving: lone requests a run")
    parser.add_argument("--clients", type=int, default=16, help="serving: concurrent clients")
    parser.add_argument("--threads", type=int, default=2, help="serving: llama.cpp threads")
    parser.add_argument(
        "--weights", choices=("dense", "int4"), default="dense", help="serving: ours (quant.py)"
    )
    args = parser.parse_args()
    if args.table == "serving":
        serving(args)
    else:
        quality(args)


def quality(args: argparse.Namespace) -> None:
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
        engine.batcher = base.batcher
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


# --------------------------------------------------------------------------- serving table


def few_shot_prompt(tokenizer: Any, data: tuple, text: str) -> str:
    from training.prompts import build_messages, render_prompt

    schema, _, shots = data
    messages = build_messages(
        schema=schema, description=None, instructions=None, examples=shots, input=text
    )
    return render_prompt(tokenizer, messages)


def llama_cpp(threads: int) -> Any:
    """llama.cpp on the GGUF the server converts (the bench extra installs llama-cpp-python)."""
    try:
        from llama_cpp import Llama
    except ImportError:
        sys.exit("llama-cpp-python is missing: .venv/bin/pip install -e '.[bench]'")
    from training.modeling import default_gguf_path

    return Llama(
        model_path=str(default_gguf_path()),
        n_ctx=4096,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def llama_cpp_request(llm: Any, prompt: str, schema: dict, max_tokens: int) -> dict[str, float]:
    """One cold greedy request with llama.cpp's JSON-schema grammar: time to first token,
    decode tokens/s after it, total seconds."""
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    llm.reset()  # no KV kept from the previous prompt: a cold prefill, as ours is measured
    start = time.perf_counter()
    first, tokens = None, 0
    for _ in llm.create_completion(
        prompt,
        max_tokens=max_tokens,
        temperature=0.0,
        repeat_penalty=1.0,
        grammar=grammar,
        stream=True,
    ):
        tokens += 1  # one chunk per sampled token
        first = first or time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    return {
        "ttft_ms": (first - start) * 1000,
        "decode_tok_s": (tokens - 1) / (end - first) if tokens > 1 else 0.0,
        "total_s": end - start,
    }


def ours_request(runtime: Any, request: Any) -> dict[str, float]:
    runtime.batcher.prefixes.clear()
    result = runtime.generate(request)
    ttft = result.first_token_ms
    tokens = result.usage.completion_tokens
    return {
        "ttft_ms": ttft,
        "decode_tok_s": (tokens - 1) / ((result.latency_ms - ttft) / 1000) if tokens > 1 else 0,
        "total_s": result.latency_ms / 1000,
    }


def eight_schemas(runtime: Any, weather: tuple, commands: tuple, folder: Path) -> list:
    """(schema, examples, adapter, inputs) for 8 schemas: each dataset's schema under four
    titles (four prompts, four grammars), the second two of each on an adapter."""
    from bench.serve import make_adapters

    adapters = iter(make_adapters(runtime, folder, 4))
    targets = []
    for schema, rows, shots in (weather, commands):
        for variant in range(4):
            renamed = {**schema, "title": f"{schema.get('title', 'answer')}_{variant}"}
            adapter = next(adapters) if variant >= 2 else None
            targets.append((renamed, shots, adapter, [r["input"] for r in rows]))
    return targets


def mixed_load(runtime: Any, targets: list, args: argparse.Namespace) -> dict[str, float]:
    """The same requests one at a time, then from --clients clients at once: tokens/s and
    latencies of each."""
    from runtime import GenerateRequest

    work = []
    for i in range(args.clients * 2):
        schema, shots, adapter, inputs = targets[i % len(targets)]
        request = GenerateRequest(
            schema=schema,
            input=inputs[i % len(inputs)],
            examples=shots,
            mode="constrained",
            max_tokens=args.max_tokens,
        )
        work.append((request, adapter))

    def one(item: tuple) -> tuple[float, int]:
        request, adapter = item
        start = time.perf_counter()
        result = runtime.generate(request, adapter=adapter)
        return time.perf_counter() - start, result.usage.completion_tokens

    start = time.perf_counter()
    lone = [one(item) for item in work[: len(targets)]]
    lone_s = time.perf_counter() - start
    start = time.perf_counter()
    with ThreadPoolExecutor(args.clients) as pool:
        loaded = list(pool.map(one, work))
    loaded_s = time.perf_counter() - start
    return {
        "lone_tok_s": sum(t for _, t in lone) / lone_s,
        "lone_ms": statistics.median(s for s, _ in lone) * 1000,
        "load_tok_s": sum(t for _, t in loaded) / loaded_s,
        "load_p95_ms": percentile([s for s, _ in loaded], 0.95) * 1000,
    }


def serving(args: argparse.Namespace) -> None:
    from runtime import GenerateRequest, ModelRuntime
    from runtime.decode import generate as raw_generate
    from service.config import Settings
    from training.modeling import resolve_base_model
    from training.threads import in_own_thread

    llm = in_own_thread(llama_cpp, args.threads)  # first: a missing extra fails at once
    path = resolve_base_model(None, cache_dir=ROOT / Settings().models_cache_dir)
    runtime = ModelRuntime(model_path=path, max_batch_size=args.clients, weights=args.weights)
    runtime.load()
    tokenizer = runtime.tokenizer
    weather, commands = load("snips-weather", args.limit), load("snips-commands", args.limit)

    def request(data: tuple, text: str) -> Any:
        schema, _, shots = data
        return GenerateRequest(
            schema=schema,
            input=text,
            examples=shots,
            mode="constrained",
            max_tokens=args.max_tokens,
        )

    # Identity with the engine before continuous batching, and the forced share (once: both
    # are deterministic).
    checks = {}
    for name, data in (("snips-weather", weather), ("snips-commands", commands)):
        grammar = runtime.grammar(data[0])
        same = forced = tokens = 0
        for row in data[1]:
            new = runtime.generate(request(data, row["input"]))
            old = in_own_thread(  # as the model work of a server (training/threads.py)
                raw_generate,
                runtime.model,
                tokenizer,
                few_shot_prompt(tokenizer, data, row["input"]),
                grammar=grammar,
                max_tokens=args.max_tokens,
            )
            same += new.raw == old.text
            forced += new.usage.forced_tokens
            tokens += new.usage.completion_tokens
        checks[name] = (same, len(data[1]), forced / tokens)
        print(
            f"  {name}: {same}/{len(data[1])} identical, {forced}/{tokens} tokens forced",
            file=sys.stderr,
            flush=True,
        )

    figures: dict[str, list[float]] = {}

    def record(name: str, value: float) -> None:
        figures.setdefault(name, []).append(value)
        print(f"  {name}: {value:.1f}", file=sys.stderr, flush=True)

    lone = [row["input"] for row in weather[1][: args.requests]]
    with tempfile.TemporaryDirectory() as tmp:
        targets = eight_schemas(runtime, weather, commands, Path(tmp))
        for run in range(args.runs):
            print(f"run {run + 1}/{args.runs}", file=sys.stderr, flush=True)
            ours, theirs = [], []
            for text in lone:
                ours.append(ours_request(runtime, request(weather, text)))
                # Each side runs without the other's OpenMP workers (both use the process's
                # libgomp; training/threads.py): llama.cpp in a thread that ends, after ours.
                runtime.batcher.wait_ended()
                theirs.append(
                    in_own_thread(
                        llama_cpp_request,
                        llm,
                        few_shot_prompt(tokenizer, weather, text),
                        weather[0],
                        args.max_tokens,
                    )
                )
            for who, values in (("ours", ours), ("llama.cpp", theirs)):
                for key in ("decode_tok_s", "ttft_ms"):
                    record(f"{who} {key}", statistics.median(v[key] for v in values))
            firsts, seconds = [], []
            for first, second in zip(lone[::2], lone[1::2], strict=False):
                firsts.append(ours_request(runtime, request(weather, first))["ttft_ms"])
                # the prefix cache now holds the schema's few-shot prefix
                seconds.append(runtime.generate(request(weather, second)).first_token_ms)
            record("first request ttft_ms", statistics.median(firsts))
            record("second request ttft_ms", statistics.median(seconds))
            for key, value in mixed_load(runtime, targets, args).items():
                record(key, value)

    m = {name: statistics.median(values) for name, values in figures.items()}
    print(
        f"bench/generate.py --table serving  runs={args.runs} requests={args.requests} "
        f"limit={args.limit} max_tokens={args.max_tokens} clients={args.clients} "
        f"llama.cpp threads={args.threads} weights={args.weights}"
    )
    print(f"{'figure (median of runs)':58} {'ours':>8} {'baseline':>9} {'ratio':>7}  target")
    table = [
        (
            "lone constrained request, decode tok/s vs llama.cpp",
            m["ours decode_tok_s"],
            m["llama.cpp decode_tok_s"],
            ">= 1.0x",
        ),
        (
            "lone few-shot request, first token ms vs llama.cpp",
            m["ours ttft_ms"],
            m["llama.cpp ttft_ms"],
            "<= 1.0x",
        ),
        (
            "second request to a schema, first token ms vs the first",
            m["second request ttft_ms"],
            m["first request ttft_ms"],
            "<= 0.25x",
        ),
        (
            f"{args.clients} clients over 8 schemas, tok/s vs lone requests",
            m["load_tok_s"],
            m["lone_tok_s"],
            ">= 6x",
        ),
        (
            "same load, p95 latency ms vs a lone request (median)",
            m["load_p95_ms"],
            m["lone_ms"],
            "<= 3x",
        ),
    ]
    for label, ours_value, baseline, target in table:
        print(
            f"{label:58} {ours_value:8.1f} {baseline:9.1f} {ours_value / baseline:6.2f}x  {target}"
        )
    for name, (_, _, share) in checks.items():
        print(f"{'forced tokens, ' + name:58} {share:8.0%}")
    for name, (same, total, _) in checks.items():
        print(
            f"{'identical to the engine before, ' + name:58} {same:>4}/{total:<3} "
            f"{'':9} {same / total:6.0%}   100%"
        )


if __name__ == "__main__":
    main()
