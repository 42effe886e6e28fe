"""Bar charts as inline SVG drawn on the server: no script, no font or library download.

``bar_chart`` draws one bar group per x label, the series stacked or side by side, with a y axis
of "nice" ticks, a legend, and a ``<title>`` tooltip per bar (the exact value).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 900, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 44


@dataclass(frozen=True)
class Series:
    name: str
    color: str
    values: Sequence[float]


def nice_max(value: float) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above ``value`` (at least 1)."""
    if value <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"


def bar_chart(chart_id: str, title: str, labels: Sequence[str], series: Sequence[Series], *,
              stacked: bool = False, unit: str = "") -> str:
    """An ``<svg>`` element (``id=chart_id``); ``labels`` and every series' values line up by index."""
    n = len(labels)
    if any(len(s.values) != n for s in series):
        raise ValueError(f"chart {chart_id}: every series needs {n} values")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if stacked:
        peak = max((sum(s.values[i] for s in series) for i in range(n)), default=0)
    else:
        peak = max((v for s in series for v in s.values), default=0)
    top = nice_max(peak)
    parts = [f'<svg id="{escape(chart_id)}" class="chart" xmlns="http://www.w3.org/2000/svg" '
             f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">',
             f"<style>#{escape(chart_id)} .grid{{stroke:#d0d7de}}#{escape(chart_id)} .tick{{font:11px sans-serif;"
             f"fill:#57606a}}#{escape(chart_id)} .chart-title{{font:600 13px sans-serif;fill:#1f2328}}</style>",
             f'<text x="{LEFT}" y="16" class="chart-title">{escape(title)}</text>']
    for k in range(5):  # grid + y labels
        value = top * k / 4
        y = TOP + plot_h - plot_h * k / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" class="tick">{_fmt(value)}{unit}</text>')
    if n == 0:
        parts.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" class="tick">'
                     'no runs</text></svg>')
        return "".join(parts)
    slot = plot_w / n
    group = min(slot * 0.8, 120.0)
    bar_w = group if stacked else group / max(len(series), 1)
    label_every = max(1, math.ceil(n / 12))
    for i, label in enumerate(labels):
        x0 = LEFT + slot * i + (slot - group) / 2
        base = 0.0
        for j, s in enumerate(series):
            value = s.values[i]
            h = plot_h * value / top
            x = x0 if stacked else x0 + j * bar_w
            y = TOP + plot_h - h - (plot_h * base / top if stacked else 0)
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
                         f'fill="{s.color}" data-series="{escape(s.name)}" data-value="{value:g}">'
                         f'<title>{escape(label)}: {escape(s.name)} {_fmt(value)}{unit}</title></rect>')
            if stacked:
                base += value
        if i % label_every == 0:
            parts.append(f'<text x="{x0 + group / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" '
                         f'class="tick">{escape(label)}</text>')
    x = LEFT
    for s in series:  # legend under the axis
        parts.append(f'<rect x="{x}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.color}"/>'
                     f'<text x="{x + 14}" y="{HEIGHT - 5}" class="tick">{escape(s.name)}</text>')
        x += 24 + 7 * len(s.name)
    parts.append("</svg>")
    return "".join(parts)
