"""SVG charts drawn as text: no script, no library, nothing to download.

Two readers: the load-test report (`line_chart`: series over a run, phases as shaded
bands, release decisions as markers, a legend) and the ops dashboard (`sparkline`, `bar`:
small inline charts beside a table's figures). Both map values onto the same kind of
plot (`_Plot`) and draw lines the same way (`_polyline`). Every function returns a
complete `<svg>` element as a string with all text escaped, so a template may mark it
safe as it is.
"""

from __future__ import annotations

import html
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

Series = Mapping[str, Sequence[tuple[float, float]]]
PALETTE = ("#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563")
PHASE_FILLS = ("#f1f5f9", "#e0f2fe")
OK, WARN, BAD, MUTED = "#3ecf8e", "#f5b83d", "#ff5c5c", "#8a93a6"
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 880, 220, 56, 150, 22, 28
_GRID = (0, 0.25, 0.5, 0.75, 1)

_e = html.escape


class Span(Protocol):
    """A named stretch of the run (a load-test phase); read only, so frozen records fit."""

    @property
    def name(self) -> str: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...


@dataclass(frozen=True)
class _Plot:
    """The rectangle values are drawn in: x from 0 to `x_max`, y from 0 to `y_max`."""

    left: float
    top: float
    width: float
    height: float
    x_max: float
    y_max: float

    def x(self, value: float) -> float:
        return self.left + self.width * min(max(value, 0.0), self.x_max) / self.x_max

    def y(self, value: float) -> float:
        return self.top + self.height * (1 - min(max(value, 0.0), self.y_max) / self.y_max)


def _polyline(plot: _Plot, points: Sequence[tuple[float, float]], **attributes: str) -> str:
    path = " ".join(f"{plot.x(x):.1f},{plot.y(y):.1f}" for x, y in points)
    extra = "".join(f' {name.replace("_", "-")}="{value}"' for name, value in attributes.items())
    return f'<polyline points="{path}" fill="none"{extra}/>'


def nice_max(value: float) -> float:
    """Round a chart's top up to 1, 2, 2.5 or 5 times a power of ten (1.0 for nothing)."""
    if value <= 0:
        return 1.0
    magnitude: float = 10 ** len(str(int(value))) / 10
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return value


# ---- the report's line chart ----------------------------------------------------------


