"""The labelling UI with Streamlit's AppTest, through app.py: labels given on the Trace page (in
place and with the sidebar panel) land in the store for the chosen annotator, the imported gold
never changes, undo takes back one action; the Labelling page builds a queue from the Explorer
filter and opens its next item; the gold selector changes the Localisation numbers to what a hand
computation gives."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pandas as pd
import pytest

from prm_viewer.store import Store
from prm_viewer.ui.annotate import ANNOTATOR
from tests.conftest import ROOT

AppTest = pytest.importorskip("streamlit.testing.v1").AppTest

XSS = "<img src=x onerror=alert(1)> [click](http://evil.test)"
# ProcessBench-shaped: "label" is the gold first error (-1 none). Scores of the scorer "tiny-prm"
# (threshold 0.5): its predicted first error is the first step scored below 0.5.
TRACES: list[dict[str, Any]] = [
    {"id": "p-0", "problem": "What is 2+3?", "steps": ["2+3 = 5.", "So it is 5.", "The answer is 6."],
     "label": -1, "final_answer_correct": True, "scores": [0.9, 0.4, 0.2]},      # predicted 1
    {"id": "p-1", "problem": "What is 4*3?", "steps": ["4*3 = 12.", "12 - 1 = 11.", "The answer is 11."],
     "label": 1, "final_answer_correct": False, "scores": [0.9, 0.3, 0.1]},      # predicted 1
    {"id": "p-2", "problem": "What is 9-4?", "steps": ["9-4 = 6.", "So 6.", "The answer is 6."],
     "label": 0, "final_answer_correct": False, "scores": [0.2, 0.9, 0.9]},      # predicted 0
    {"id": "p-3", "problem": f"Is 7 prime? {XSS}", "steps": [XSS, "7 has no divisor but 1 and 7.", "Yes."],
     "label": -1, "final_answer_correct": True, "scores": [0.9, 0.9, 0.9]},      # predicted -1
]


def build_store(db: Path) -> dict[str, str]:
    """The four traces above as dataset ``tiny-labels`` (file ``tiny_labels.jsonl``) with the
    scorer ``tiny-prm``; returns source id -> trace id."""
    from prm_viewer.ingest import import_file

    src = db.parent / "tiny_labels.jsonl"
    src.write_text("".join(json.dumps({k: v for k, v in t.items() if k != "scores"}) + "\n" for t in TRACES))
    with Store(db) as store:
        did = import_file(store, src, fmt="processbench", name="tiny-labels").dataset_id
        ids = dict(store.cursor().execute("SELECT source_id, trace_id FROM traces WHERE dataset_id = ?", [did]).fetchall())
        store.upsert_scorer({"scorer_id": "tiny-prm", "name": "tiny-prm", "recipe": "imported", "threshold": 0.5})
        store.insert_step_scores(pd.DataFrame([
            {"scorer_id": "tiny-prm", "trace_id": ids[t["id"]], "step_idx": k, "score": s, "raw": None, "note": None}
            for t in TRACES for k, s in enumerate(t["scores"])]))
    return ids


@pytest.fixture(scope="module")
def base_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    db = tmp_path_factory.mktemp("labels") / "base.duckdb"
    return db, build_store(db)


@pytest.fixture
def label_db(base_db: tuple[Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    """A fresh copy of the store per test (the app writes to it)."""
    db = tmp_path / "labels.duckdb"
    shutil.copy(base_db[0], db)
    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    return db, base_db[1]


def _page(page: str, who: str | None = None, check: bool = True, **params: str) -> Any:
    """``pages/<page>`` through app.py with URL ``params``; ``who``: the annotator already picked
    in this browser session (the picker itself is tested on the Trace page)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    if who is not None:
        at.session_state[ANNOTATOR] = who
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(f"pages/{page}.py")
    at.run()
    if check:
        _ok(at)
    return at


def _ok(at: Any) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert not any(m.allow_html for m in at.markdown)


def _current(db: Path, trace_id: str) -> dict[tuple[str, int], tuple[int | None, str | None]]:
    """(annotator, step) -> (label, note): the latest event's row per step, read straight from the log."""
    with Store(db) as store:
        rows = store.cursor().execute(
            """SELECT annotator, step_idx, label, note FROM step_labels WHERE trace_id = ?
               QUALIFY row_number() OVER (PARTITION BY annotator, step_idx ORDER BY event_id DESC) = 1""",
            [trace_id]).fetchall()
    return {(a, int(k)): (None if v is None else int(v), n) for a, k, v, n in rows if v is not None or n is not None}


