"""Bar charts as inline SVG, drawn on the server: no JavaScript, readable by screen readers.

Each chart is an ``<svg role="img">`` labelled by its ``<title>`` and ``<desc>``, sized by its ``viewBox``
so that it shrinks to a phone's width; every bar has its own ``<title>`` with the exact figure. Pages show
the same numbers in a table next to the chart. Labels are escaped (they are names people typed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from markupsafe import Markup, escape

BAR = "#0b6b57"
INK = "#1d2330"
MUTED = "#4f5869"
LABEL_CHARS = 46

Number = int | float | Decimal
Items = Sequence[tuple[str, Number]]


def _shorten(text: str, size: int = LABEL_CHARS) -> str:
    return text if len(text) <= size else text[: size - 1].rstrip() + "…"


def _open(chart_id: str, title: str, desc: str, width: int, height: int) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="system-ui, sans-serif">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]


def horizontal_bars(chart_id: str, title: str, desc: str, items: Items, value_text: Callable[[Number], str]) -> Markup:
    """One bar per item, its label on the line above: long labels stay readable on a phone."""
    width, row, label_size = 400, 42, 14
    height = max(row, row * len(items)) + 4
    top = max((float(v) for _label, v in items), default=0.0) or 1.0
    room = width - 90  # what is left for the bar after its value
    parts = _open(chart_id, title, desc, width, height)
    for index, (label, value) in enumerate(items):
        y = index * row
        length = max(1.0, float(value) / top * room) if value else 0.0
        figure = value_text(value)
        parts.append("<g>")
        parts.append(f"<title>{escape(label)}: {escape(figure)}</title>")
        parts.append(
            f'<text x="0" y="{y + label_size}" font-size="{label_size}" fill="{INK}">{escape(_shorten(label))}</text>'
        )
        parts.append(f'<rect x="0" y="{y + 20}" width="{length:.1f}" height="16" rx="2" fill="{BAR}"/>')
        parts.append(f'<text x="{length + 6:.1f}" y="{y + 33}" font-size="13" fill="{MUTED}">{escape(figure)}</text>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)


def vertical_bars(chart_id: str, title: str, desc: str, items: Items, value_text: Callable[[Number], str]) -> Markup:
    """One column per item (months), its label below and its value above."""
    slot = 34
    left, base, height = 4, 190, 230
    width = max(400, left + slot * len(items) + 4)
    top = max((float(v) for _label, v in items), default=0.0) or 1.0
    parts = _open(chart_id, title, desc, width, height)
    parts.append(f'<line x1="{left}" y1="{base}" x2="{width - 4}" y2="{base}" stroke="{MUTED}" stroke-width="1"/>')
    for index, (label, value) in enumerate(items):
        x = left + index * slot
        middle = x + slot / 2
        bar = float(value) / top * 150 if value else 0.0
        figure = value_text(value)
        parts.append("<g>")
        parts.append(f"<title>{escape(label)}: {escape(figure)}</title>")
        if bar:
            parts.append(
                f'<rect x="{x + 4}" y="{base - bar:.1f}" width="{slot - 8}" height="{bar:.1f}" rx="2" fill="{BAR}"/>'
            )
        parts.append(
            f'<text x="{middle:.1f}" y="{base - bar - 5:.1f}" font-size="11" text-anchor="middle" '
            f'fill="{MUTED}">{escape(figure)}</text>'
        )
        parts.append(
            f'<text x="{middle:.1f}" y="{base + 18}" font-size="12" text-anchor="middle" '
            f'fill="{INK}">{escape(_shorten(label, 6))}</text>'
        )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every text above is escaped)
