"""Which candidate pairs (synthetic or teacher-labeled) may join the training set.

Each pair gets the first reason it fails, checked in this order (cheap first):
  empty_input, input_too_long, output_too_long, too_many_tokens  (limits)
  schema_invalid   the output does not validate against the schema version
  ungrounded       a string value is not in the input, where the real examples show that
                   their values always are (see `grounded_patterns`)
  duplicate        same normalized input as a real example or an earlier accepted pair
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from training.data import Pair, normalize_input
from training.leaves import compact_json_len, iter_leaves

REASONS = (
    "empty_input",
    "input_too_long",
    "output_too_long",
    "too_many_tokens",
    "schema_invalid",
    "ungrounded",
    "duplicate",
)
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class PairLimits:
    max_input_chars: int = 20_000
    max_output_chars: int = 20_000
    # Tokens of the rendered training sequence (prompt + target), counted by the caller's
    # tokenizer; None: not checked.
    max_tokens: int | None = None
    count_tokens: Callable[[Pair], int] | None = None
    # Grounding is enforced on a leaf pattern when at least this share of its string values
    # in the real examples occurs in their input, over at least `grounding_min_support` values.
    grounding_threshold: float = 0.9
    grounding_min_support: int = 3


@dataclass
class ValidationReport:
    accepted: list[Pair]
    rejected: Counter[str] = field(default_factory=Counter)
    # Index into the candidate list -> why that pair was rejected (accepted pairs absent).
    reasons: dict[int, str] = field(default_factory=dict)
    # The examples' message for each schema_invalid pair: index -> first issue.
    details: dict[int, str] = field(default_factory=dict)
    grounded_patterns: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "accepted": len(self.accepted),
            "rejected": dict(sorted(self.rejected.items())),
            "grounded_patterns": self.grounded_patterns,
        }


def schema_issues(schema: Any, instance: Any) -> list[str]:
    """Messages of the registry's validator for `instance` (empty: valid)."""
    from schemas.validation import validate_instance

    return [_issue_text(issue) for issue in validate_instance(schema, instance)]


def _issue_text(issue: Any) -> str:
    message = getattr(issue, "message", None) or str(issue)
    path = getattr(issue, "path", None)
    return f"{path}: {message}" if path not in (None, "") else message


def _norm_text(text: str) -> str:
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def is_grounded(value: str, text: str) -> bool:
    """A string value is grounded when it occurs in the text, ignoring case and spacing."""
    needle = _norm_text(value)
    return bool(needle) and needle in _norm_text(text)


def grounded_patterns(
    real_examples: Sequence[Pair], *, threshold: float = 0.9, min_support: int = 3
) -> list[str]:
    """Leaf patterns whose string values the real examples (nearly) always copy from the
    input: at least `threshold` of at least `min_support` non-empty string values."""
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    for pair in real_examples:
        for leaf in iter_leaves(pair.output):
            if isinstance(leaf.value, str) and leaf.value.strip():
                totals[leaf.pattern] += 1
                hits[leaf.pattern] += is_grounded(leaf.value, pair.input)
    return sorted(p for p, n in totals.items() if n >= min_support and hits[p] / n >= threshold)


def validate_pairs(
    pairs: Sequence[Pair],
    *,
    schema: Any,
    real_examples: Sequence[Pair],
    limits: PairLimits | None = None,
) -> ValidationReport:
    """Keep the candidate `pairs` that pass every check, in order; count the rest by reason.

    `real_examples` are all the version's labeled examples, train and eval: they set the
    grounding rule and no candidate may repeat one of their inputs (which would also leak
    eval inputs into training).
    """
    limits = limits or PairLimits()
    patterns = grounded_patterns(
        real_examples,
        threshold=limits.grounding_threshold,
        min_support=limits.grounding_min_support,
    )
    enforced = set(patterns)
    seen = {normalize_input(p.input) for p in real_examples}
    report = ValidationReport(accepted=[], grounded_patterns=patterns)
    for index, pair in enumerate(pairs):
        reason: str | None = None
        key = normalize_input(pair.input)
        if not key:
            reason = "empty_input"
        elif len(pair.input) > limits.max_input_chars:
            reason = "input_too_long"
        elif compact_json_len(pair.output) > limits.max_output_chars:
            reason = "output_too_long"
        elif (
            limits.max_tokens is not None
            and limits.count_tokens is not None
            and limits.count_tokens(pair) > limits.max_tokens
        ):
            reason = "too_many_tokens"
        else:
            issues = schema_issues(schema, pair.output)
            if issues:
                reason = "schema_invalid"
                report.details[index] = issues[0]
            elif any(
                leaf.pattern in enforced
                and isinstance(leaf.value, str)
                and leaf.value.strip()
                and not is_grounded(leaf.value, pair.input)
                for leaf in iter_leaves(pair.output)
            ):
                reason = "ungrounded"
            elif key in seen:
                reason = "duplicate"
        if reason is None:
            seen.add(key)
            report.accepted.append(pair)
        else:
            report.rejected[reason] += 1
            report.reasons[index] = reason
    return report


def by_reason(report: ValidationReport) -> dict[str, list[int]]:
    """Candidate indices grouped by rejection reason."""
    groups: dict[str, list[int]] = defaultdict(list)
    for index, reason in sorted(report.reasons.items()):
        groups[reason].append(index)
    return dict(groups)
