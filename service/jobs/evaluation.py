"""Scoring on an eval set, one home for the job's evaluate stage and for eval-only runs, so
both give the same figures for the same adapter on the same set: the base model few-shot
(constrained, what serves without an adapter), an adapter as it serves (`auto`), and an adapter
alone (unconstrained) with its served figure derived from that pass."""

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from runtime import GenerateRequest, ModelRuntime
from training.data import Pair
from training.prompts import FEW_SHOT


class Prompted(Protocol):
    """What a prediction's prompt needs: a job's context or an evaluation run's target."""

    schema: dict[str, Any]
    description: str | None
    instructions: str | None


@dataclass
class SchemaPrompt:
    """A registered version as prompts see it (what an eval-only run scores against)."""

    schema: dict[str, Any]
    description: str | None
    instructions: str | None


def predictor(
    runtime: ModelRuntime,
    target: Prompted,
    *,
    mode: str,
    adapter: str | None,
    examples: list[Pair],
    max_tokens: int,
) -> Callable[[str], str]:
    def predict(text: str) -> str:
        request = GenerateRequest(
            schema=target.schema,
            input=text,
            description=target.description,
            instructions=target.instructions,
            examples=[(p.input, p.output) for p in examples],
            mode=mode,  # type: ignore[arg-type]
            max_tokens=max_tokens,
        )
        return runtime.generate(request, adapter=adapter).raw

    return predict


def output_budget(runtime: ModelRuntime, pairs: list[Pair]) -> int:
    """max_tokens for evaluation: room for the longest gold answer, and some."""
    longest = max(
        (runtime.count_tokens(json.dumps(p.output, separators=(",", ":"))) for p in pairs),
        default=64,
    )
    return min(1024, int(longest * 1.5) + 16)


def eval_split(
    labeled: Sequence[Pair], pinned: Sequence[Pair], config: Any
) -> tuple[list[Pair], list[Pair]]:
    """(train, eval) as a job splits them: the pinned examples if any, else the held-out ones;
    the base model's few-shot examples are the first FEW_SHOT of `train`."""
    from training.splits import split_examples

    return split_examples(
        list(labeled),
        eval_fraction=config.eval_fraction,
        min_eval=config.eval_min,
        seed=config.seed,
        max_eval=config.eval_max,
        max_share=config.eval_max_share,
        pinned=list(pinned),
    )


@dataclass
class Scorer:
    """Scores configurations of one schema on one eval set with one loaded model."""

    runtime: ModelRuntime
    target: Prompted
    eval_set: list[Pair]
    check: Callable[[], None] = field(default=lambda: None)

    def __post_init__(self) -> None:
        self.budget = output_budget(self.runtime, self.eval_set)
        self.concurrency = self.runtime.max_batch_size

    def _predict(self, mode: str, adapter: str | None, shots: list[Pair]) -> Callable[[str], str]:
        self.check()
        return predictor(
            self.runtime,
            self.target,
            mode=mode,
            adapter=adapter,
            examples=shots,
            max_tokens=self.budget,
        )

    def _score(self, predict: Callable[[str], str]) -> Any:
        from training.evaluate import evaluate

        return evaluate(
            self.eval_set,
            predict=predict,
            schema=self.target.schema,
            concurrency=self.concurrency,
        )

    def base(self, train: list[Pair]) -> Any:
        """The base model few-shot (its shots: the first of `train`), constrained."""
        return self._score(self._predict("constrained", None, train[:FEW_SHOT]))

    def served(self, adapter: str) -> Any:
        """An adapter as `auto` serves it."""
        return self._score(self._predict("auto", adapter, []))

    def adapter(self, adapter: str) -> tuple[Any, Any]:
        """An adapter alone (unconstrained) and as it would serve (constrained only where its
        own answer does not validate or strays from the input's spans)."""
        from training.evaluate import evaluate_served
        from training.finetune import copied_fields_of

        free = self._score(self._predict("unconstrained", adapter, []))
        served = evaluate_served(
            self.eval_set,
            free,
            constrained=self._predict("constrained", adapter, []),
            schema=self.target.schema,
            copied=copied_fields_of(Path(adapter)),
            concurrency=self.concurrency,
        )
        return free, served
