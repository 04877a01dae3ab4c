"""Small bar charts as inline SVG, drawn on the server: no script, readable by screen readers
(each chart has a title and a description, and the page shows the same figures in a table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

Svg = Markup  # an inline <svg> element, safe to place in a page

BAR = 22  # px per bar row
GAP = 8
LABEL_WIDTH = 170
VALUE_WIDTH = 170  # room right of the longest bar for its value
WIDTH = 640


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    caption: str  # the value as people read it (money, a count, a share)


@dataclass(frozen=True)
class Step:
    """One step of a waterfall: `delta` moves the running total; a total bar shows where it stands."""

    label: str
    delta: int
    caption: str
    total: bool = False


def _svg(title: str, description: str, height: int, body: str, css_class: str) -> Svg:
    return Markup(
        f'<svg class="chart {css_class}" role="img" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" '
        f'height="{height}" aria-labelledby="t d" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title><desc>{escape(description)}</desc>{body}</svg>"
    )


def _label(x: float, y: float, text: str, anchor: str = "end") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" dominant-baseline="middle">{escape(text)}</text>'


def bar_chart(bars: Sequence[Bar], title: str, description: str = "") -> Svg:
    """Horizontal bars from a zero line; negative values run left of it."""
    height = max(1, len(bars)) * (BAR + GAP) + GAP
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    low = min([0, *(b.value for b in bars)])
    high = max([0, *(b.value for b in bars)])
    scale = plot / ((high - low) or 1)
    zero = LABEL_WIDTH + (-low) * scale
    parts = []
    for row, bar in enumerate(bars):
        y = GAP + row * (BAR + GAP)
        x, w = (zero, bar.value * scale) if bar.value >= 0 else (zero + bar.value * scale, -bar.value * scale)
        parts.append(_label(LABEL_WIDTH - 6, y + BAR / 2, bar.label))
        parts.append(f'<rect class="bar{" negative" if bar.value < 0 else ""}" x="{x:.1f}" y="{y}" '
                     f'width="{max(w, 1):.1f}" height="{BAR}"><title>{escape(bar.label)}: {escape(bar.caption)}'
                     "</title></rect>")  # fmt: skip
        parts.append(_label(x + max(w, 1) + 6, y + BAR / 2, bar.caption, "start"))
    parts.append(f'<line class="axis" x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}"/>')
    return _svg(title, description or title, height, "".join(parts), "bars")


def waterfall(steps: Sequence[Step], title: str, description: str = "") -> Svg:
    """Each step floats from the running total before it; total bars stand on zero."""
    running, spans = 0, []
    for step in steps:
        if step.total:
            spans.append((0, step.delta))
            running = step.delta
        else:
            spans.append((running, running + step.delta))
            running += step.delta
    low = min([0, *(v for span in spans for v in span)])
    high = max([0, *(v for span in spans for v in span)])
    height = max(1, len(steps)) * (BAR + GAP) + GAP
    plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    scale = plot / ((high - low) or 1)
    parts = []
    for row, (step, (start, end)) in enumerate(zip(steps, spans, strict=True)):
        y = GAP + row * (BAR + GAP)
        x0, x1 = sorted((LABEL_WIDTH + (start - low) * scale, LABEL_WIDTH + (end - low) * scale))
        kind = "total" if step.total else ("up" if step.delta >= 0 else "down")
        parts.append(_label(LABEL_WIDTH - 6, y + BAR / 2, step.label))
        parts.append(f'<rect class="bar {kind}" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{BAR}">'
                     f"<title>{escape(step.label)}: {escape(step.caption)}</title></rect>")  # fmt: skip
        parts.append(_label(max(x1, x0 + 1) + 6, y + BAR / 2, step.caption, "start"))
    zero = LABEL_WIDTH + (-low) * scale
    parts.append(f'<line class="axis" x1="{zero:.1f}" y1="0" x2="{zero:.1f}" y2="{height}"/>')
    return _svg(title, description or title, height, "".join(parts), "waterfall")
