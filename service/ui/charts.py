"""Charts as SVG built on the server: no JavaScript library, nothing fetched from anywhere.

Every text that reaches the SVG is escaped; schema paths and names come from users.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from math import floor, log10

from markupsafe import Markup

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


@dataclass
class Line:
    label: str
    points: Sequence[tuple[float, float | None]]  # (x, y); y None leaves a gap
    color: str | None = None
    dashed: bool = False


def percent(v: float) -> str:
    return f"{v * 100:.0f}%" if abs(v * 100 - round(v * 100)) < 1e-9 else f"{v * 100:.1f}%"


def plain(v: float) -> str:
    if abs(v) >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.2g}" if abs(v) < 1 else f"{v:.1f}"


def millis(v: float) -> str:
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms"


def nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if high <= low:
        high = low + 1
    raw = (high - low) / count
    magnitude = 10 ** floor(log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = floor(low / step) * step
    ticks, value = [], start
    while value <= high + step * 1e-6:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 10))
    return ticks


def time_label(span_s: float) -> Callable[[float], str]:
    def label(x: float) -> str:
        moment = datetime.fromtimestamp(x, UTC)
        if span_s <= 2 * 86400:
            return moment.strftime("%H:%M")
        return moment.strftime("%b %d")

    return label


def empty(title: str, width: int, height: int, message: str = "No data in this window") -> Markup:
    return Markup(
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}: {escape(message)}" {FONT}>'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="#f8fafc" '
        f'stroke="#e2e8f0" rx="6"/><text x="{width / 2}" y="{height / 2}" text-anchor="middle" '
        f'fill="#64748b" font-size="13">{escape(message)}</text></svg>'
    )


def line_chart(
    lines: Sequence[Line],
    *,
    title: str,
    y_format: Callable[[float], str] = plain,
    x_format: Callable[[float], str] | None = None,
    y_min: float | None = None,
    y_max: float | None = None,
    width: int = 640,
    height: int = 220,
) -> Markup:
    """Lines over a shared x axis (seconds since the epoch, or steps), with axes and legend."""
    values = [(x, y) for line in lines for x, y in line.points if y is not None]
    if not values:
        return empty(title, width, height)
    xs = [x for line in lines for x, _ in line.points]
    x0, x1 = min(xs), max(xs)
    if x1 == x0:
        x1 = x0 + 1
    ys = [y for _, y in values]
    low = y_min if y_min is not None else min(0.0, min(ys))
    high = y_max if y_max is not None else max(ys)
    if high <= low:
        high = low + (abs(low) or 1)
    ticks = nice_ticks(low, high)
    low, high = min(low, ticks[0]), max(high, ticks[-1])
    left, right, top, bottom = 56, 12, 28, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    x_format = x_format or plain

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - low) / (high - low) * plot_h

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in ticks:
        tick_y = py(tick)
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{tick_y:.1f}" y2="{tick_y:.1f}" '
            f'stroke="#e2e8f0"/><text x="{left - 6}" y="{tick_y + 4:.1f}" text-anchor="end" '
            f'fill="#64748b">{escape(y_format(tick))}</text>'
        )
    for i in range(5):
        x = x0 + (x1 - x0) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        parts.append(
            f'<text x="{px(x):.1f}" y="{height - 10}" text-anchor="{anchor}" '
            f'fill="#64748b">{escape(x_format(x))}</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{width - right}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#94a3b8"/>'
    )
    legend_x = left
    for i, line in enumerate(lines):
        color = line.color or PALETTE[i % len(PALETTE)]
        dash = ' stroke-dasharray="5 4"' if line.dashed else ""
        segment: list[str] = []
        segments: list[list[str]] = []
        for x, y in line.points:
            if y is None:
                if segment:
                    segments.append(segment)
                segment = []
                continue
            segment.append(f"{px(x):.1f},{py(y):.1f}")
        if segment:
            segments.append(segment)
        for seg in segments:
            if len(seg) == 1:
                cx, cy = seg[0].split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{color}"/>')
            else:
                parts.append(
                    f'<polyline class="series" points="{" ".join(seg)}" fill="none" '
                    f'stroke="{color}" stroke-width="2" stroke-linejoin="round"{dash}/>'
                )
        for x, y in line.points:
            if y is not None and len(line.points) <= 120:
                parts.append(
                    f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="2.5" fill="{color}">'
                    f"<title>{escape(line.label)} · {escape(x_format(x))}: "
                    f"{escape(y_format(y))}</title></circle>"
                )
        parts.append(
            f'<rect x="{legend_x}" y="8" width="12" height="4" rx="1" fill="{color}"/>'
            f'<text x="{legend_x + 16}" y="14" fill="#334155">{escape(line.label)}</text>'
        )
        legend_x += 28 + 7 * len(line.label)
    parts.append("</svg>")
    return Markup("".join(parts))


def time_chart(lines: Sequence[Line], *, title: str, span_s: float, **kwargs: object) -> Markup:
    return line_chart(lines, title=title, x_format=time_label(span_s), **kwargs)  # type: ignore[arg-type]


def bar_chart(
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    title: str,
    width: int = 640,
) -> Markup:
    """Horizontal grouped bars, one group per category (e.g. a field path), values in 0..1."""
    if not categories or not series:
        return empty(title, width, 80, "No per-field evaluation")
    label_w, right, top, bar_h, gap = 170, 48, 30, 12, 10
    group_h = bar_h * len(series) + gap
    height = top + group_h * len(categories) + 24
    plot_w = width - label_w - right
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" {FONT} font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = label_w + tick * plot_w
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{height - 20}" stroke="#e2e8f0"/>'
            f'<text x="{x:.1f}" y="{height - 6}" text-anchor="middle" fill="#64748b">'
            f"{percent(tick)}</text>"
        )
    for i, category in enumerate(categories):
        y = top + i * group_h
        shown = category if len(category) <= 26 else "…" + category[-25:]
        parts.append(
            f'<text x="{label_w - 8}" y="{y + group_h / 2}" text-anchor="end" fill="#334155">'
            f"<title>{escape(category)}</title>{escape(shown)}</text>"
        )
        for j, (label, values) in enumerate(series):
            value = values[i]
            color = PALETTE[j % len(PALETTE)]
            by = y + j * bar_h
            if value is None:
                parts.append(
                    f'<text x="{label_w + 4}" y="{by + bar_h - 2}" fill="#94a3b8">n/a</text>'
                )
                continue
            w = max(1.0, min(1.0, value) * plot_w)
            parts.append(
                f'<rect class="bar" x="{label_w}" y="{by}" width="{w:.1f}" height="{bar_h - 2}" '
                f'rx="2" fill="{color}"><title>{escape(label)} · {escape(category)}: '
                f"{percent(value)}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{by + bar_h - 3}" fill="#334155">'
                f"{percent(value)}</text>"
            )
    legend_x = label_w
    for j, (label, _) in enumerate(series):
        color = PALETTE[j % len(PALETTE)]
        parts.append(
            f'<rect x="{legend_x}" y="8" width="12" height="10" rx="2" fill="{color}"/>'
            f'<text x="{legend_x + 16}" y="17" fill="#334155">{escape(label)}</text>'
        )
        legend_x += 30 + 7 * len(label)
    parts.append("</svg>")
    return Markup("".join(parts))
