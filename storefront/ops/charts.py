"""Small SVG charts rendered on the server: no JavaScript library, nothing to download.

Each function returns a complete inline `<svg>` (SafeString) sized in CSS pixels; text
alternatives come from the table cells beside them.
"""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

OK, WARN, BAD, MUTED = "#3ecf8e", "#f5b83d", "#ff5c5c", "#8a93a6"


def sparkline(
    values: list[float | None],
    *,
    width: int = 220,
    height: int = 44,
    threshold: float | None = None,
    color: str = OK,
) -> SafeString:
    """A line over time; a dashed line at `threshold` (an SLO), points above it in red."""
    known = [value for value in values if value is not None]
    if len(values) < 2 or not known:
        return format_html(
            '<svg class="spark" width="{}" height="{}" role="img" aria-label="no data yet">'
            '<text x="4" y="{}" fill="{}">collecting…</text></svg>',
            width,
            height,
            height // 2 + 5,
            MUTED,
        )
    top = max([*known, threshold or 0.0]) * 1.1 or 1.0
    step = width / (len(values) - 1)

    def y(value: float) -> float:
        return round(height - 2 - (height - 4) * value / top, 1)

    points = " ".join(
        f"{round(index * step, 1)},{y(value)}"
        for index, value in enumerate(values)
        if value is not None
    )
    over = [
        (round(index * step, 1), y(value))
        for index, value in enumerate(values)
        if value is not None and threshold is not None and value > threshold
    ]
    guide = (
        format_html(
            '<line x1="0" x2="{}" y1="{}" y2="{}" stroke="{}" stroke-dasharray="4 3"/>',
            width,
            y(threshold),
            y(threshold),
            WARN,
        )
        if threshold is not None
        else ""
    )
    dots = format_html_join("", '<circle cx="{}" cy="{}" r="2.5" fill="' + BAD + '"/>', over)
    return format_html(
        '<svg class="spark" width="{}" height="{}" viewBox="0 0 {} {}" aria-hidden="true">'
        '{}<polyline points="{}" fill="none" stroke="{}" stroke-width="2"/>{}</svg>',
        width,
        height,
        width,
        height,
        guide,
        points,
        color,
        dots,
    )


def bar(
    fraction: float | None, *, width: int = 220, height: int = 18, color: str = OK
) -> SafeString:
    """A horizontal bar filled to `fraction` (0..1) of its width."""
    filled = 0 if fraction is None else round(max(0.0, min(fraction, 1.0)) * width, 1)
    return format_html(
        '<svg class="bar" width="{}" height="{}" aria-hidden="true">'
        '<rect width="{}" height="{}" fill="#2a3040" rx="3"/>'
        '<rect width="{}" height="{}" fill="{}" rx="3"/></svg>',
        width,
        height,
        width,
        height,
        filled,
        height,
        color,
    )


def status_color(value: float | None, *, warn: float, bad: float) -> str:
    """Green below `warn`, amber below `bad`, red from `bad` (None is grey)."""
    if value is None:
        return MUTED
    if value >= bad:
        return BAD
    return WARN if value >= warn else OK
