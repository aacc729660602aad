"""How much of the real world the registry accepts and the engine serves (schema corpus).

    .venv/bin/python bench/coverage.py                  # register + compile + generate, all
    .venv/bin/python bench/coverage.py --limit 20       # at most 20 new generations this run
    .venv/bin/python bench/coverage.py --no-generate    # registry and grammar backends only
    .venv/bin/python bench/coverage.py --backends llguidance,xgrammar   # skip the slowest

For every schema in bench/data/schema-corpus (SchemaStore, 150 files), per dialect and in total:
- registered: `prepare` accepts it. Schemas whose references can only be resolved over the
  network (`remote_ref`: they point at other SchemaStore files or URLs) are counted apart and
  left out of the denominator, as the registry never fetches;
- compiled: each grammar backend (runtime.grammar.BACKENDS) compiles the registered internal
  form within the engine's compile timeout; the default backend is the first of the engine's
  order;
- valid: the real base model answers one request per schema through the engine
  (runtime.ModelRuntime, constrained: the first backend of its order that compiles the
  schema, answers closed at max_tokens) and the answer validates against the schema by the
  schema's own draft's rules.

The prompt is the engine's for a base-model request (schema in the system message, no
examples), with the input "Write a typical configuration file."; a schema longer than
PROMPT_SCHEMA_TOKENS stays out of the prompt (the grammar still enforces it) and its title and
description stand in. Results go to a JSON-lines state file as they are measured, so an
interrupted run resumes where it stopped (--limit bounds the number of generations per run;
--stride k answers every k-th schema only). The table of keywords behind failures
counts, for every schema that was refused, did not compile, or answered invalid, the keywords
the errors name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CORPUS = ROOT / "bench" / "data" / "schema-corpus" / "schemas"
INPUT = "Write a typical configuration file."
PROMPT_SCHEMA_TOKENS = 1500
NETWORK_ONLY = "remote_ref"


def dialect_name(schema: Any) -> str:
    from schemas.dialects import lookup

    if not isinstance(schema, dict) or "$schema" not in schema:
        return "2020-12"
    found = lookup(schema["$schema"])
    return found.name if found else "other"


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                row = json.loads(line)
                state.setdefault(row["file"], {}).update(row)
    return state


def record(path: Path, row: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(row) + "\n")


def register(file: Path) -> dict[str, Any]:
    from schemas.errors import SchemaRejected
    from schemas.validation import prepare

    schema = json.loads(file.read_text())
    row: dict[str, Any] = {"file": file.name, "dialect": dialect_name(schema)}
    try:
        prepare(schema)
    except SchemaRejected as exc:
        row["registered"] = False
        row["refused"] = exc.code
        row["keywords"] = sorted({i.keyword or exc.code for i in exc.issues})
        return row
    row["registered"] = True
    return row


def compile_all(compiler: Any, document: dict[str, Any], backends: list[str]) -> dict[str, Any]:
    from runtime.grammar import GrammarCompileError

    out = {}
    for backend in backends:
        try:
            grammar = compiler.compile(document, backend=backend)
            out[backend] = {"ok": True, "ms": round(grammar.compile_ms, 1)}
        except GrammarCompileError as exc:
            out[backend] = {"ok": False, "error": exc.detail[:300]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="new generations this run")
    parser.add_argument("--no-generate", action="store_true")
    parser.add_argument(
        "--stride", type=int, default=1, help="generate for every k-th registered schema only"
    )
    parser.add_argument("--max-tokens", type=int, default=256)
    parser.add_argument(
        "--backends",
        default=None,
        help="a subset of the engine's order, comma-separated (default: all)",
    )
    parser.add_argument("--state", type=Path, default=ROOT / "var" / "coverage.jsonl")
    parser.add_argument("--fresh", action="store_true", help="forget the state file first")
    parser.add_argument("--model", default=os.environ.get("FORMWRIGHT_BASE_MODEL"))
    parser.add_argument("--cache-dir", type=Path, default=ROOT / "var" / "models")
    args = parser.parse_args()

    from runtime import GenerateRequest, ModelRuntime
    from runtime.grammar import BACKENDS
    from runtime.grammar.compiler import DEFAULT_BACKEND_ORDER, GrammarCompiler
    from schemas.validation import prepare
    from training.modeling import load_tokenizer, resolve_base_model

    args.state.parent.mkdir(parents=True, exist_ok=True)
    if args.fresh and args.state.exists():
        args.state.unlink()
    state = load_state(args.state)
    files = sorted(CORPUS.glob("*.json"))
    chosen = args.backends.split(",") if args.backends else DEFAULT_BACKEND_ORDER
    backends = [b for b in DEFAULT_BACKEND_ORDER if b in BACKENDS and b in chosen]
    default = backends[0]

    path = resolve_base_model(args.model, cache_dir=args.cache_dir)
    tokenizer = load_tokenizer(path)
    compiler = GrammarCompiler(tokenizer, backends=backends)
    runtime = None
    generated = 0
    for position, file in enumerate(files):
        row = state.get(file.name, {})
        if "registered" not in row:
            row = register(file)
            record(args.state, row)
        if not row["registered"]:
            state[file.name] = row
            continue
        document = prepare(json.loads(file.read_text())).schema
        if "compiled" not in row:
            row["compiled"] = compile_all(compiler, document, backends)
            record(args.state, {"file": file.name, "compiled": row["compiled"]})
        if args.no_generate or "valid" in row:
            state[file.name] = row
            continue
        if position % args.stride or (args.limit is not None and generated >= args.limit):
            state[file.name] = row
            continue
        usable = [b for b in backends if row["compiled"][b]["ok"]]
        if not usable:
            state[file.name] = row
            continue
        if runtime is None:
            t0 = time.perf_counter()
            runtime = ModelRuntime(model_path=path, backends=backends)
            runtime.load()
            print(f"model loaded in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        request = GenerateRequest(
            schema=document, input=INPUT, mode="constrained", max_tokens=args.max_tokens
        )
        t0 = time.perf_counter()
        answer = runtime.generate(request)
        seconds = time.perf_counter() - t0
        shown = runtime.prompt_schema(request)[0] is not None
        backend = answer.decoding.removeprefix("constrained:")
        result: dict[str, Any] = {"file": file.name, "backend": backend}
        result["schema_in_prompt"] = shown
        result["seconds"] = round(seconds, 1)
        result["finish_reason"] = answer.finish_reason
        if answer.output is None:
            result["valid"] = False
            result["keywords"] = ["(unfinished JSON: max_tokens)"]
        else:  # by the schema's own draft's rules, as registered
            issues = prepare(json.loads(file.read_text())).validate(answer.output)
            result["valid"] = not issues
            result["keywords"] = sorted({i.keyword or "?" for i in issues})
        record(args.state, result)
        row.update(result)
        state[file.name] = row
        generated += 1
        print(
            f"{file.name}: {'valid' if result['valid'] else 'INVALID'} ({backend}, "
            f"{seconds:.1f} s)",
            file=sys.stderr,
            flush=True,
        )
    report(state, backends, default)


def report(state: dict[str, dict[str, Any]], backends: list[str], default: str) -> None:
    rows = list(state.values())
    dialects = sorted({r["dialect"] for r in rows}, key=lambda d: (d == "other", d))
    failures: Counter[str] = Counter()
    columns = ["dialect", "schemas", "network-only", "registered"]
    columns += [f"compiled {b}{' (default)' if b == default else ''}" for b in backends]
    columns += ["compiled by the engine (any backend)", "answered", "valid"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[r["dialect"]].append(r)
    for name in [*dialects, "total"]:
        group = rows if name == "total" else groups[name]
        network = sum(r.get("refused") == NETWORK_ONLY for r in group)
        eligible = len(group) - network
        registered = [r for r in group if r.get("registered")]
        cells = [name, str(len(group)), str(network), _pct(len(registered), eligible)]
        for b in backends:
            ok = sum(r.get("compiled", {}).get(b, {}).get("ok", False) for r in registered)
            cells.append(_pct(ok, len(registered)))
        anyone = sum(any(c.get("ok") for c in r.get("compiled", {}).values()) for r in registered)
        cells.append(_pct(anyone, len(registered)))
        answered = [r for r in registered if "valid" in r]
        valid = sum(r["valid"] for r in answered)
        cells += [f"{len(answered)}/{len(registered)}", _pct(valid, len(answered))]
        print("| " + " | ".join(cells) + " |")
    for r in rows:
        if r.get("refused") and r["refused"] != NETWORK_ONLY:
            failures.update(f"refused: {k}" for k in r.get("keywords", []))
        if r.get("registered") and not r.get("compiled", {}).get(default, {}).get("ok", True):
            failures.update(_compile_keywords(r["compiled"][default]["error"]))
        if r.get("valid") is False:
            failures.update(f"invalid: {k}" for k in r.get("keywords", []))
    print()
    print("| keyword behind a failure | schemas |")
    print("|---|---|")
    for keyword, count in failures.most_common():
        print(f"| {keyword} | {count} |")


def _compile_keywords(error: str) -> list[str]:
    """The keywords a backend's refusal names (llguidance: "Unimplemented keys: [...]"), or
    the reason of the last attempt when keywords were not what stopped it."""
    import re

    if "ignored:" in error:
        reason = error.split("ignored:")[-1].strip().splitlines()[0]
        return [f"no compile: {re.sub(chr(39) + '.*?' + chr(39), '...', reason)[:70]}"]
    found = re.findall(r'"([$A-Za-z]+)"', error)
    return [f"no compile: {k}" for k in sorted(set(found))] or [f"no compile: {error[:60]}"]


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "-"


if __name__ == "__main__":
    main()
