"""The promotion rule: a new adapter serves only if, in the mode that will serve it (auto), it
beats what serves now, both scored on the same eval set in the same job."""

from dataclasses import asdict, dataclass
from typing import Any

FIGURES = ("conformance", "exact_match", "field_accuracy", "per_path")


@dataclass(frozen=True)
class Promotion:
    promoted: bool
    score: float  # the new adapter's served field accuracy
    baseline: float  # what it had to beat
    against: str  # "base" or "adapter <id>"


def _figures(evaluation: dict[str, Any], key: str) -> tuple[float, float]:
    found = evaluation.get(key) or {}
    return float(found.get("field_accuracy", 0.0)), float(found.get("exact_match", 0.0))


def decide(evaluation: dict[str, Any], *, adapter_id: int, current_id: int | None) -> Promotion:
    """Compare the new adapter as served (`adapter_served`) with the active adapter as served
    (`active_adapter`, when another adapter serves) or else the base model few-shot (`base`),
    all from this evaluation: higher field accuracy, or equal and higher exact match. A tie
    keeps what serves now. An active adapter this evaluation did not score (promoted while the
    job ran) is not beaten; a stale one (`stale_adapter`: trained for another base model) does
    not serve, so the base model is what to beat. An adapter already serving stays promoted (a
    promote stage delivered twice)."""
    score = _figures(evaluation, "adapter_served")
    if current_id is not None and (evaluation.get("stale_adapter") or {}).get("id") == current_id:
        # The active adapter was trained for another base model: the base serves now.
        baseline = _figures(evaluation, "base")
        promoted = score > baseline
        return Promotion(promoted, score[0], baseline[0], f"base (adapter {current_id} stale)")
    if current_id is not None and current_id != adapter_id:
        against = f"adapter {current_id}"
        if (evaluation.get("active_adapter") or {}).get("id") != current_id:
            return Promotion(False, score[0], 0.0, f"{against} (not evaluated)")
        baseline = _figures(evaluation, "active_adapter")
    else:
        baseline, against = _figures(evaluation, "base"), "base"
    promoted = current_id == adapter_id or score > baseline
    return Promotion(promoted, score[0], baseline[0], against)


def job_metrics(evaluation: dict[str, Any], verdict: Promotion) -> dict[str, Any]:
    """The job's `metrics`: each configuration's figures (per-path table included) on the one
    eval set, and the verdict."""
    metrics: dict[str, Any] = {
        "eval_set": evaluation.get("eval_set", "held out"),
        "eval_examples": evaluation.get("n", 0),
    }
    for key in ("base", "active_adapter", "adapter_unconstrained", "adapter_served"):
        if isinstance(evaluation.get(key), dict):
            metrics[key] = {f: evaluation[key][f] for f in FIGURES if f in evaluation[key]}
    return {**metrics, **{k: v for k, v in asdict(verdict).items() if k != "baseline"}}
