"""The folio census as a picture: which folio orders back a test's region, before and after
collapse, baseline and patched side by side (one SVG, no script).

    folio_map(rows, title=..., ptes=512, page_kb=4) -> Markup

"before" is the first census a test took (right after its workload set the region up: with
khugepaged running, some collapse may already have happened), "after" the last one.
A row is (label, [per-PMD {order: pages}]): each PMD is a block as wide as its PTEs, filled
left to right by order, largest first, in harness.report.svg's order colours (order 0, base pages,
grey; PMD-sized dark); what is left of the block is unmapped (empty PTEs, swap, zero page).
A row without per-PMD detail is one block of the region's totals. Every segment's hover text
says how many pages at which size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup, escape

from harness.report.svg import EMPTY, FONT, LINE_H, close_svg, open_svg, order_colour
from harness.results.records import CensusDetail, TestRecord

Orders = Mapping[int, int]
LABEL_W, ROW_H, BLOCK_MAX, PLOT_W = 150, 22, 200, 560


def size_label(order: int, page_kb: int = 4) -> str:
    kb = page_kb << order
    return f"{kb >> 10}M" if kb >= 1024 and kb % 1024 == 0 else f"{kb}K"


def folio_map(rows: Sequence[tuple[str, Sequence[Orders]]], *, title: str,
              display: str | None = None, ptes: int = 512, page_kb: int = 4,
              cls: str = "census") -> Markup:
    nblocks = max((len(pmds) for _, pmds in rows), default=1) or 1
    capacity = max([ptes, *(sum(p.values()) for _, pmds in rows if len(pmds) == 1
                            for p in pmds)])
    block_w = min(BLOCK_MAX, (PLOT_W - 6 * (nblocks - 1)) / nblocks)
    orders = sorted({o for _, pmds in rows for p in pmds for o, n in p.items() if n})
    width = int(LABEL_W + nblocks * (block_w + 6) + 20)
    legend_rows = 1 + (len(orders) + 1) * 110 // max(1, width - LABEL_W)
    height = 40 + ROW_H * len(rows) + 22 + LINE_H * legend_rows
    head, _ = open_svg(width, height, title, cls, display)
    parts = [head]
    for ri, (label, pmds) in enumerate(rows):
        y = 30 + ri * ROW_H
        parts.append(f'<text x="{LABEL_W - 6}" y="{y + 14}" text-anchor="end" {FONT}>'
                     f'{escape(label)}</text>')
        cap = ptes if len(pmds) > 1 else max(capacity, 1)
        for bi, pmd in enumerate(pmds):
            x = LABEL_W + bi * (block_w + 6)
            parts += _block(label, bi if len(pmds) > 1 else None, pmd, (x, y, block_w, cap),
                            page_kb)
    parts += _legend(orders, height - 8 - LINE_H * (legend_rows - 1), width, page_kb)
    return close_svg(parts)


def _block(label: str, index: int | None, pmd: Orders, box: tuple[float, float, float, int],
           page_kb: int) -> list[str]:
    x, y, w, cap = box
    where = f"{label}, PMD {index}" if index is not None else label
    out = [(f'<rect class="pmd" x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{ROW_H - 6}" '
            f'fill="{EMPTY}" stroke="#999" stroke-width="0.5"><title>{escape(where)}: '
            f'{cap - sum(pmd.values())} of {cap} pages not mapped</title></rect>')]
    for order in sorted((o for o, n in pmd.items() if n), reverse=True):
        seg = w * pmd[order] / cap
        out.append(f'<rect class="folio" data-order="{order}" x="{x:.1f}" y="{y + 2}" '
                   f'width="{seg:.1f}" height="{ROW_H - 6}" fill="{order_colour(order)}">'
                   f'<title>{escape(where)}: {pmd[order]} pages in '
                   f'{size_label(order, page_kb)} folios (order {order})</title></rect>')
        x += seg
    return out


def _legend(orders: Sequence[int], y: int, width: int, page_kb: int) -> list[str]:
    out = []
    x = LABEL_W
    for order in [*orders, -1]:
        name = "not mapped" if order < 0 else f"{size_label(order, page_kb)} (order {order})"
        w = 24 + int(len(name) * 6.2)
        if x + w > width and x > LABEL_W:
            x, y = LABEL_W, y + LINE_H
        fill = EMPTY if order < 0 else order_colour(order)
        out.append(f'<g class="legend"><rect x="{x}" y="{y - 9}" width="10" height="10" '
                   f'fill="{fill}" stroke="#999" stroke-width="0.5"/><text x="{x + 14}" '
                   f'y="{y}" {FONT}>{escape(name)}</text></g>')
        x += w
    return out


def census_rows(recs: Mapping[str, TestRecord]
                ) -> tuple[list[tuple[str, list[dict[int, int]]]], int, int]:
    """Rows of folio_map from the test records of each variant (census, census_before,
    census_pmds); also (ptes per PMD, page kB)."""
    rows: list[tuple[str, list[dict[int, int]]]] = []
    ptes, page_kb = 512, 4
    for variant, r in recs.items():
        detail = r.census_pmds or CensusDetail(None, None)
        ptes, page_kb = detail.ptes or ptes, detail.page_kb or page_kb
        for phase, total, per_pmd in (("before", r.census_before, detail.before),
                                      ("after", r.census, detail.after)):
            pmds = [_orders(p) for p in per_pmd]
            if not pmds and total is not None:
                pmds = [_orders(total)]
            if pmds:
                rows.append((f"{variant} {phase}", pmds))
    return rows, ptes, page_kb


def _orders(raw: Mapping[str, int]) -> dict[int, int]:
    """{order: pages} of a JSON census (its orders are the keys); keys that are not
    orders are left out."""
    return {int(k): v for k, v in raw.items() if k.isdigit()}


__all__ = ["Markup", "census_rows", "folio_map", "size_label"]
