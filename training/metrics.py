"""Evaluation metrics over gold outputs and predictions (None = no parseable prediction).

Values are compared as JSON (`leaves.json_equal`): 1 == 1.0, true != 1, key order ignored.
Every metric over zero examples is 0.0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from training.leaves import iter_leaves, json_equal


def _compared_leaves(gold: Any, pred: Any) -> list[tuple[str, bool]]:
    """(pattern, correct) for every leaf position of one example; see `field_accuracy`."""
    g = {leaf.pointer: leaf for leaf in iter_leaves(gold)}
    p = {leaf.pointer: leaf for leaf in iter_leaves(pred)} if pred is not None else {}

    def shadowed(pointer: str, other: dict[str, Any]) -> bool:
        prefix = pointer + "/"
        return any(o.startswith(prefix) for o in other)

    out: list[tuple[str, bool]] = []
    for pointer, leaf in g.items():
        if not shadowed(pointer, p):
            out.append((leaf.pattern, pointer in p and json_equal(leaf.value, p[pointer].value)))
    for pointer, leaf in p.items():
        if pointer not in g and not shadowed(pointer, g):
            out.append((leaf.pattern, False))
    return out


def field_accuracy(golds: Sequence[Any], preds: Sequence[Any | None]) -> dict[str, Any]:
    """Share of leaf positions predicted right, over all examples and per leaf pattern.

    For each example, the positions compared are the JSON Pointers of the gold's leaves and
    the prediction's leaves, united (see `leaves`): a gold leaf is right when the prediction
    has the same value at the same pointer (null is a value: null vs null is right); a leaf
    only the prediction has (an extra slot, an invented key) is wrong; a missing prediction
    (None) gets every gold leaf wrong. An empty {} or [] on one side where the other side has
    content is not counted itself: the content's leaves are (missing or extra).
    `overall` is micro-averaged over all positions of all examples; `per_path` maps each
    leaf pattern (array indices as `*`) to the same share over its positions.
    """
    _same_length(golds, preds)
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for gold, pred in zip(golds, preds, strict=True):
        for pattern, ok in _compared_leaves(gold, pred):
            total[pattern] += 1
            right[pattern] += ok
    n = sum(total.values())
    return {
        "overall": sum(right.values()) / n if n else 0.0,
        "per_path": {p: right[p] / total[p] for p in sorted(total)},
    }


def exact_match(golds: Sequence[Any], preds: Sequence[Any | None]) -> float:
    """Share of examples whose prediction equals the gold output as JSON (None: wrong)."""
    _same_length(golds, preds)
    if not golds:
        return 0.0
    hits = sum(p is not None and json_equal(g, p) for g, p in zip(golds, preds, strict=True))
    return hits / len(golds)


def conformance(preds: Sequence[Any | None], *, schema: Any) -> float:
    """Share of predictions that are JSON (not None) and validate against `schema`."""
    if not preds:
        return 0.0
    from training.pairs import schema_issues

    return sum(p is not None and not schema_issues(schema, p) for p in preds) / len(preds)


def _same_length(golds: Sequence[Any], preds: Sequence[Any]) -> None:
    if len(golds) != len(preds):
        raise ValueError(f"{len(golds)} gold outputs but {len(preds)} predictions")
