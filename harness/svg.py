"""Inline SVG charts for the HTML report, without plotting libraries.

Every function returns a ``markupsafe.Markup`` holding one ``<svg>`` element, so jinja2's
autoescape leaves it alone; every piece of text inside (labels, series names, tooltips)
is escaped here. Bars are ``<rect class="bar">``, lines ``<polyline class="line">``,
points ``<circle class="point">``: tests and CSS rely on those class names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
NAMED = {"baseline": "#4e79a7", "patched": "#f28e2b", "build": "#76b7b2", "boot": "#edc948",
         "test": "#59a14f"}
FONT = 'font-family="sans-serif" font-size="11"'
Number = int | float
LEGEND_W = 110


def colour(name: str, index: int) -> str:
    return NAMED.get(name, PALETTE[index % len(PALETTE)])


def nice_max(value: float) -> float:
    """Smallest 1/2/5 x 10^k that is >= value (at least 1)."""
    if value <= 1:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * exp >= value:
            return float(step * exp)
    return float(10 * exp)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2g}"


def _open(width: int, height: int, title: str, cls: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(cls)}" '
            f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{width / 2:.0f}" y="14" text-anchor="middle" {FONT} '
            f'font-weight="bold">{escape(title)}</text>')


def _y_axis(x0: int, y0: int, y1: int, width: int, top: float, label: str) -> list[str]:
    out = []
    for i in range(5):
        v = top * i / 4
        y = y0 - (y0 - y1) * i / 4
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end" '
                   f'{FONT}>{_fmt(v)}</text>')
    if label:
        out.append(f'<text x="12" y="{(y0 + y1) / 2:.0f}" {FONT} text-anchor="middle" '
                   f'transform="rotate(-90 12 {(y0 + y1) / 2:.0f})">{escape(label)}</text>')
    return out


def _legend(names: Sequence[str], x: int, y: int, colours: Mapping[str, str] | None = None,
            per_row: int = 1 << 10) -> list[str]:
    out = []
    for i, name in enumerate(names):
        xi, yi = x + (i % per_row) * LEGEND_W, y + 14 * (i // per_row)
        col = (colours or {}).get(name) or colour(name, i)
        out.append(f'<rect x="{xi}" y="{yi - 9}" width="10" height="10" '
                   f'fill="{col}"/><text x="{xi + 14}" y="{yi}" {FONT}>'
                   f'{escape(name)}</text>')
    return out


def grouped_bars(categories: Sequence[str], series: Mapping[str, Sequence[Number]], *,
                 title: str, ylabel: str = "", cls: str = "bars", height: int = 220) -> Markup:
    """One group of bars per category, one bar per series (e.g. baseline/patched)."""
    names = list(series)
    slot = max(44, 18 * len(names) + 16)
    width = 70 + slot * max(1, len(categories)) + 20
    x0, y0, y1 = 56, height - 40, 30
    top = nice_max(max((float(v) for vs in series.values() for v in vs), default=0.0))
    parts = [_open(max(width, 240), height, title, cls), *_y_axis(x0, y0, y1, max(width, 240),
                                                                   top, ylabel)]
    bar_w = (slot - 16) / max(1, len(names))
    for ci, cat in enumerate(categories):
        gx = x0 + 8 + ci * slot
        for si, name in enumerate(names):
            v = float(series[name][ci])
            h = (y0 - y1) * v / top
            parts.append(f'<rect class="bar" data-series="{escape(name)}" '
                         f'data-category="{escape(cat)}" x="{gx + si * bar_w:.1f}" '
                         f'y="{y0 - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                         f'fill="{colour(name, si)}"><title>{escape(name)} {escape(cat)}: '
                         f'{_fmt(v)}</title></rect>')
        parts.append(f'<text x="{gx + (slot - 16) / 2:.1f}" y="{y0 + 14}" text-anchor="middle" '
                     f'{FONT}>{escape(cat)}</text>')
    parts += _legend(names, x0, height - 8)
    return Markup("".join(parts) + "</svg>")


def line_chart(xs: Sequence[Number], series: Mapping[str, Sequence[Number | None]], *,
               title: str, xlabel: str = "", ylabel: str = "", cls: str = "lines",
               width: int = 520, height: int = 240,
               dashed: Sequence[str] = (), colours: Mapping[str, str] | None = None) -> Markup:
    """Lines over a shared x axis; None values leave a gap. `dashed`: series drawn dashed;
    `colours`: series name -> colour (default: the palette in order)."""
    x0, y0, y1 = 56, height - 56, 30
    legend_y, per_row = height - 8, max(1, (width - x0) // LEGEND_W)
    height += 14 * (math.ceil(len(series) / per_row) - 1)
    vals = [float(v) for vs in series.values() for v in vs if v is not None]
    top = nice_max(max(vals, default=0.0))
    lo, hi = (min(xs), max(xs)) if xs else (0, 1)
    span = (hi - lo) or 1

    def px(x: Number) -> float:
        return x0 + (width - x0 - 20) * (float(x) - lo) / span

    def py(v: float) -> float:
        return y0 - (y0 - y1) * v / top

    parts = [_open(width, height, title, cls), *_y_axis(x0, y0, y1, width, top, ylabel)]
    for x in _x_ticks(xs):
        parts.append(f'<text x="{px(x):.1f}" y="{y0 + 14}" text-anchor="middle" {FONT}>'
                     f'{_fmt(float(x))}</text>')
    if xlabel:
        parts.append(f'<text x="{(x0 + width) / 2:.0f}" y="{y0 + 28}" text-anchor="middle" '
                     f'{FONT}>{escape(xlabel)}</text>')
    for si, (name, values) in enumerate(series.items()):
        col = (colours or {}).get(name) or colour(name, si)
        parts += _polyline(name, col, list(zip(xs, values, strict=False)), px, py,
                           name in dashed)
    parts += _legend(list(series), x0, legend_y, colours, per_row)
    return Markup("".join(parts) + "</svg>")


def _x_ticks(xs: Sequence[Number]) -> list[Number]:
    if len(xs) <= 12:
        return list(xs)
    step = math.ceil(len(xs) / 10)
    return list(xs[::step])


def _polyline(name: str, col: str, points: list[tuple[Number, Number | None]],
              fx: Callable[[Number], float], fy: Callable[[float], float],
              dashed: bool) -> list[str]:
    dash = ' stroke-dasharray="5 3"' if dashed else ""
    out: list[str] = []
    run: list[str] = []
    for x, v in [*points, (0, None)]:
        if v is None:
            if run:
                out.append(f'<polyline class="line" data-series="{escape(name)}" fill="none" '
                           f'stroke="{col}" stroke-width="2"{dash} points="{" ".join(run)}"/>')
            run = []
            continue
        run.append(f"{fx(x):.1f},{fy(float(v)):.1f}")
        out.append(f'<circle class="point" cx="{fx(x):.1f}" cy="{fy(float(v)):.1f}" r="2.5" '
                   f'fill="{col}"><title>{escape(name)} @ {_fmt(float(x))}: '
                   f'{_fmt(float(v))}</title></circle>')
    return out


def sparkline(values: Sequence[Number | None], *, title: str, width: int = 140,
              height: int = 28) -> Markup:
    """A tiny line (e.g. one counter over the last N runs); the last point is marked."""
    vals = [float(v) for v in values if v is not None]
    top = max(vals, default=0.0) or 1.0
    low = min(vals, default=0.0)
    span = (top - low) or 1.0
    n = max(1, len(values) - 1)
    pts = [(2 + (width - 6) * i / n, height - 3 - (height - 6) * (float(v) - low) / span)
           for i, v in enumerate(values) if v is not None]
    parts = [(f'<svg xmlns="http://www.w3.org/2000/svg" class="spark" width="{width}" '
              f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
              f'aria-label="{escape(title)}"><title>{escape(title)}</title>')]
    if pts:
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        parts.append(f'<polyline class="line" fill="none" stroke="#4e79a7" stroke-width="1.5" '
                     f'points="{line}"/><circle class="point" cx="{pts[-1][0]:.1f}" '
                     f'cy="{pts[-1][1]:.1f}" r="2.5" fill="#e15759"/>')
    return Markup("".join(parts) + "</svg>")


def stacked_hbars(rows: Sequence[tuple[str, Mapping[str, Number]]], *, title: str,
                  unit: str = "s", cls: str = "durations") -> Markup:
    """One horizontal bar per row, stacked by part (e.g. build / boot / test seconds)."""
    parts_names = list(dict.fromkeys(k for _, d in rows for k in d))
    label_w, bar_w, row_h = 170, 420, 22
    height = 40 + row_h * len(rows) + 24
    width = label_w + bar_w + 90
    top = nice_max(max((sum(float(v) for v in d.values()) for _, d in rows), default=0.0))
    out = [_open(width, height, title, cls)]
    for ri, (label, d) in enumerate(rows):
        y, x = 28 + ri * row_h, float(label_w)
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" {FONT}>'
                   f'{escape(label)}</text>')
        for pi, name in enumerate(parts_names):
            w = bar_w * float(d.get(name, 0)) / top
            out.append(f'<rect class="bar" data-series="{escape(name)}" x="{x:.1f}" y="{y + 3}" '
                       f'width="{w:.1f}" height="{row_h - 6}" fill="{colour(name, pi)}">'
                       f'<title>{escape(label)} {escape(name)}: {_fmt(float(d.get(name, 0)))}'
                       f'{escape(unit)}</title></rect>')
            x += w
        total = sum(float(v) for v in d.values())
        out.append(f'<text x="{x + 4:.1f}" y="{y + 14}" {FONT}>{_fmt(total)}{escape(unit)}</text>')
    out += _legend(parts_names, label_w, height - 8)
    return Markup("".join(out) + "</svg>")
