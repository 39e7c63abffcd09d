"""Inline SVG charts for the HTML report, without plotting libraries.

Every function returns a ``markupsafe.Markup`` holding one ``<svg>`` element, so jinja2's
autoescape leaves it alone; every piece of text inside (labels, series names, tooltips)
is escaped here. Bars are ``<rect class="bar">``, lines ``<polyline class="line">``,
points ``<circle class="point">``, census cells ``<rect class="folio">``: tests and CSS rely
on those class names.

One colour scheme for the whole report: variants by name (baseline blue, patched orange,
other versions from the palette), folio sizes by order from small (light) to PMD-sized
(dark), the same in per-scan lines and census pictures. Titles are wrapped to
the chart's width (at most three lines, the middle elided) and the full text is the
chart's <title>, shown on hover. Integer data (counters) get integer ticks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")
NAMED = {"baseline": "#4e79a7", "patched": "#f28e2b", "build": "#76b7b2", "boot": "#edc948",
         "test": "#59a14f"}
# folio order 0 (base pages) .. 9 (2M with 4K pages): grey, then light to dark hues that
# neighbours can tell apart (16K/64K/256K, 64K/128K) and that avoid the variants' blue/orange
ORDER_COLOURS = ("#bdbdbd", "#d4c34a", "#a6d854", "#59a14f", "#17becf", "#b07aa1", "#e15759",
                 "#9c755f", "#7b4173", "#2f2f5f")
EMPTY = "#f4f4f4"
FONT = 'font-family="sans-serif" font-size="11"'
CHAR_W = 6.4                      # average width of an 11px bold sans character
LINE_H = 14
Number = int | float
LEGEND_W = 110


def colour(name: str, index: int) -> str:
    return NAMED.get(name, PALETTE[index % len(PALETTE)])


def order_colour(order: int) -> str:
    return ORDER_COLOURS[max(0, order) % len(ORDER_COLOURS)]


def size_order(kb: int, page_kb: int = 4) -> int:
    """Folio order of a size in kB (64 -> 4 with 4K pages)."""
    return max(0, round(math.log2(max(kb, 1) / page_kb)))


def nice_max(value: float) -> float:
    """Smallest 1/2/5 x 10^k that is >= value (at least 1)."""
    if value <= 1:
        return 1.0
    exp = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * exp >= value:
            return float(step * exp)
    return float(10 * exp)


def ticks(value: float, integer: bool = False, most: int = 5) -> tuple[float, float]:
    """(top, step) of a y axis from 0 covering `value` with at most `most` intervals of a
    1/2/5 x 10^k step; integer data never gets a fractional step."""
    if value <= 0:
        return (1.0, 1.0) if integer else (1.0, 0.25)
    raw = value / most
    exp = 10 ** math.floor(math.log10(raw))
    step = next(m * exp for m in (1, 2, 5, 10) if m * exp >= raw)
    if integer:
        step = max(1.0, float(round(step)))
    return round(step * math.ceil(value / step - 1e-9), 9), float(step)


def is_integral(values: Sequence[Number | None]) -> bool:
    return all(float(v).is_integer() for v in values if v is not None)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2g}"


def short_test(nodeid: str) -> str:
    """A test id for a chart title: "guest_tests/test_x.py::test_y[p]" -> "test_x::test_y[p]"."""
    path, sep, rest = nodeid.partition("::")
    return path.rsplit("/", 1)[-1].removesuffix(".py") + sep + rest


def wrap(text: str, width: float, lines: int = 3) -> list[str]:
    """`text` in lines of at most `width` px, broken after ' ', ':', '/', '_', '-', '[' or
    ','; beyond `lines` lines the middle is elided ("…")."""
    limit = max(8, int(width / CHAR_W))
    out: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = max((i + 1 for i, ch in enumerate(rest[:limit]) if ch in " :/_-[,"), default=limit)
        cut = cut if cut > limit // 3 else limit
        out.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    out.append(rest)
    if len(out) > lines:
        tail = out[-1]
        out = [*out[:lines - 1], "…" + tail[-(limit - 1):]]
    return out


def open_svg(width: int, height: int, title: str, cls: str, display: str | None = None
          ) -> tuple[str, int]:
    """The <svg> start with the wrapped title; also the title block's height."""
    lines = wrap(display or title, width - 16)
    texts = "".join(f'<tspan x="{width / 2:.0f}" dy="{0 if i == 0 else LINE_H}">'
                    f'{escape(line)}</tspan>' for i, line in enumerate(lines))
    extra = LINE_H * (len(lines) - 1)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {escape(cls)}" '
            f'width="{width}" height="{height + extra}" viewBox="0 0 {width} {height + extra}" '
            f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text class="chart-title" x="{width / 2:.0f}" y="14" text-anchor="middle" {FONT} '
            f'font-weight="bold">{texts}</text><g transform="translate(0 {extra})">'), extra


