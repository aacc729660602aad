"""The default grammar backend compiles every real-world schema the registry accepts.

bench/data/schema-corpus holds 150 SchemaStore schemas (Apache-2.0). Closing objects for
llguidance once made 11 of them unsatisfiable (a definition extended through allOf elsewhere,
a required key listed only in a sibling), and int64 bounds broke its number regexes; those
schemas then fell to a backend that enforces less.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.grammar import GrammarCompileError
from runtime.grammar.compiler import GrammarCompiler
from schemas.errors import SchemaRejected
from schemas.validation import prepare

CORPUS = Path(__file__).resolve().parents[2] / "bench" / "data" / "schema-corpus" / "schemas"


def _registered() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for file in sorted(CORPUS.glob("*.json")):
        try:
            out.append((file.name, prepare(json.loads(file.read_text())).schema))
        except SchemaRejected:
            continue
    return out


def test_llguidance_compiles_every_registered_corpus_schema(tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    registered = _registered()
    assert len(registered) >= 130  # the registry's own coverage is tested elsewhere
    compiler = GrammarCompiler(
        AutoTokenizer.from_pretrained(tiny_model_dir), backends=["llguidance"]
    )
    refused = {}
    for name, document in registered:
        try:
            compiler.compile(document, backend="llguidance")
        except GrammarCompileError as exc:
            refused[name] = exc.detail[:200]
    assert refused == {}, sorted(refused)


@pytest.mark.parametrize("bound", [-(2**63), -1e300])
def test_int64_bounds_compile_and_admit_ordinary_numbers(
    tiny_model_dir: Path, bound: float
) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    schema = {"type": "integer", "minimum": bound, "maximum": 2**63 - 1}
    grammar = GrammarCompiler(tok, backends=["llguidance"]).compile(schema, backend="llguidance")
    matcher = grammar.matcher()
    assert all(matcher.advance(t) for t in tok.encode("-1234", add_special_tokens=False))
