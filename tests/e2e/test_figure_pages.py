"""The paper-figure pages (Best-of-N, Agreement, Benchmarks, calibration on Localisation):
AppTest smoke runs through app.py, then the real app in Chromium with screenshots, and the PNG /
SVG export of a figure through kaleido."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prm_viewer.store import Store
from tests.analysis.test_bestofn import make_store
from tests.apptest import run_page

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

CLASSES = ("confidence", "counterfactual", "redundency", "correct")


def build_figures_db(path: Path, problems: int = 40, samples: int = 4, seed: int = 0) -> Path:
    """Problems x samples traces over two splits and four error classes, two scorers, gold labels."""
    rng = np.random.default_rng(seed)
    traces, a, b, labels = [], {}, {}, {}
    for p in range(problems):
        for j in range(samples):
            o = len(traces)
            k = int(rng.integers(2, 7))
            cls = CLASSES[o % 4]
            first = -1 if cls == "correct" or rng.random() < 0.4 else int(rng.integers(0, k))
            labels[o] = [1 if first == -1 or i < first else -1 for i in range(k)]
            good = np.array([1.0 if v == 1 else 0.0 for v in labels[o]])
            a[o] = np.clip(0.25 + 0.5 * good + rng.normal(0, 0.2, k), 0, 1).round(3).tolist()
            b[o] = np.clip(0.2 + 0.6 * good + rng.normal(0, 0.25, k), 0, 1).round(3).tolist()
            right = first == -1 and rng.random() < 0.8 or rng.random() < 0.2
            traces.append({"problem": f"Problem {p}: what is {p} + {p}?", "answer": "42" if right else str(j),
                           "correct": bool(right), "gold": first, "n_steps": k, "category": cls,
                           "split": "gsm8k" if p % 2 == 0 else "math"})
    with Store(path) as s:
        make_store(s, traces, {"prm-A": a, "prm-B": b}, name="figures", labels=labels)
    return path


@pytest.fixture
def figures_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = build_figures_db(tmp_path / "figures.duckdb")
    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    return db




def _text(at: AppTest) -> str:
    return " ".join(m.value for m in at.markdown)


def test_bestofn_page(figures_db: Path) -> None:
    at = run_page("bestofn.py")
    assert "at N = 4, the best PRM rule is" in _text(at)
    assert any("every subset of the samples" in m.value for m in at.markdown)
    assert len(at.dataframe) >= 3


def test_agreement_page(figures_db: Path) -> None:
    at = run_page("agreement.py")
    assert "Cohen's kappa (steps)" in [m.label for m in at.metric]
    links = at.dataframe[1].value["open"].tolist()
    assert links and all(u.startswith("/trace?trace=") and "&step=" in u for u in links)
    assert "consensus filter" in _text(at)
    at.selectbox(key="agr-b").set_value("gold").run()
    assert not at.exception


def test_benchmarks_page(figures_db: Path) -> None:
    at = run_page("benchmarks.py")
    text = _text(at)
    assert "tuned on gsm8k and transferred" in text and "best overall PRMScore" in text


def test_localisation_calibration(figures_db: Path) -> None:
    at = run_page("localisation.py")
    assert "expected calibration error" not in _text(at)  # one section at a time: the threshold sweep first
    at.button_group(key="loc-section").set_value("Calibration").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "expected calibration error" in _text(at)
    assert at.query_params.get("section") == "calibration"


def test_static_export_png_svg() -> None:
    import plotly.graph_objects as go

    from prm_viewer.ui import figures

    if figures.export_unavailable():
        pytest.skip(figures.export_unavailable() or "")
    fig = go.Figure(go.Scatter(x=[1, 2, 4], y=[0.5, 0.6, 0.7], name="min / max"))
    fig.update_layout(xaxis_title="N (samples per problem)", yaxis_title="accuracy")
    styled = figures.style_for_paper(fig)
    assert styled.layout.font.size >= 14 and styled.layout.xaxis.title.font.size >= 16
    assert fig.layout.font.size is None  # the shown figure is left as it is
    svg = figures.static_image(fig, "svg")
    assert svg.lstrip().startswith(b"<svg") and b"N (samples per problem)" in svg
    png = figures.static_image(fig, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    w, h = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (w, h) == (figures.PAPER_WIDTH * figures.PAPER_SCALE, figures.PAPER_HEIGHT * figures.PAPER_SCALE)


def test_download_hint_without_browser(monkeypatch: pytest.MonkeyPatch) -> None:
    from prm_viewer.ui import figures

    monkeypatch.setenv("BROWSER_PATH", "/nonexistent/chrome")
    monkeypatch.setattr(figures, "DEFAULT_CHROME", "/nonexistent/chromium")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "Chrome or Chromium" in (figures.export_unavailable() or "")