def close_svg(parts: list[str]) -> Markup:
    return Markup("".join(parts) + "</g></svg>")  # noqa: S704 (texts escaped where added)


def _y_axis(x0: int, y0: int, y1: int, x_end: float, top: float, step: float,
            label: str) -> list[str]:
    out = []
    n = max(1, round(top / step))
    for i in range(n + 1):
        v = step * i
        y = y0 - (y0 - y1) * v / top
        out.append(f'<line x1="{x0}" y1="{y:.1f}" x2="{x_end:.0f}" y2="{y:.1f}" '
                   f'stroke="#ddd"/><text class="tick" x="{x0 - 4}" y="{y + 4:.1f}" '
                   f'text-anchor="end" {FONT}>{_fmt(v)}</text>')
    if label:
        out.append(f'<text x="12" y="{(y0 + y1) / 2:.0f}" {FONT} text-anchor="middle" '
                   f'transform="rotate(-90 12 {(y0 + y1) / 2:.0f})">{escape(label)}</text>')
    return out


def _legend(names: Sequence[str], x: int, y: int, colours: Mapping[str, str] | None = None,
            per_row: int = 1 << 10, dashed: Sequence[str] = ()) -> list[str]:
    out = []
    for i, name in enumerate(names):
        xi, yi = x + (i % per_row) * LEGEND_W, y + LINE_H * (i // per_row)
        col = (colours or {}).get(name) or colour(name, i)
        mark = (f'<line x1="{xi}" y1="{yi - 4}" x2="{xi + 10}" y2="{yi - 4}" stroke="{col}" '
                f'stroke-width="2" stroke-dasharray="3 2"/>' if name in dashed else
                f'<rect x="{xi}" y="{yi - 9}" width="10" height="10" fill="{col}"/>')
        out.append(f'<g class="legend">{mark}<text x="{xi + 14}" y="{yi}" {FONT}>'
                   f'{escape(name)}</text></g>')
    return out


def _legend_rows(n: int, per_row: int) -> int:
    return max(1, math.ceil(n / max(1, per_row)))


# ------------------------------------------------------------------------ bars
def grouped_bars(categories: Sequence[str], series: Mapping[str, Sequence[Number]], *,
                 title: str, ylabel: str = "", cls: str = "bars", height: int = 220,
                 colours: Mapping[str, str] | None = None) -> Markup:
    """One group of bars per category, one bar per series (e.g. baseline/patched)."""
    names = list(series)
    slot = max(44, 18 * len(names) + 16)
    width = max(240, 70 + slot * max(1, len(categories)) + 20)
    x0, y0, y1 = 56, height - 40, 30
    values = [v for vs in series.values() for v in vs]
    top, step = ticks(max((float(v) for v in values), default=0.0), is_integral(values))
    head, _ = open_svg(width, height, title, cls)
    parts = [head, *_y_axis(x0, y0, y1, width - 10, top, step, ylabel)]
    bar_w = (slot - 16) / max(1, len(names))
    for ci, cat in enumerate(categories):
        gx = x0 + 8 + ci * slot
        for si, name in enumerate(names):
            v = float(series[name][ci])
            h = (y0 - y1) * v / top
            col = (colours or {}).get(name) or colour(name, si)
            parts.append(f'<rect class="bar" data-series="{escape(name)}" '
                         f'data-category="{escape(cat)}" x="{gx + si * bar_w:.1f}" '
                         f'y="{y0 - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" '
                         f'fill="{col}"><title>{escape(name)} {escape(cat)}: '
                         f'{_fmt(v)}</title></rect>')
        parts.append(f'<text x="{gx + (slot - 16) / 2:.1f}" y="{y0 + 14}" text-anchor="middle" '
                     f'{FONT}>{escape(cat)}</text>')
    parts += _legend(names, x0, height - 8, colours)
    return close_svg(parts)


# ----------------------------------------------------------------------- lines
def line_chart(xs: Sequence[Number], series: Mapping[str, Sequence[Number | None]], *,
               title: str, xlabel: str = "", ylabel: str = "", cls: str = "lines",
               width: int = 520, height: int = 240,
               dashed: Sequence[str] = (), colours: Mapping[str, str] | None = None) -> Markup:
    """Lines over a shared x axis; None values leave a gap. `dashed`: series drawn dashed;
    `colours`: series name -> colour (default: the palette in order)."""
    return line_panels([("", xs, series)], title=title, xlabel=xlabel, ylabel=ylabel, cls=cls,
                       panel_w=width - 76, height=height, dashed=dashed, colours=colours)


Panel = tuple[str, Sequence[Number], Mapping[str, Sequence[Number | None]]]


def line_panels(panels: Sequence[Panel],
                *, title: str, display: str | None = None, xlabel: str = "", ylabel: str = "",
                cls: str = "lines", panel_w: int = 300, height: int = 240,
                dashed: Sequence[str] = (), colours: Mapping[str, str] | None = None) -> Markup:
    """Side-by-side line panels (e.g. baseline | patched) on one y scale, one legend.
    Each panel: (caption, xs, {series: values}); a series that is zero (or None) at every
    point in every panel is left out, and so is its legend entry."""
    live = [n for n in dict.fromkeys(n for _, _, s in panels for n in s)
            if any(v for _, _, s in panels for v in s.get(n, ()) if v is not None)]
    values = [v for _, _, s in panels for n in live for v in s.get(n, ()) if v is not None]
    top, step = ticks(max((float(v) for v in values), default=0.0), is_integral(values))
    x0, gap = 56, 16
    width = x0 + len(panels) * (panel_w + gap) + 4
    per_row = max(1, (width - x0) // LEGEND_W)
    rows = _legend_rows(len(live), per_row)
    height += LINE_H * (rows - 1)
    y0, y1 = height - 44 - LINE_H * rows, 44 if any(c for c, _, _ in panels) else 30
    head, _ = open_svg(width, height, title, cls, display)
    parts = [head, *_y_axis(x0, y0, y1, x0 + len(panels) * (panel_w + gap) - gap, top, step,
                            ylabel)]
    for i, (caption, xs, series) in enumerate(panels):
        left = x0 + i * (panel_w + gap)
        parts += _panel(caption, xs, {n: series[n] for n in live if n in series},
                        (left, left + panel_w, y0, y1, top), dashed, colours, live)
    if xlabel:
        parts.append(f'<text x="{(x0 + width) / 2:.0f}" y="{y0 + 28}" text-anchor="middle" '
                     f'{FONT}>{escape(xlabel)}</text>')
    parts += _legend(live, x0, y0 + 46, colours, per_row, dashed)
    return close_svg(parts)


def _panel(caption: str, xs: Sequence[Number], series: Mapping[str, Sequence[Number | None]],
           box: tuple[float, float, float, float, float], dashed: Sequence[str],
           colours: Mapping[str, str] | None, order: Sequence[str]) -> list[str]:
    left, right, y0, y1, top = box
    lo, hi = (min(xs), max(xs)) if xs else (0, 1)
    span = (hi - lo) or 1
    pad = 6.0

    def px(x: Number) -> float:
        if hi == lo:                          # one scan: in the middle of the panel
            return (left + right) / 2
        return left + pad + (right - left - 2 * pad) * (float(x) - lo) / span

    def py(v: float) -> float:
        return y0 - (y0 - y1) * v / top

    out = [f'<line x1="{left}" y1="{y0}" x2="{right}" y2="{y0}" stroke="#999"/>']
    if caption:
        out.append(f'<text class="panel" x="{(left + right) / 2:.0f}" y="{y1 - 8}" '
                   f'text-anchor="middle" {FONT} font-weight="bold" '
                   f'fill="{colour(caption, 0)}">{escape(caption)}</text>')
    for x in _x_ticks(xs):
        out.append(f'<text class="xtick" x="{px(x):.1f}" y="{y0 + 14}" text-anchor="middle" '
                   f'{FONT}>{_fmt(float(x))}</text>')
    for name, values in series.items():
        col = (colours or {}).get(name) or colour(name, list(order).index(name))
        out += _polyline(f"{caption} {name}".strip(), col,
                         list(zip(xs, values, strict=False)), px, py, name in dashed)
    return out


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
    return Markup("".join(parts) + "</svg>")  # noqa: S704 (numbers and escaped texts only)


def stacked_hbars(rows: Sequence[tuple[str, Mapping[str, Number]]], *, title: str,
                  unit: str = "s", cls: str = "durations") -> Markup:
    """One horizontal bar per row, stacked by part (e.g. build / boot / test seconds)."""
    parts_names = list(dict.fromkeys(k for _, d in rows for k in d))
    label_w, bar_w, row_h = 170, 420, 22
    height = 40 + row_h * len(rows) + 24
    width = label_w + bar_w + 90
    top = nice_max(max((sum(float(v) for v in d.values()) for _, d in rows), default=0.0))
    head, _ = open_svg(width, height, title, cls)
    out = [head]
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
    return close_svg(out)
