"""Pure statistics over request-log rows: rates, percentiles, buckets, evaluations.

No database and no FastAPI here: the service reads rows, these functions summarise them, so the
same numbers come out on SQLite and PostgreSQL.
"""

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

BUCKET_RE = re.compile(r"^([1-9][0-9]{0,5})([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MIN_BUCKET_S = 60
MAX_BUCKETS = 1000


@dataclass(frozen=True)
class Row:
    """The columns of one request log that metrics need (never the payloads)."""

    schema_version_id: int | None
    adapter_id: int | None
    created_at: datetime
    mode: str
    decoding: str | None
    status_code: int
    error: str | None
    valid: bool
    first_attempt_valid: bool | None
    attempts: int
    latency_ms: float
    completion_tokens: int


class BadWindow(ValueError):
    """A window or bucket that cannot be served; `path` names the query parameter."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def parse_bucket(text: str) -> int:
    """`5m`, `1h`, `1d` -> seconds; at least a minute."""
    match = BUCKET_RE.match(text.strip())
    if not match:
        raise BadWindow(
            f"{text!r} is not a bucket size: use a number and a unit, e.g. 5m, 1h or 1d.",
            path="/bucket",
        )
    seconds = int(match.group(1)) * UNIT_S[match.group(2)]
    if seconds < MIN_BUCKET_S:
        raise BadWindow("A bucket is at least 1m.", path="/bucket")
    return seconds


def format_bucket(seconds: int) -> str:
    for unit in ("d", "h", "m"):
        if seconds % UNIT_S[unit] == 0:
            return f"{seconds // UNIT_S[unit]}{unit}"
    return f"{seconds}s"


def auto_bucket(span_s: float) -> int:
    """A readable bucket giving at most ~60 points over the span."""
    for seconds in (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86400, 7 * 86400):
        if span_s / seconds <= 60:
            return seconds
    return math.ceil(span_s / 60 / 86400) * 86400


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    since: datetime
    until: datetime
    bucket_s: int

    @property
    def first_bucket(self) -> datetime:
        """Buckets are aligned to multiples of their size since the epoch (UTC)."""
        epoch = int(self.since.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.bucket_s, UTC)

    def starts(self) -> list[datetime]:
        start, step, out = self.first_bucket, timedelta(seconds=self.bucket_s), []
        while start < self.until:
            out.append(start)
            start += step
        return out

    def index(self, moment: datetime) -> int:
        return int((as_utc(moment) - self.first_bucket).total_seconds() // self.bucket_s)


EARLIEST = datetime(1970, 1, 2)
LATEST = datetime(9000, 1, 1)


def make_window(
    *,
    since: datetime | None,
    until: datetime | None,
    bucket: str | None,
    now: datetime,
    default_span: timedelta = timedelta(days=1),
) -> Window:
    """Check and complete a window: until defaults to now, since to a day before until."""
    for name, value in (("since", since), ("until", until)):
        # Outside these years the bucket arithmetic (and astimezone) overflows datetime.
        if value is not None and not EARLIEST <= value.replace(tzinfo=None) <= LATEST:
            raise BadWindow(
                f"{name} must lie between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}.",
                path=f"/{name}",
            )
    until = as_utc(until) if until else now
    since = as_utc(since) if since else until - default_span
    if since >= until:
        raise BadWindow("since must be earlier than until.", path="/since")
    span = (until - since).total_seconds()
    bucket_s = parse_bucket(bucket) if bucket else auto_bucket(span)
    window = Window(since=since, until=until, bucket_s=bucket_s)
    count = math.ceil((until - window.first_bucket).total_seconds() / bucket_s)
    if count > MAX_BUCKETS:
        raise BadWindow(
            f"The window holds {count} buckets of {format_bucket(bucket_s)}; at most "
            f"{MAX_BUCKETS} are served. Use a larger bucket or a shorter window.",
            path="/bucket",
        )
    return window


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default); None when empty."""
    if not sorted_values:
        return None
    if len(sorted_values) == 1:
        return float(sorted_values[0])
    pos = (len(sorted_values) - 1) * q
    low = math.floor(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return float(sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low))


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def summarize(rows: Iterable[Row]) -> dict[str, Any]:
    """Requests, conformance, fallback, rejections, latency and throughput of some rows.

    - conformance: share of generated answers (not `unconstrained` mode, which returns invalid
      output on purpose) whose final output validated; it should be 1.0.
    - first_attempt_conformance: share of first attempts (before any fallback) that validated.
    - fallback_rate: share of generations that needed more than one attempt.
    """
    rows = list(rows)
    generated = [r for r in rows if r.attempts > 0]
    judged = [r for r in generated if r.mode != "unconstrained"]
    first = [r for r in generated if r.first_attempt_valid is not None]
    latencies = sorted(r.latency_ms for r in rows if r.status_code == 200)
    timed = [r for r in generated if r.latency_ms > 0 and r.completion_tokens > 0]
    seconds = sum(r.latency_ms for r in timed) / 1000
    rejected = Counter(r.error or "invalid_request" for r in rows if r.status_code == 422)
    failed = Counter(
        r.error or str(r.status_code) for r in rows if r.status_code >= 400 and r.status_code != 422
    )

    def rounded(value: float | None, digits: int = 4) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "requests": len(rows),
        "succeeded": sum(1 for r in rows if r.status_code == 200),
        "conformance": rounded(ratio(sum(1 for r in judged if r.valid), len(judged))),
        "first_attempt_conformance": rounded(
            ratio(sum(1 for r in first if r.first_attempt_valid), len(first))
        ),
        "fallback_rate": rounded(
            ratio(sum(1 for r in generated if r.attempts > 1), len(generated))
        ),
        "error_rate": rounded(ratio(sum(1 for r in rows if r.status_code >= 400), len(rows))),
        "rejected": dict(sorted(rejected.items())),
        "failed": dict(sorted(failed.items())),
        "latency_ms": {
            "p50": rounded(percentile(latencies, 0.50), 1),
            "p95": rounded(percentile(latencies, 0.95), 1),
            "p99": rounded(percentile(latencies, 0.99), 1),
        },
        "tokens_per_s": rounded(
            sum(r.completion_tokens for r in timed) / seconds if seconds > 0 else None, 2
        ),
        "completion_tokens": sum(r.completion_tokens for r in rows),
        "decoding": dict(sorted(Counter(r.decoding for r in generated if r.decoding).items())),
    }