def _gold(db: Path) -> tuple[list[Any], list[Any]]:
    with Store(db) as store:
        cur = store.cursor()
        return (cur.execute("SELECT trace_id, step_idx, gold_label FROM steps ORDER BY ALL").fetchall(),
                cur.execute("SELECT trace_id, gold_first_error FROM traces ORDER BY ALL").fetchall())


def _click(at: Any, key: str) -> None:
    at.sidebar.button(key=key).click().run()
    _ok(at)


def test_labels_given_on_the_trace_page_land_in_the_store_per_annotator(label_db) -> None:
    db, ids = label_db
    tid = ids["p-1"]
    gold_before = _gold(db)
    at = _page("trace", trace=tid)
    assert not at.button_group, "no label control before an annotator name is given"
    at.sidebar.text_input(key="annotator_name").input("gold").run()  # reserved: refused, nothing stored
    assert any("reserved" in e.value for e in at.sidebar.error)
    at.sidebar.text_input(key="annotator_name").input("alice").run()
    _ok(at)
    at.button_group(key="lab_1").set_value("wrong").run()  # in place, on step 1 (selects it)
    _ok(at)
    assert at.query_params["step"] == "1"
    _click(at, "lab_prev")                                    # K: step 0
    _click(at, "lab_correct")                                 # 1
    at.button_group(key="lab_2").set_value("unsure").run()    # in place again: step 2 (selected)
    assert _current(db, tid)[("alice", 2)] == (0, None)
    _click(at, "lab_undo")                                    # U: takes back "unsure" only
    at.sidebar.text_input(key=f"lab_note_{tid}_2").input("check [this](http://evil.test) <b>line</b>").run()
    _ok(at)
    _click(at, "annotator_name_change")
    at.sidebar.text_input(key="annotator_name").input("  bob ").run()
    _click(at, "lab_first")                                   # E on step 2: 0, 1 correct, 2 wrong
    assert _current(db, tid) == {
        ("alice", 0): (1, None), ("alice", 1): (-1, None), ("alice", 2): (None, "check [this](http://evil.test) <b>line</b>"),
        ("bob", 0): (1, None), ("bob", 1): (1, None), ("bob", 2): (-1, None)}
    assert _gold(db) == gold_before
    # Beside each step: every annotator's label, the imported one as "gold (<file>)"; the control
    # shows bob's own label.
    step1 = next(m.value for m in at.markdown if m.value.startswith("**Step 1**"))
    assert "gold (tiny\\_labels.jsonl): wrong" in step1 and "alice: wrong" in step1 and "bob: correct" in step1
    assert at.button_group(key="lab_1").value == "correct"
    step2 = next(m.value for m in at.markdown if m.value.startswith("**Step 2**"))
    assert "**alice**: check \\[this\\]" in step2 and "<b>" not in step2
    assert not re.search(r"(?<!\\)\]\(", step2)  # no live link: every bracket is escaped


def test_a_queue_from_the_explorer_filter_is_labelled_item_by_item(label_db) -> None:
    db, ids = label_db
    # The Explorer's filter in the URL: traces with a gold error (p-1 and p-2, in dataset order).
    at = _page("labelling", gold="present", scorer="none", who="alice")
    at.text_input(key="lq-name").input("round 1")
    at.button(key="FormSubmitter:lq-new-Create queue").click().run()
    _ok(at)
    qid = at.query_params["queue"]
    with Store(db) as store:
        items = [r[0] for r in store.cursor().execute(
            "SELECT trace_id FROM label_queue_items WHERE queue_id = ? ORDER BY position", [qid]).fetchall()]
    assert items == [ids["p-1"], ids["p-2"]]
    link = next(e for e in at.get("page_link") if e.proto.label == "Label next")  # alice's first item
    assert parse_qs(link.proto.query_string) == {"trace": [ids["p-1"]], "queue": [qid]}
    at = _page("trace", trace=ids["p-1"], queue=qid, who="alice")
    assert any("item 1 of 2" in m.value for m in at.sidebar.markdown)
    _click(at, "lab_done")
    assert at.query_params["trace"] == ids["p-2"]
    assert any("item 2 of 2" in m.value for m in at.sidebar.markdown)
    # A shared link with only the queue opens the visitor's next item; bob starts at the first.
    other = _page("trace", queue=qid, who="bob")
    assert other.query_params["trace"] == ids["p-1"]
    back = _page("labelling", queue=qid, who="alice")
    overview = back.dataframe[0].value  # the queues overview
    assert overview["progress"].tolist() == ["alice 1/2"]


