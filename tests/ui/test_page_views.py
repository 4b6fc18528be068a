"""What the Explorer and the Trace page draw (issue 17, browser-side speed): the Explorer draws only
the view picked in its Heatmap | Table switch (kept in the URL as ``view=table``), and the Trace page
draws its reward curve and progress bars as one Plotly figure with two panels."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from prm_viewer.store import Store
from prm_viewer.ui.trace_view import trace_figure

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prm_viewer.demo import load_demo

    db = tmp_path_factory.mktemp("views") / "demo.duckdb"
    with Store(db) as store:
        load_demo(store)
        TRACE.append(store.cursor().execute("SELECT trace_id FROM traces ORDER BY trace_id LIMIT 1").fetchone()[0])
    return db


TRACE: list[str] = []


def _app(params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    return at


def test_explorer_draws_only_the_chosen_view(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    at = _app({"scorer": "demo-synthetic-prm", "rows": "25"})
    at.switch_page("pages/explorer.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.button_group(key="ex_view").value == "Heatmap"
    assert len(at.get("plotly_chart")) == 1 and len(at.dataframe) == 0
    at.button_group(key="ex_view").set_value("Table").run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 0 and len(at.dataframe) == 1
    assert len(at.dataframe[0].value) == 25  # the page's rows
    assert at.query_params["view"] == "table"
    # a shared link with view=table opens the table directly
    again = _app({"scorer": "demo-synthetic-prm", "rows": "25", "view": "table"})
    again.switch_page("pages/explorer.py")
    again.run()
    assert again.button_group(key="ex_view").value == "Table" and len(again.dataframe) == 1
    assert len(again.get("plotly_chart")) == 0


def test_trace_page_draws_one_figure(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    at = _app({"trace": TRACE[0]})
    at.switch_page("pages/trace.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(at.get("plotly_chart")) == 1


def test_back_to_the_explorer_keeps_its_page_and_view(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from urllib.parse import parse_qs

    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    with Store(demo_db) as store:
        ds = store.cursor().execute("SELECT dataset_id FROM traces WHERE trace_id = ?", [TRACE[0]]).fetchone()[0]
    at = _app({"ds": ds, "rows": "25", "page": "2", "view": "table", "trace": TRACE[0]})
    at.switch_page("pages/trace.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    back = [x for x in at.get("page_link") if x.proto.label == "Back to the Explorer"]
    assert len(back) == 1
    q = parse_qs(back[0].proto.query_string)
    assert q["ds"] == [ds] and q["page"] == ["2"] and q["rows"] == ["25"] and q["view"] == ["table"]


def test_trace_figure_panels_hold_the_scores_and_their_changes() -> None:
    scores = pd.DataFrame({"scorer": ["a"] * 3 + ["b"] * 3, "step_idx": [0, 1, 2] * 2,
                           "score": [0.9, 0.6, 0.7, 0.2, 0.4, 0.1], "threshold": [0.5] * 3 + [0.3] * 3})
    fig = trace_figure(scores, gold_first_error=1)
    reward = [t for t in fig.data if t.type == "scatter"]
    bars = [t for t in fig.data if t.type == "bar"]
    assert [list(t.y) for t in reward] == [[0.9, 0.6, 0.7], [0.2, 0.4, 0.1]]
    # progress by hand: score(k) - score(k-1)
    assert [list(t.x) for t in bars] == [[1, 2], [1, 2]]
    assert [list(t.y) for t in bars] == [pytest.approx([-0.3, 0.1]), pytest.approx([0.2, -0.3])]
    assert all(t.xaxis == "x2" and t.yaxis == "y2" for t in bars)
    assert {t.xaxis for t in reward} <= {None, "x"}
    # one colour and one legend entry per scorer, across both panels
    assert [t.line.color for t in reward] == [t.marker.color for t in bars] and reward[0].line.color != reward[1].line.color
    assert [t.showlegend for t in bars] == [False, False] and [t.legendgroup for t in bars] == ["a", "b"]
    # the panels do not overlap; thresholds and the gold first error are drawn on the left panel
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]
    assert sorted(s.y0 for s in fig.layout.shapes if s.xref == "x domain") == [0.3, 0.5]
    assert [s.x0 for s in fig.layout.shapes if s.xref == "x"] == [1]


def test_first_error_table_is_escaped_text() -> None:
    from prm_viewer.ui.trace_view import first_error_table

    table = pd.DataFrame({"scorer": ["[x](http://e.org) *b*", "ok"], "threshold": [0.5, 0.25],
                          "predicted_first_error": [3.0, float("nan")], "gold_first_error": [-1, -1],
                          "verdict": ["![i](http://e.org/i.png)", None]})
    out = first_error_table(table)
    assert list(out.columns) == ["scorer", "threshold", "predicted first error", "gold first error", "verdict"]
    assert out["predicted first error"].tolist() == ["3", "–"] and out["gold first error"].tolist() == ["-1", "-1"]
    assert out["threshold"].tolist() == ["0.5", "0.25"]
    # Markdown link / image syntax does not survive unescaped
    assert "](" not in out["scorer"][0].replace("\\]", "") and out["scorer"][0].startswith("\\[")
    assert out["verdict"][0].startswith("\\!") or out["verdict"][0].startswith("!\\[")
    assert out["verdict"][1] == ""