def series(rows: Iterable[Row], window: Window) -> list[dict[str, Any]]:
    """One summary per bucket, every bucket present (empty ones have requests = 0)."""
    starts = window.starts()
    grouped: list[list[Row]] = [[] for _ in starts]
    for row in rows:
        i = window.index(row.created_at)
        if 0 <= i < len(grouped):
            grouped[i].append(row)
    return [
        {"start": start, **summarize(group)} for start, group in zip(starts, grouped, strict=True)
    ]


def health(summary: dict[str, Any]) -> str:
    """green / amber / red at a glance; grey without traffic."""
    if not summary["requests"]:
        return "grey"
    conformance = summary["conformance"]
    errors = summary["error_rate"] or 0.0
    fallback = summary["fallback_rate"] or 0.0
    if (conformance is not None and conformance < 0.95) or errors > 0.10:
        return "red"
    if (conformance is not None and conformance < 0.995) or errors > 0.01 or fallback > 0.25:
        return "amber"
    return "green"


# ---------------------------------------------------------------- held-out evaluations

EVAL_KEYS = {
    "base": ("base", "base_model"),
    "adapter": ("adapter_unconstrained", "adapter", "unconstrained"),
    "adapter_constrained": ("adapter_served", "adapter_constrained", "constrained"),
}


def number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def eval_view(raw: Any) -> dict[str, Any] | None:
    """One model's evaluation, tolerant of missing keys and of a flat field_accuracy number."""
    if not isinstance(raw, dict):
        return None
    accuracy = raw.get("field_accuracy")
    per_path: dict[str, float] = {}
    overall = number(accuracy)
    paths = raw.get("per_path")  # training/evaluate.py keeps it next to field_accuracy
    if isinstance(accuracy, dict):
        overall = number(accuracy.get("overall"))
        paths = accuracy.get("per_path", paths)
    if isinstance(paths, dict):
        per_path = {str(k): n for k, v in paths.items() if (n := number(v)) is not None}
    return {
        "conformance": number(raw.get("conformance")),
        "exact_match": number(raw.get("exact_match")),
        "field_accuracy": overall,
        "per_path": per_path,
        "n": raw.get("n") if isinstance(raw.get("n"), int) else None,
    }


def compare_evaluation(evaluation: Any) -> dict[str, Any]:
    """The adapter's held-out evaluation next to the base model's, field by field."""
    evaluation = evaluation if isinstance(evaluation, dict) else {}
    views: dict[str, dict[str, Any] | None] = {}
    for name, keys in EVAL_KEYS.items():
        views[name] = next((eval_view(evaluation[k]) for k in keys if k in evaluation), None)
    if views["adapter"] is None and any(
        k in evaluation for k in ("conformance", "exact_match", "field_accuracy")
    ):
        views["adapter"] = eval_view(evaluation)  # a flat evaluation is the adapter's own
    paths = sorted({p for v in views.values() if v for p in v["per_path"]})
    fields = [
        {
            "path": path,
            **{name: (v["per_path"].get(path) if v else None) for name, v in views.items()},
        }
        for path in paths
    ]
    return {**views, "fields": fields}
