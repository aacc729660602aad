"""The training pair, and the few facts about pairs that several stages agree on."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.leaves import canonical

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = ".?!,;:"


@dataclass(frozen=True)
class Pair:
    """An input text and its JSON output. `source`: human, synthetic or teacher.

    `meta` says where a generated pair came from (source example index, substitutions); it
    is not part of the pair's identity.
    """

    input: str
    output: Any
    source: str = "human"
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "output": self.output, "source": self.source}


def normalize_input(text: str) -> str:
    """The dedup key of an input: NFKC, case-folded, whitespace collapsed, and without
    sentence punctuation at either end ("What's the weather?" == "what's the  weather")."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", text).strip().strip(_EDGE_PUNCT).strip()


def dataset_hash(pairs: Iterable[Pair]) -> str:
    """sha256 of the pairs as a set (order-free): what a manifest records as "trained on"."""
    lines = sorted(canonical([p.input, p.output]) for p in pairs)
    h = hashlib.sha256()
    for line in lines:
        h.update(line.encode())
        h.update(b"\n")
    return f"sha256:{h.hexdigest()}"


def write_pairs(path: Path, pairs: Iterable[Pair]) -> None:
    """Pairs as JSONL, replacing `path` whole (a reader never sees half a file)."""
    tmp = path.with_suffix(".tmp")
    with tmp.open("w") as f:
        for p in pairs:
            f.write(json.dumps(p.to_dict()) + "\n")
    tmp.replace(path)


def read_pairs(path: Path) -> list[Pair]:
    """The pairs `write_pairs` wrote; none when the file does not exist."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Pair(r["input"], r["output"], source=r.get("source", "human")) for r in rows]