def line_chart(
    title: str,
    series: Series,
    *,
    duration_s: float,
    phases: Sequence[Span] = (),
    unit: str = "",
    y_max: float | None = None,
    markers: Sequence[tuple[float, str]] = (),
    dashed: Collection[str] = (),
) -> str:
    """Draw each series over the run, with the phases as shaded bands and `markers`
    (seconds into the run, label) as vertical lines. Series named in `dashed` are drawn
    dashed: limits and budgets, as against measured values."""
    points = [value for values in series.values() for _, value in values]
    plot = _Plot(
        left=PAD_LEFT,
        top=PAD_TOP,
        width=WIDTH - PAD_LEFT - PAD_RIGHT,
        height=HEIGHT - PAD_TOP - PAD_BOTTOM,
        x_max=max(duration_s, 1e-3),
        y_max=y_max if y_max is not None else nice_max(max(points, default=0.0)),
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{_e(title)}">',
        f'<text x="{PAD_LEFT}" y="14" class="title">{_e(title)}</text>',
        *_bands(plot, phases),
        *_markers(plot, markers),
        *_axes(plot, unit),
        *_lines_and_legend(plot, series, dashed),
    ]
    if not points:
        parts.append(
            f'<text x="{plot.left + plot.width / 2}" y="{plot.top + plot.height / 2}" '
            f'class="axis" text-anchor="middle">no data in this run</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _bands(plot: _Plot, phases: Sequence[Span]) -> list[str]:
    bands = []
    for index, phase in enumerate(phases):
        x0, x1 = plot.x(phase.start_s), plot.x(phase.end_s)
        bands.append(
            f'<rect x="{x0:.1f}" y="{plot.top}" width="{max(x1 - x0, 0):.1f}" '
            f'height="{plot.height}" fill="{PHASE_FILLS[index % 2]}">'
            f"<title>{_e(phase.name)}</title></rect>"
            f'<text x="{x0 + 3:.1f}" y="{plot.top + 11}" class="phase">{_e(phase.name)}</text>'
        )
    return bands


def _markers(plot: _Plot, markers: Sequence[tuple[float, str]]) -> list[str]:
    bottom = plot.top + plot.height
    return [
        f'<line x1="{plot.x(t):.1f}" x2="{plot.x(t):.1f}" y1="{plot.top}" y2="{bottom}" '
        f'class="marker"><title>{_e(label)}</title></line>'
        f'<text x="{plot.x(t) + 3:.1f}" y="{bottom - 4}" class="marker">{_e(label)}</text>'
        for t, label in markers
    ]


def _axes(plot: _Plot, unit: str) -> list[str]:
    """Grid lines with the value axis' labels, then the time axis' labels."""
    parts = []
    for fraction in _GRID:
        value = plot.y_max * fraction
        label = f"{value:,.0f}{unit}" if plot.y_max >= 10 else f"{value:.2g}{unit}"
        gy = plot.y(value)
        parts.append(
            f'<line x1="{plot.left}" x2="{plot.left + plot.width}" y1="{gy:.1f}" '
            f'y2="{gy:.1f}" class="grid"/><text x="{plot.left - 4}" y="{gy + 4:.1f}" '
            f'class="axis" text-anchor="end">{_e(label)}</text>'
        )
    for fraction in _GRID:
        t = plot.x_max * fraction
        parts.append(
            f'<text x="{plot.x(t):.1f}" y="{HEIGHT - 8}" class="axis" '
            f'text-anchor="middle">{t:.0f}s</text>'
        )
    return parts


def _lines_and_legend(plot: _Plot, series: Series, dashed: Collection[str]) -> list[str]:
    parts = []
    for index, (label, values) in enumerate(sorted(series.items())):
        color = PALETTE[index % len(PALETTE)]
        if values:
            dash = {"stroke_dasharray": "6 4"} if label in dashed else {}
            parts.append(_polyline(plot, values, stroke=color, stroke_width="1.6", **dash))
        ly = plot.top + 12 + 15 * index
        parts.append(
            f'<rect x="{WIDTH - PAD_RIGHT + 10}" y="{ly - 8}" width="10" height="3" '
            f'fill="{color}"/>'
            f'<text x="{WIDTH - PAD_RIGHT + 25}" y="{ly - 3}" class="legend">{_e(label)}</text>'
        )
    return parts


# ---- the dashboard's small charts -----------------------------------------------------


def sparkline(
    values: Sequence[float | None],
    *,
    width: int = 220,
    height: int = 44,
    threshold: float | None = None,
    color: str = OK,
) -> str:
    """Draw values over time, evenly spaced; a dashed line at `threshold` (an SLO) and
    the points above it in red. A None is a gap: nothing was measured then."""
    known = [value for value in values if value is not None]
    if len(values) < 2 or not known:
        return (
            f'<svg class="spark" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="no data yet">'
            f'<text x="4" y="{height // 2 + 5}" fill="{MUTED}">collecting…</text></svg>'
        )
    # 2 px of margin above and below, 10% of headroom over the highest point.
    plot = _Plot(
        left=0,
        top=2,
        width=width,
        height=height - 4,
        x_max=len(values) - 1,
        y_max=max([*known, threshold or 0.0]) * 1.1 or 1.0,
    )
    points = [(index, value) for index, value in enumerate(values) if value is not None]
    guide = dots = ""
    if threshold is not None:
        level = plot.y(threshold)
        guide = (
            f'<line x1="0" x2="{width}" y1="{level:.1f}" y2="{level:.1f}" stroke="{WARN}" '
            f'stroke-dasharray="4 3"/>'
        )
        dots = "".join(
            f'<circle cx="{plot.x(x):.1f}" cy="{plot.y(y):.1f}" r="2.5" fill="{BAD}"/>'
            for x, y in points
            if y > threshold
        )
    line = _polyline(plot, points, stroke=_e(color), stroke_width="2")
    return (
        f'<svg class="spark" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-hidden="true">{guide}{line}{dots}</svg>'
    )


def bar(fraction: float | None, *, width: int = 220, height: int = 18, color: str = OK) -> str:
    """Draw a horizontal bar filled to `fraction` (0..1) of its width."""
    filled = 0 if fraction is None else round(max(0.0, min(fraction, 1.0)) * width, 1)
    return (
        f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'preserveAspectRatio="none" aria-hidden="true">'
        f'<rect width="{width}" height="{height}" fill="#2a3040" rx="3"/>'
        f'<rect width="{filled}" height="{height}" fill="{_e(color)}" rx="3"/></svg>'
    )


def status_color(value: float | None, *, warn: float, bad: float) -> str:
    """Green below `warn`, amber below `bad`, red from `bad` (None is grey)."""
    if value is None:
        return MUTED
    if value >= bad:
        return BAD
    return WARN if value >= warn else OK
