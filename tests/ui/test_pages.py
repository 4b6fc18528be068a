"""Fast page smoke tests with Streamlit's AppTest: every page runs without an exception against an
empty store and against the demo store, with the URL parameters a shared link would carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from prm_viewer.store import Store

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p.stem for p in (ROOT / "pages").glob("*.py"))


def _run(page: str, params: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.switch_page(f"pages/{page}.py")
    at.run()
    assert not at.exception, f"{page}: {[e.value for e in at.exception]}"
    # nothing from a store is ever rendered as raw HTML
    assert not any(m.allow_html for m in at.markdown), page
    return at


@pytest.fixture
def empty_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    db = tmp_path / "empty.duckdb"
    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    return db


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from prm_viewer.demo import load_demo

    db = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with Store(db) as store:
        load_demo(store)
        cur = store.cursor()
        # facts for the link test, read before any app run holds the file
        FACTS["total"] = cur.execute("SELECT count(*) FROM traces WHERE gold_first_error >= 0").fetchone()[0]
        FACTS["trace_id"], FACTS["gold"], FACTS["n_steps"] = cur.execute(
            "SELECT trace_id, gold_first_error, n_steps FROM traces WHERE gold_first_error > 0 ORDER BY trace_id LIMIT 1"
        ).fetchone()
    return db


FACTS: dict = {}


def test_pages_are_all_in_the_navigation() -> None:
    text = (ROOT / "app.py").read_text()
    for page in ("library", "jobs", "explorer", "trace", "export"):
        assert f'"pages/{page}.py"' in text


@pytest.mark.parametrize("page", PAGES)
def test_every_page_uses_the_page_base_and_leaves_errors_to_the_boundary(page: str) -> None:
    """The common preamble comes from ``prm_viewer.ui.page``; showing a user error and stopping is
    the error boundary's job (a page catches one only to do more, e.g. keep a form on screen)."""
    import ast

    tree = ast.parse((ROOT / "pages" / f"{page}.py").read_text())
    imports = {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module == "prm_viewer.ui.page"
               for a in n.names}
    assert "page" in imports, page
    assert not any(isinstance(n, ast.ImportFrom) and any(a.name == "get_store" for a in n.names)
                   for n in ast.walk(tree)), page
    for handler in (n for n in ast.walk(tree) if isinstance(n, ast.ExceptHandler)):
        body = [ast.unparse(s) for s in handler.body]
        assert not (len(body) == 2 and body[0].startswith("st.error(") and body[1] == "st.stop()"), \
            f"{page}: line {handler.lineno} does what the error boundary does"


def test_the_root_url_and_library_open_the_library(empty_db: Path) -> None:
    """The default page is served at ``/`` and, registered a second time, at ``/library``."""
    root = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not root.exception and [t.value for t in root.title] == ["Library"]
    assert [t.value for t in _run("library").title] == ["Library"]


@pytest.mark.parametrize("page", PAGES)
def test_page_on_empty_store(page: str, empty_db: Path) -> None:
    at = _run(page)
    if page == "explorer":
        assert any("No datasets yet" in i.value for i in at.info)


@pytest.mark.parametrize("page", PAGES)
def test_page_on_demo_store(page: str, demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    at = _run(page)
    assert at.title, page


def test_explorer_and_trace_with_link_parameters(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    total, trace_id, gold, n_steps = FACTS["total"], FACTS["trace_id"], FACTS["gold"], FACTS["n_steps"]
    at = _run("explorer", {"scorer": "demo-synthetic-prm", "gold": "present", "sort": "min_score", "rows": "25"})
    assert any(f"{total:,} traces match" in c.value for c in at.caption)
    assert at.selectbox(key="ex_sort").value == "min_score"
    assert at.selectbox(key="flt_gold").value == "present"
    at = _run("trace", {"trace": trace_id, "step": str(gold)})
    step_titles = [m.value for m in at.markdown if m.value.startswith("**Step ")]
    assert len(step_titles) == n_steps
    assert "gold first error" in step_titles[gold] and "selected" in step_titles[gold]
    at = _run("trace", {"trace": "no-such-trace"})
    assert any("no trace 'no-such-trace'" in e.value for e in at.error)


def test_trace_html_is_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prm_viewer.ingest import import_file

    src = tmp_path / "evil.jsonl"
    src.write_text(json.dumps({"id": "x", "problem": "<b>bold?</b>", "label": -1,
                               "steps": ["<img src=x onerror=alert(1)>", "$a<b$ and <script>alert(2)</script>"]}) + "\n")
    db = tmp_path / "evil.duckdb"
    with Store(db) as store:
        did = import_file(store, src).dataset_id
    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    at = _run("trace", {"trace": f"{did}-0"})
    # a step is one Markdown element: its header line, a blank line, then its text
    bodies = [m.value.split("\n\n", 1)[-1] for m in at.markdown]
    assert "&lt;img src=x onerror=alert(1)&gt;" in bodies
    assert "$a\\lt b$ and &lt;script&gt;alert(2)&lt;/script&gt;" in bodies  # math kept for KaTeX (< as \\lt), HTML escaped
    assert "&lt;b&gt;bold?&lt;/b&gt;" in bodies


def _register_form_script() -> None:
    """The Library's register form alone, on the store named by PRM_VIEWER_DB (no app.py: its
    one-time legacy-pages rerun would swallow AppTest's button click)."""
    import os

    from prm_viewer.store import Store
    from prm_viewer.ui.checkpoints import register_form

    with Store(os.environ["PRM_VIEWER_DB"]) as store:
        register_form(store)


def test_register_a_checkpoint_with_a_chosen_precision(empty_db: Path, tmp_path: Path) -> None:
    """The register form passes device and precision through to the stored scorer."""
    pytest.importorskip("torch")
    from tests.scoring import tiny_models

    folder, build = tiny_models.BUILDERS["qwen-prm"]
    ckpt = build(tmp_path / folder)
    at = AppTest.from_function(_register_form_script, default_timeout=120)
    at.run()
    at.text_input(key="ck_ref").input(str(ckpt))
    at.selectbox(key="ck_device").select("cpu")
    at.selectbox(key="ck_dtype").select("bfloat16")
    at.button(key="ck_register").click()
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Registered scorer" in s.value for s in at.success)
    with Store(empty_db) as store:
        rows = store.cursor().execute("SELECT recipe, options FROM scorers").fetchall()
    assert len(rows) == 1 and rows[0][0] == "qwen-prm"
    opts = json.loads(rows[0][1]) if isinstance(rows[0][1], str) else rows[0][1]
    assert (opts["device"], opts["dtype"]) == ("cpu", "bfloat16")


def test_export_preview_is_read_once_per_data_version(demo_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The preview reads every step score of the selection; a rerun (a widget change elsewhere on
    # the page) must reuse it until the store is written, like every other cached read.
    from prm_viewer import export

    monkeypatch.setenv("PRM_VIEWER_DB", str(demo_db))
    calls: list[int] = []
    real = export.export_frame

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*args, **kwargs)

    counted.__module__, counted.__qualname__ = real.__module__, real.__qualname__  # cached() looks it up by name
    monkeypatch.setattr(export, "export_frame", counted)
    import streamlit as st

    st.cache_data.clear()  # the smoke tests above ran this page on the same store
    at = _run("export")
    n = len(calls)
    assert n >= 1
    at.run()
    assert not at.exception
    assert len(calls) == n
