"""The promotion rule: a new adapter serves only if it beats what serves now on held-out data."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    score: float  # the new adapter's served accuracy
    baseline: float  # what it had to beat
    against: str  # "base" or "adapter <id>"


def served_accuracy(evaluation: dict[str, Any]) -> float:
    """What `auto` serves best approximates: the adapter under constraints."""
    return float((evaluation.get("adapter_constrained") or {}).get("field_accuracy", 0.0))


def decide(
    evaluation: dict[str, Any],
    *,
    adapter_id: int,
    current_id: int | None,
    current_evaluation: dict[str, Any] | None,
) -> Promotion:
    """Promote when the adapter's served accuracy beats the active adapter's (another one), or
    else the base model's few-shot constrained accuracy from the same evaluation. Strictly
    better: a tie keeps what serves now. An adapter that already serves stays promoted (a
    promote stage delivered twice)."""
    score = served_accuracy(evaluation)
    if current_id is not None and current_id != adapter_id:
        baseline, against = served_accuracy(current_evaluation or {}), f"adapter {current_id}"
    else:
        baseline = float((evaluation.get("base") or {}).get("field_accuracy", 0.0))
        against = "base"
    promoted = current_id == adapter_id or score > baseline
    return Promotion(promoted=promoted, score=score, baseline=baseline, against=against)
