"""Score one way of predicting (base few-shot, adapter, constrained or not) on the eval set.

The caller builds `predict`; this module never loads a model. Predictions run `concurrency`
at a time, so an engine that batches concurrent requests decodes them together (~2.3x the
throughput of one at a time on 2 cores).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from training.data import Pair
from training.leaves import json_equal
from training.metrics import conformance, exact_match, field_accuracy
from training.pairs import schema_issues
from training.spans import input_text, strays

Predict = Callable[[str], Any]


@dataclass
class EvalResult:
    n: int
    conformance: float
    exact_match: float
    field_accuracy: float
    per_path: dict[str, float] = field(default_factory=dict)
    # Predictions that raised or were not JSON: counted as missing (None) above.
    errors: int = 0
    seconds: float = 0.0
    predictions: list[Any] = field(default_factory=list, repr=False)

    def to_dict(self, *, with_predictions: bool = False) -> dict[str, Any]:
        data = asdict(self)
        if not with_predictions:
            data.pop("predictions")
        return data


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        return json.loads(value)
    return value


def evaluate(
    eval_set: Sequence[Pair], *, predict: Predict, schema: Any, concurrency: int = 1
) -> EvalResult:
    """Run `predict` on every eval input and score it against the gold outputs.

    `predict(input)` returns the parsed JSON value, JSON text, or None when it produced
    nothing usable. Text that does not parse, and an exception from `predict`, count as
    None (an error, counted in `errors`): missing on every leaf, not conformant.
    """
    started = time.perf_counter()

    def attempt(pair: Pair) -> tuple[Any, bool]:
        try:
            return _as_json(predict(pair.input)), False
        except Exception:  # a failed prediction is a data point, not a crash
            return None, True

    with ThreadPoolExecutor(max(1, concurrency)) as pool:
        outcomes = list(pool.map(attempt, eval_set))
    return score(
        eval_set,
        [pred for pred, _ in outcomes],
        schema=schema,
        errors=sum(failed for _, failed in outcomes),
        seconds=time.perf_counter() - started,
    )


def score(
    eval_set: Sequence[Pair],
    preds: Sequence[Any],
    *,
    schema: Any,
    errors: int = 0,
    seconds: float = 0.0,
) -> EvalResult:
    """Score predictions (parsed JSON or None) against the eval set's gold outputs."""
    golds = [p.output for p in eval_set]
    accuracy = field_accuracy(golds, preds)
    return EvalResult(
        n=len(eval_set),
        conformance=conformance(preds, schema=schema),
        exact_match=exact_match(golds, preds),
        field_accuracy=accuracy["overall"],
        per_path=accuracy["per_path"],
        errors=errors,
        seconds=seconds,
        predictions=list(preds),
    )


def keeps_free_answer(
    pair: Pair, answer: Any, *, schema: Any, copied: Mapping[str, int] | None = None
) -> bool:
    """Whether `auto` serves an adapter's free `answer` to `pair.input` as it is (the
    runtime's rule): it validates and no `copied` field strays from the input's spans."""
    return (
        answer is not None
        and not schema_issues(schema, answer)
        and not (copied and strays(schema, answer, input_text(pair.input), copied)[0])
    )


def evaluate_served(
    eval_set: Sequence[Pair],
    free: EvalResult,
    *,
    constrained: Predict,
    schema: Any,
    copied: Mapping[str, int] | None = None,
    concurrency: int = 1,
) -> EvalResult:
    """What `auto` serves with an adapter, given its free pass over `eval_set`: per row the free
    answer where `keeps_free_answer`, else `constrained`'s. Only those other rows are decoded
    again, so the served figure costs a fraction of a pass."""
    redo = [
        i
        for i, (pair, answer) in enumerate(zip(eval_set, free.predictions, strict=True))
        if not keeps_free_answer(pair, answer, schema=schema, copied=copied)
    ]
    redone = evaluate(
        [eval_set[i] for i in redo], predict=constrained, schema=schema, concurrency=concurrency
    )
    preds = list(free.predictions)
    for i, pred in zip(redo, redone.predictions, strict=True):
        preds[i] = pred
    return score(
        eval_set,
        preds,
        schema=schema,
        errors=sum(p is None for p in preds),
        seconds=free.seconds + redone.seconds,
    )


def constrained_agreement(
    eval_set: Sequence[Pair],
    free: EvalResult,
    constrained: EvalResult,
    *,
    schema: Any,
    copied: Mapping[str, int] | None = None,
) -> float:
    """Share of the rows whose free answer `auto` keeps where the constrained answer is the
    same value: 1.0 when constrained decoding never changes an answer it did not have to (1.0
    when there is no such row: nothing to compare)."""
    pairs = [
        (f, c)
        for pair, f, c in zip(eval_set, free.predictions, constrained.predictions, strict=True)
        if keeps_free_answer(pair, f, schema=schema, copied=copied)
    ]
    if not pairs:
        return 1.0
    return sum(c is not None and json_equal(f, c) for f, c in pairs) / len(pairs)
