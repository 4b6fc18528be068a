"""The Explorer / Trace reads (queries.py, section 'explorer / trace') on a real store, against
values worked out by hand from the scores written in each test."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from prm_viewer import queries
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from prm_viewer.queries import TraceFilter

ROOT = Path(__file__).resolve().parents[2]
PB = ROOT / "tests" / "data" / "processbench" / "valid.jsonl"
# pb-0: gold -1 (m1); pb-1: gold 0 (m2); pb-2: gold 1 (m1); three steps each.
SCORES = {0: [0.9, 0.8, 0.7], 1: [0.6, 0.2, 0.4], 2: [0.3, 0.9, 0.95]}
THRESHOLD = 0.5


@pytest.fixture
def scored(store):  # type: ignore[no-untyped-def]
    report = import_file(store, PB, tags={"policy": "p"})
    did = report.dataset_id
    store.upsert_scorer({"scorer_id": "sc-1", "name": "hand", "recipe": "imported", "threshold": THRESHOLD})
    rows = [("sc-1", f"{did}-{o}", k, s, s, None) for o, ss in SCORES.items() for k, s in enumerate(ss)]
    store.insert_step_scores(pd.DataFrame(rows, columns=["scorer_id", "trace_id", "step_idx", "score", "raw", "note"]))
    return store, did


def _first_below(scores: list[float]) -> int:
    return next((k for k, s in enumerate(scores) if s < THRESHOLD), -1)


def test_page_columns_match_hand_values(scored) -> None:  # type: ignore[no-untyped-def]
    store, did = scored
    page = queries.explorer_page(store, TraceFilter(scorer="sc-1"))
    assert list(page["trace_id"]) == [f"{did}-0", f"{did}-1", f"{did}-2"]
    gold = {0: -1, 1: 0, 2: 1}
    for row in page.itertuples():
        o = int(row.ordinal)
        assert row.score_min == pytest.approx(min(SCORES[o]))
        assert row.score_last == pytest.approx(SCORES[o][-1])
        assert row.score_mean == pytest.approx(sum(SCORES[o]) / 3)
        assert row.pred_first_error == _first_below(SCORES[o])
        g, p = gold[o], _first_below(SCORES[o])
        assert row.disagreement == abs((3 if p == -1 else p) - (3 if g == -1 else g))


def test_filters_and_sorts(scored) -> None:  # type: ignore[no-untyped-def]
    store, did = scored
    count = lambda **kw: queries.explorer_count(store, TraceFilter(**kw))  # noqa: E731
    assert count() == 3
    assert count(generators=("m1",)) == 2
    assert count(gold_error="present") == 2 and count(gold_error="absent") == 1 and count(gold_error="unknown") == 0
    assert count(correct="true") == 1
    # predicted first errors: pb-0 -1, pb-1 1, pb-2 0; gold -1, 0, 1
    assert count(scorer="sc-1", pred_error="present") == 2
    assert count(scorer="sc-1", pred_error="matches_gold") == 1
    assert count(scorer="sc-1", pred_error="differs_from_gold") == 2
    assert count(scorer="sc-1", min_score=(0.0, 0.25)) == 1  # only pb-1 (min 0.2)
    assert count(scorer="sc-1", last_score=(0.9, 1.0)) == 1  # only pb-2 (last 0.95)
    assert count(text="10/2") == 1  # in the problem
    assert count(text="5*4") == 1  # a step of pb-1 only (its problem says 3*4)
    assert count(text="BOXED{20}") == 1  # case-insensitive, in a step
    assert count(text="no such text") == 0
    by_min = queries.explorer_page(store, TraceFilter(scorer="sc-1"), sort="min_score")
    assert list(by_min["ordinal"]) == [1, 2, 0]  # 0.2, 0.3, 0.7
    by_gold = queries.explorer_page(store, TraceFilter(), sort="gold_first_error")
    assert list(by_gold["ordinal"]) == [1, 2, 0]  # 0, 1, then 'no error' last
    by_dis = queries.explorer_page(store, TraceFilter(scorer="sc-1"), sort="disagreement", descending=True)
    assert list(by_dis["ordinal"])[0] == 1  # |1-0| = 1 ties with pb-2 |0-1| = 1; pb-0 0 last
    assert list(by_dis["ordinal"])[-1] == 0
    paged = queries.explorer_page(store, TraceFilter(), limit=2, offset=2)
    assert list(paged["ordinal"]) == [2]
    with pytest.raises(PrmViewerError):
        queries.explorer_count(store, TraceFilter(pred_error="present"))  # needs a scorer
    with pytest.raises(PrmViewerError):
        queries.explorer_page(store, TraceFilter(), sort="nonsense")


def test_neighbours_follow_the_sorted_filter(scored) -> None:  # type: ignore[no-untyped-def]
    store, did = scored
    f = TraceFilter(scorer="sc-1")
    nav = queries.explorer_neighbours(store, f, f"{did}-2", sort="min_score")
    assert nav == {"previous": f"{did}-1", "next": f"{did}-0", "position": 2, "total": 3}
    assert queries.explorer_neighbours(store, TraceFilter(generators=("m2",)), f"{did}-0")["position"] is None
    assert queries.explorer_trace_ids(store, TraceFilter(generators=("m1",))) == [f"{did}-0", f"{did}-2"]


def test_trace_reads(scored) -> None:  # type: ignore[no-untyped-def]
    store, did = scored
    head = queries.trace_header(store, f"{did}-1")
    assert head["problem"] == "What is 2+3*4?" and head["gold_first_error"] == 0 and head["dataset"] == "valid"
    steps = queries.trace_steps(store, f"{did}-1")
    assert list(steps["step_idx"]) == [0, 1, 2] and steps["text"][1] == "5*4 = 20."
    scores = queries.trace_step_scores(store, f"{did}-1")
    assert list(scores["score"]) == pytest.approx(SCORES[1])
    preds = queries.trace_predictions(store, f"{did}-1")
    assert list(preds["predicted_first_error"]) == [1]
    cells = queries.heatmap_scores(store, "sc-1", [f"{did}-0", f"{did}-2"])
    assert len(cells) == 6 and set(cells["trace_id"]) == {f"{did}-0", f"{did}-2"}
    with pytest.raises(NotFound):
        queries.trace_header(store, "nope-1")
    opts = queries.explorer_options(store)
    assert list(opts["scorers"]["scorer_id"]) == ["sc-1"] and list(opts["scorers"]["dataset_ids"][0]) == [did]
    assert opts["generators"] == ["m1", "m2"]