def test_an_annotator_as_gold_changes_the_localisation_numbers(label_db) -> None:
    from prm_viewer import annotation

    db, ids = label_db
    with Store(db) as store:
        annotation.set_first_error(store, ids["p-0"], 2, "alice")  # steps 0, 1 correct, 2 wrong
    # By hand (tiny-prm at 0.5 predicts p-0: 1, p-1: 1, p-2: 0, p-3: none):
    # imported gold: erroneous p-1 (1), p-2 (0) both exact -> 100%; correct p-0 (alarm), p-3 -> 50%; F1 66.7%.
    # prefer:alice: p-0 erroneous at 2 (predicted 1: missed) -> 2 of 3 exact, 66.7%; correct p-3 -> 100%; F1 80.0%.
    # annotator:alice: only p-0 labelled: 0 of 1 exact -> 0.0%, 3 traces without a gold label.
    at = _page("localisation", labels="prefer:alice")
    assert at.selectbox(key="loc-gold").value == "prefer:alice"
    assert "in 66.7% of erroneous traces, and 100.0% of correct traces" in _reading(at) and "F1 80.0%" in _reading(at)
    at.selectbox(key="loc-gold").select("annotator:alice").run()
    _ok(at)
    assert at.query_params["labels"] == "annotator:alice"
    assert "in 0.0% of erroneous traces" in _reading(at)
    assert any("4 traces, 3 without a gold label" in c.value for c in at.caption)
    at.selectbox(key="loc-gold").select("gold").run()
    assert "labels" not in at.query_params
    assert "in 100.0% of erroneous traces, and 50.0% of correct traces" in _reading(at) and "F1 66.7%" in _reading(at)


def _reading(at: Any) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Reading:** at tau"))


@pytest.mark.parametrize("page, key", [("compare", "cmp-gold"), ("bestofn", "bon-gold")])
def test_compare_and_bestofn_take_the_gold_source_from_the_url(label_db, page: str, key: str) -> None:
    from prm_viewer import annotation

    db, ids = label_db
    with Store(db) as store:
        annotation.set_first_error(store, ids["p-0"], 2, "alice")
    # Further down, Best-of-N says it needs several samples per problem, and Compare of a dataset
    # with itself shows a bug message (in compare_view); the selector comes first.
    at = _page(page, check=False, labels="annotator:alice")
    assert not at.exception
    assert at.selectbox(key=key).value == "annotator:alice"
    assert [o for o in at.selectbox(key=key).options] == [
        "gold (tiny_labels.jsonl)", "majority of all annotators (gold included)", "alice", "alice, else gold"]


def test_labelling_page_offers_the_adjudicated_labels_as_trl_stepwise(label_db) -> None:
    import json

    from prm_viewer import annotation, export

    db, ids = label_db
    with Store(db) as store:
        annotation.set_first_error(store, ids["p-0"], 2, "alice")  # steps 0, 1 correct, 2 wrong
        steps = [t for (t,) in store.cursor().execute(
            "SELECT text FROM steps WHERE trace_id = ? ORDER BY step_idx", [ids["p-0"]]).fetchall()]
        body = export.export_labels_bytes(store, "tiny-labels", "trl-stepwise", gold="annotator:alice")
    at = _page("labelling", who="bob")
    assert any(b.proto.label.replace("\\", "") == "Download tiny-labels_trl-stepwise.jsonl"
               for b in at.get("download_button")), "no label download on the Labelling page"
    records = [json.loads(line) for line in body.decode().splitlines()]
    # Only alice's one labelled trace, its three steps with her labels (TRL: True = correct).
    assert [(r["completions"], r["labels"]) for r in records] == [(steps, [True, True, False])]
