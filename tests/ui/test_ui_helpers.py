"""Pure helpers behind the pages: safe Markdown, the filter <-> URL round trip, the heatmap grid."""

from __future__ import annotations

import pandas as pd
import pytest

from prm_viewer.queries import TraceFilter
from prm_viewer.ui import filters, heatmap
from prm_viewer.ui.text import safe_markdown
from prm_viewer.ui.trace_view import progress_frame, score_colour
from prm_viewer.ui.upload import parse_tags


@pytest.mark.parametrize(("raw", "shown"), [
    ("<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"),
    ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ("a & b", "a &amp; b"),
    ("so $x<y$ holds", "so $x\\lt y$ holds"),  # math is left to KaTeX (< as \lt: never a tag)
    ("\\(\\frac{1}{2}\\) and \\[x^2\\]", "$\\frac{1}{2}$ and $$x^2$$"),
    ("$$a<b$$ <b>", "$$a\\lt b$$ &lt;b&gt;"),
    ("costs $5 and <i>", "costs $5 and &lt;i&gt;"),
    (":red[alarm] :material/home:", "\\:red\\[alarm\\] \\:material/home\\:"),
])
def test_safe_markdown(raw: str, shown: str) -> None:
    assert safe_markdown(raw) == shown


def test_filter_round_trips_through_the_url() -> None:
    f = TraceFilter(datasets=("a", "b"), scorer="s1", generators=("g",), categories=("c",), splits=("x",),
                    correct="false", gold_error="present", pred_error="differs_from_gold", min_score=(0.1, 0.4),
                    last_score=(0.0, 0.5), text="boxed")
    params = filters.filter_to_params(f)
    assert params["ds"] == ["a", "b"] and params["min"] == ["0.1,0.4"] and params["pred"] == ["differs_from_gold"]
    assert filters.filter_from_params(params) == f
    # an explicit 'no scorer' drops the scorer-only filters; unknown choices fall back to 'any'
    back = filters.filter_from_params({"scorer": ["none"], "pred": ["present"], "min": ["0,0.5"], "gold": ["bogus"]})
    assert back == TraceFilter()
    assert filters.filter_to_params(TraceFilter()) == {"scorer": ["none"]}


def test_parse_tags() -> None:
    assert parse_tags("policy=qwen-7b, process_reward=with\nseed = 3") == {"policy": "qwen-7b", "process_reward": "with", "seed": "3"}
    with pytest.raises(Exception, match="not key=value"):
        parse_tags("oops")


def test_heatmap_grid_marks_and_clicks() -> None:
    page = pd.DataFrame({
        "trace_id": ["d-0", "d-1"], "dataset": ["run-with", "run-without"], "ordinal": [0, 1], "n_steps": [3, 2],
        "gold_first_error": [1, -1], "pred_first_error": [2, 0],
    })
    scores = pd.DataFrame({"trace_id": ["d-0", "d-0", "d-1"], "step_idx": [0, 2, 0], "score": [0.9, 0.1, 0.3]})
    fig = heatmap.heatmap_figure(page, scores, threshold=0.4, scorer_name="prm")
    by_name = {t.name: t for t in fig.data}
    scored = by_name["step score"]
    assert list(zip(scored.x, scored.y)) == [(0, 0), (2, 0), (0, 1)]
    assert scored.marker.cmid == 0.4 and scored.marker.cmin == 0 and scored.marker.cmax == 1
    unscored = by_name["not scored"]  # d-0 step 1 and d-1 step 1 have no score: still drawn
    assert sorted(zip(unscored.x, unscored.y)) == [(1, 0), (1, 1)]
    gold = by_name["gold first error"]
    assert list(zip(gold.x, gold.y)) == [(1, 0)]  # d-1 has no error: no mark
    pred = by_name["predicted first error"]
    assert list(zip(pred.x, pred.y)) == [(2, 0), (0, 1)]
    assert list(fig.layout.yaxis.ticktext) == ["with #0", "without #1"]
    event = {"selection": {"points": [{"curve_number": 0, "point_index": 1, "customdata": list(scored.customdata[1])}]}}
    assert heatmap.cell_from_selection(event) == ("d-0", 2)
    assert heatmap.cell_from_selection({"selection": {"points": []}}) is None


def test_score_colours_and_progress() -> None:
    assert [score_colour(s, 0.5) for s in (0.1, 0.55, 0.9, None)] == ["red", "orange", "green", "gray"]
    scores = pd.DataFrame({"scorer": ["a"] * 4, "step_idx": [0, 1, 2, 4], "score": [0.5, 0.7, 0.4, 0.9]})
    prog = progress_frame(scores)
    assert list(prog["step_idx"]) == [1, 2]  # step 4 follows a gap: no progress value
    assert list(prog["progress"]) == pytest.approx([0.2, -0.3])
