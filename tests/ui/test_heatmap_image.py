"""The heatmap of a large page: colours as one z-matrix image, clicks and hover on a text-mode
scatter without texts, margins fixed from the labels (checked against hand-built expectations)."""

from __future__ import annotations

import math

import pandas as pd

from prm_viewer.ui import heatmap


def _page() -> tuple[pd.DataFrame, pd.DataFrame]:
    page = pd.DataFrame({
        "trace_id": ["d-0", "d-1"], "dataset": ["run-with", "run-<b>without</b>"], "ordinal": [0, 1], "n_steps": [3, 2],
        "gold_first_error": [1, -1], "pred_first_error": [2, 0],
    })
    scores = pd.DataFrame({"trace_id": ["d-0", "d-0", "d-1"], "step_idx": [0, 2, 0], "score": [0.9, 0.1, 0.3]})
    return page, scores


def test_large_page_is_one_image_with_the_same_cells_and_clicks() -> None:
    page, scores = _page()
    fig = heatmap.heatmap_figure(page, scores, threshold=0.4, scorer_name="prm", svg_cells=0)
    by_name = {t.name: t for t in fig.data}
    colours = by_name["step score colours"]
    assert colours.type == "heatmap" and (colours.zmin, colours.zmax, colours.zmid) == (0.0, 1.0, 0.4)
    z = [[None if math.isnan(v) else v for v in row] for row in colours.z]
    assert z == [[0.9, None, 0.1], [0.3, None, None]]  # row = trace, column = step; no score = no colour
    grey = by_name["not scored cells"]  # d-0 step 1 and d-1 step 1 exist but have no score
    assert [[None if math.isnan(v) else v for v in row] for row in grey.z] == [[None, 1.0, None], [None, 1.0, None]]
    assert colours.hoverinfo == "skip" and grey.hoverinfo == "skip"  # hover and clicks go to the scatter
    clicks = by_name["step score"]
    assert clicks.mode == "text" and clicks.text is None  # nothing drawn per point
    cells = sorted(zip(clicks.x, clicks.y, (tuple(c[:2]) for c in clicks.customdata)))
    assert cells == [(0, 0, ("d-0", 0)), (0, 1, ("d-1", 0)), (1, 0, ("d-0", 1)), (1, 1, ("d-1", 1)), (2, 0, ("d-0", 2))]
    values = {tuple(c[:2]): c[3] for c in clicks.customdata}
    assert values[("d-0", 2)] == 0.1 and values[("d-1", 1)] == "not scored"
    assert by_name["not scored"].showlegend is not False  # legend entry for the grey cells
    # first errors stay markers, as on a small page
    assert list(zip(by_name["gold first error"].x, by_name["gold first error"].y)) == [(1, 0)]
    assert list(zip(by_name["predicted first error"].x, by_name["predicted first error"].y)) == [(2, 0), (0, 1)]
    i = list(clicks.customdata[:, 0]).index("d-1")
    event = {"selection": {"points": [{"curve_number": 2, "point_index": i, "customdata": list(clicks.customdata[i])}]}}
    assert heatmap.cell_from_selection(event) == ("d-1", 0)
    # labels are data: escaped, and no HTML anywhere in the figure
    assert "<b>" not in fig.to_json() and list(fig.layout.yaxis.ticktext)[1] == "&lt;b&gt;without&lt;/b&gt; #1"


def test_layout_is_fixed_and_sized_from_the_labels() -> None:
    page, scores = _page()
    for svg_cells in (0, 10_000):
        fig = heatmap.heatmap_figure(page, scores, threshold=0.4, scorer_name="prm", svg_cells=svg_cells)
        lay = fig.layout
        assert lay.xaxis.fixedrange and lay.yaxis.fixedrange
        assert lay.xaxis.automargin is False and lay.yaxis.automargin is False
        assert lay.yaxis.ticklabeloverflow == "allow"
        longest = len("<b>without</b> #1")  # the row label as shown (unescaped)
        assert lay.margin.l == 16 + 6 * longest
    small = heatmap.heatmap_figure(page, scores, threshold=0.4)
    assert all(t.type == "scatter" for t in small.data)  # 5 cells: SVG markers (default SVG_CELLS)
    assert heatmap.SVG_CELLS < 200 * 10  # the Explorer's default page (200 rows of 10 steps) is an image
