"""Run-vs-run comparison on hand-made runs and on the real GSM8K model solutions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scipy.stats import binomtest, bootstrap

from prm_viewer import queries
from prm_viewer.analysis import compare as cmp
from prm_viewer.analysis import stats
from prm_viewer.analysis.reports import compare_report
from prm_viewer.analysis.runs import resolve_run
from prm_viewer.errors import NotFound, PrmViewerError
from prm_viewer.ingest import import_file
from tests.analysis.helpers import add_scorer, add_scores, import_records, pb

# Shared problems P1-P3 (A also has P4, B has P5).
#          A: correct? gold   steps          B: correct? gold   steps
#   P1     yes         -1     3 (min .7)        no          0      4 (min .2)
#   P2     no          -1     2 (min .6)        yes        -1      2 (min .95)
#   P3     yes          0     2 (min .3)        yes        -1      2 (min .35)
# Accuracy A = B = 2/3; McNemar: A-only 1 (P1), B-only 1 (P2), both right 1 (P3) -> p = 1.
# Gold rates: A right-but-flawed 1/2 (P3), wrong-but-clean 1/1 (P2); B 0/2 and 0/1.
A_SCORES = {"P1": [0.9, 0.8, 0.7], "P2": [0.9, 0.6], "P3": [0.3, 0.8], "P4": [0.5]}
B_SCORES = {"P1": [0.2, 0.9, 0.9, 0.9], "P2": [0.95, 0.97], "P3": [0.35, 0.9], "P5": [0.1]}
A_STEPS = {"P1": ["x = 1", "y = 2", "z = 3"], "P2": ["a", "b"], "P3": ["c", "d"], "P4": ["e"]}
B_STEPS = {"P1": ["x = 1", "w = 5", "Y  = 2", "z = 4"], "P2": ["a", "b"], "P3": ["c", "d"], "P5": ["f"]}


@pytest.fixture
def runs(store, tmp_path):
    a = [pb("a1", "Problem one", A_STEPS["P1"], -1, True), pb("a2", "Problem two", A_STEPS["P2"], -1, False),
         pb("a3", "Problem three", A_STEPS["P3"], 0, True), pb("a4", "Problem four", A_STEPS["P4"], -1, True)]
    b = [pb("b1", "Problem  one ", B_STEPS["P1"], 0, False), pb("b2", "Problem two", B_STEPS["P2"], -1, True),
         pb("b3", "Problem three", B_STEPS["P3"], -1, True), pb("b5", "Problem five", B_STEPS["P5"], -1, True)]
    da = import_records(store, tmp_path, "with", a)
    db = import_records(store, tmp_path, "without", b)
    sid = add_scorer(store, "prm")
    add_scores(store, sid, da, {f"a{k[1]}": v for k, v in A_SCORES.items()})
    add_scores(store, sid, db, {f"b{k[1]}": v for k, v in B_SCORES.items()})
    return store


def test_compare_by_hand(runs):
    store = runs
    rep = compare_report(store, resolve_run(store, "with"), resolve_run(store, "without"), scorer="prm", n_resamples=500)
    assert rep.n_shared_problems == 3  # "Problem  one " pairs with "Problem one" (normalised text)
    acc = rep.accuracy
    assert acc.a.estimate == pytest.approx(2 / 3) and acc.b.estimate == pytest.approx(2 / 3)
    assert acc.diff.estimate == pytest.approx(0)
    m = acc.mcnemar
    assert (m.both_right, m.a_only, m.b_only, m.both_wrong, m.p_value) == (1, 1, 1, 0, pytest.approx(1.0))
    gold_a, gold_b = rep.rates["gold"]
    assert (gold_a.n_right, gold_a.n_right_flawed, gold_a.n_wrong, gold_a.n_wrong_clean) == (2, 1, 1, 1)
    assert (gold_b.right_flawed, gold_b.wrong_clean) == (0.0, 0.0)
    # predicted at .5: A P3 -> 0 (right but flawed), P1/P2 clean; B P1 -> 0, P2/P3 clean... P3 .35 -> 0
    pred_a, pred_b = rep.rates["predicted"]
    assert (pred_a.n_right_flawed, pred_a.n_wrong_clean) == (1, 1)
    assert (pred_b.n_right, pred_b.n_right_flawed, pred_b.n_wrong, pred_b.n_wrong_clean) == (2, 1, 1, 0)
    assert rep.trace_length.mean_a == pytest.approx(7 / 3) and rep.trace_length.mean_b == pytest.approx(8 / 3)
    assert rep.trace_min.mean_a == pytest.approx((0.7 + 0.6 + 0.3) / 3)
    assert rep.trace_min.mean_b == pytest.approx((0.2 + 0.95 + 0.35) / 3)
    pos = rep.score_by_position
    assert pos["n_a"].sum() == 7 and pos["n_b"].sum() == 8
    # bin 0 (first steps of every trace, 10 bins): A .9 .9 .3, B .2 .95 .35
    b0 = pos.set_index("rel_bin").loc[0]
    assert b0.mean_a == pytest.approx(0.7) and b0.mean_b == pytest.approx(0.5)
    fe = rep.first_error.set_index(["source", "position"])
    assert fe.loc[("gold", "absolute"), "n_a"] == 1 and fe.loc[("gold", "relative"), "mean_b"] == pytest.approx(0.0)
    # P1 and P2 differ in accuracy; the score gap breaks the tie: P2 |.95-.6| = .35 < P1 |.2-.7| = .5
    top = rep.differ_most
    firsts = rep.frame_a.set_index("trace_id")["source_id"]
    assert [firsts[t] for t in top["first_trace_a"]] == ["a1", "a2", "a3"]
    assert top["acc_gap"].tolist() == [1.0, 1.0, 0.0]


def test_compare_generators_within_one_dataset(store, tmp_path):
    recs = [pb(f"{g}{i}", f"Problem {i}", ["s"], -1, ok, generator=g)
            for i, (x, y) in enumerate([(True, False), (True, True), (False, True), (False, True)])
            for g, ok in (("m1", x), ("m2", y))]
    import_records(store, tmp_path, "both", recs)
    rep = compare_report(store, resolve_run(store, "both", "m1"), resolve_run(store, "both", "m2"), n_resamples=200)
    assert rep.n_shared_problems == 4
    assert (rep.accuracy.a.estimate, rep.accuracy.b.estimate) == (0.5, 0.75)
    assert (rep.accuracy.mcnemar.a_only, rep.accuracy.mcnemar.b_only) == (1, 2)
    assert rep.rates == {"gold": rep.rates["gold"]}  # no scorer: no predicted rates
    with pytest.raises(NotFound, match="no generator 'm3'"):
        resolve_run(store, "both", "m3")
    assert resolve_run(store, "both:m2").generator == "m2"


def test_no_shared_problem_is_a_clear_error(store, tmp_path):
    import_records(store, tmp_path, "x", [pb("1", "Alpha", ["s"], -1)])
    import_records(store, tmp_path, "y", [pb("1", "Beta", ["s"], -1)])
    with pytest.raises(PrmViewerError, match="share no problem"):
        compare_report(store, resolve_run(store, "x"), resolve_run(store, "y"))


def test_headline_by_hand(runs):
    store = runs
    rep = compare_report(store, resolve_run(store, "with"), resolve_run(store, "without"), scorer="prm", n_resamples=500)
    h = rep.headline
    # no process_reward tags: B's effect over A
    assert (h.treated, h.control, h.question) == ("B", "A", "Does B do better than A?")
    assert h.n_problems == 3 and h.accuracy.diff.estimate == pytest.approx(0) and h.accuracy.verdict == "no clear difference"
    assert h.cohens_h.estimate == pytest.approx(0)
    # McNemar: one problem only A solves, one only B: OR = 1, exact interval from Clopper-Pearson on 1/2
    ci = binomtest(1, 2).proportion_ci(method="exact")
    assert h.odds_ratio.estimate == 1.0
    assert h.odds_ratio.low == pytest.approx(ci.low / (1 - ci.low)) and h.odds_ratio.high == pytest.approx(ci.high / (1 - ci.high))
    assert h.mcnemar_p == pytest.approx(1.0)
    # gold right-but-flawed: A 1/2, B 0/2 -> B - A = -0.5 with Newcombe's interval
    assert (h.process.treated, h.process.control) == (0.0, 0.5)
    lo, hi = _newcombe(1, 2, 0, 2)
    assert (h.process.diff.estimate, h.process.diff.low, h.process.diff.high) == pytest.approx((-0.5, lo, hi))
    # per-problem mean trace minimum: A .7 .6 .3, B .2 .95 .35
    assert h.trace_min.diff.estimate == pytest.approx(((0.2 - 0.7) + (0.95 - 0.6) + (0.35 - 0.3)) / 3)
    # the problems where they differ most carry the problem text and both source ids
    top = rep.differ_most
    assert top["problem"].tolist()[:2] == ["Problem one", "Problem two"]
    assert top["first_source_a"].tolist() == ["a1", "a2", "a3"] and top["first_source_b"].tolist() == ["b1", "b2", "b3"]


def test_headline_follows_the_process_reward_tag(runs):
    store = runs
    store.set_tags("with", {"process_reward": "with"})
    store.set_tags("without", {"process_reward": "without"})
    rep = compare_report(store, resolve_run(store, "with"), resolve_run(store, "without"), scorer="prm", n_resamples=500)
    h = rep.headline
    assert (h.treated, h.control, h.question) == ("A", "B", "Did process rewards help?")
    assert "process_reward=with on A" in h.basis
    # the same resamples as the report's B - A interval, negated: one number whichever way it is printed
    assert h.accuracy.diff == cmp.orient(rep.accuracy.diff, "A")
    assert (h.process.treated, h.process.control) == (0.5, 0.0)  # now oriented A - B
    assert h.process.diff.estimate == pytest.approx(0.5) and h.process.verdict in ("worse", "no clear difference")


def test_headline_orientation_and_forest_rows():
    # 4 problems: A right on P0, P1; B right on P1, P2, P3 (one sample each)
    pairs = pd.DataFrame({
        "acc_a": [1.0, 1.0, 0.0, 0.0], "acc_b": [0.0, 1.0, 1.0, 1.0],
        "first_correct_a": [1.0, 1.0, 0.0, 0.0], "first_correct_b": [0.0, 1.0, 1.0, 1.0],
        "split_a": ["in", "in", "out", "out"], "split_b": ["in", "in", "out", "out"],
    })
    hb = cmp.headline(pairs, {}, "B", n_resamples=500)
    ha = cmp.headline(pairs, {}, "A", n_resamples=500)
    assert hb.accuracy.diff.estimate == pytest.approx(0.25) and ha.accuracy.diff.estimate == pytest.approx(-0.25)
    assert hb.odds_ratio.estimate == pytest.approx(2.0) and ha.odds_ratio.estimate == pytest.approx(0.5)
    h = 2 * np.arcsin(np.sqrt(0.75)) - 2 * np.arcsin(np.sqrt(0.5))  # = pi/3 - pi/4 = pi/6
    assert hb.cohens_h.estimate == pytest.approx(h) and h == pytest.approx(np.pi / 6)
    assert ha.cohens_h.estimate == pytest.approx(-h)
    assert hb.process is None and hb.trace_min is None
    by = {"split": cmp.breakdown(pairs, "split", 300)}
    fb = cmp.forest_rows(hb, by).set_index("group")
    fa = cmp.forest_rows(ha, by).set_index("group")
    # split out: A 0/2, B 2/2 -> B - A = +1 (every resample agrees); flipped when A is treated
    assert fb.loc["split = out", ["estimate", "low", "high"]].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert fa.loc["split = out", ["estimate", "low", "high"]].tolist() == pytest.approx([-1.0, -1.0, -1.0])
    assert fb.loc["split = out", "verdict"] == "better" and fa.loc["split = out", "verdict"] == "worse"
    assert fb.loc["split = in", "estimate"] == pytest.approx(-0.5)
    with pytest.raises(PrmViewerError, match="'A' or 'B'"):
        cmp.headline(pairs, {}, "C")


def _newcombe(k1: int, n1: int, k2: int, n2: int) -> tuple[float, float]:
    """Newcombe's method 10 for p2 - p1 from scipy's Wilson intervals (independent of our wilson())."""
    p1, p2 = k1 / n1, k2 / n2
    l1, u1 = binomtest(k1, n1).proportion_ci(method="wilson")
    l2, u2 = binomtest(k2, n2).proportion_ci(method="wilson")
    d = p2 - p1
    return d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2), d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)


def test_effect_size_statistics_against_scipy_and_published_values():
    # Newcombe (1998), Table II example: 56/70 vs 48/80, method 10 interval 0.0524 to 0.3339
    iv = stats.proportion_diff(48, 80, 56, 70)
    assert iv.estimate == pytest.approx(0.2)
    assert (round(iv.low, 4), round(iv.high, 4)) == (0.0524, 0.3339)
    assert (iv.low, iv.high) == pytest.approx(_newcombe(48, 80, 56, 70))
    for k, n in ((0, 10), (3, 10), (10, 10), (57, 91)):
        ci = binomtest(k, n).proportion_ci(method="wilson")
        assert stats.wilson(k, n) == pytest.approx((ci.low, ci.high))
        ci = binomtest(k, n).proportion_ci(method="exact")
        assert stats.clopper_pearson(k, n) == pytest.approx((ci.low, ci.high))
    # conditional odds ratio 26/30 (the demo's McNemar counts) with its exact interval
    orv = stats.paired_odds_ratio(30, 26)
    ci = binomtest(26, 56).proportion_ci(method="exact")
    assert orv.estimate == pytest.approx(26 / 30)
    assert (orv.low, orv.high) == pytest.approx((ci.low / (1 - ci.low), ci.high / (1 - ci.high)))
    assert stats.paired_odds_ratio(0, 0).estimate is None
    z = stats.paired_odds_ratio(0, 5)  # B always the one that is right: infinite estimate and upper bound
    lo = 0.025 ** (1 / 5)  # Clopper-Pearson lower bound of 5/5 by hand: (alpha/2)^(1/n)
    assert z.estimate is None and z.high is None and z.low == pytest.approx(lo / (1 - lo))
    assert stats.cohens_h(0.5, 0.75) == pytest.approx(np.pi / 6)


def test_paired_effects_against_scipy_bootstrap():
    rng = np.random.default_rng(3)
    a = (rng.random(300) < 0.55).astype(float)
    b = np.where(rng.random(300) < 0.7, a, 1 - a)  # correlated with a
    eff = stats.paired_effects(a, b, n_resamples=4000, seed=1)
    # same resamples as paired_bootstrap: the same interval of the difference
    assert eff.diff == stats.paired_bootstrap(a, b, 4000, seed=1)[2]

    def h(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return 2 * np.arcsin(np.sqrt(y.mean(axis))) - 2 * np.arcsin(np.sqrt(x.mean(axis)))

    ref = bootstrap((a, b), h, paired=True, vectorized=True, n_resamples=20000, method="percentile",
                    random_state=np.random.default_rng(0)).confidence_interval
    assert eff.cohens_h.estimate == pytest.approx(stats.cohens_h(a.mean(), b.mean()))
    assert eff.cohens_h.low == pytest.approx(ref.low, abs=0.03) and eff.cohens_h.high == pytest.approx(ref.high, abs=0.03)


@pytest.mark.parametrize("p, text", [
    (0.6888797607233395, "0.69"), (0.034, "0.034"), (0.00123, "0.0012"), (0.001, "0.001"), (1.0, "1"),
    (0.99999, "1"), (9.820875170624906e-16, "9.8 × 10⁻¹⁶"), (2e-20, "2.0 × 10⁻²⁰"), (0.000999, "1.0 × 10⁻³"),
    (0.0, "< 1 × 10⁻³⁰⁰"), (None, "n/a"), (float("nan"), "n/a"),
])
def test_format_p(p, text):
    assert stats.format_p(p) == text


def test_trace_labels_and_steps_queries(runs):
    store = runs
    ids = dict(store.cursor().execute("SELECT source_id, trace_id FROM traces").fetchall())
    order = [ids["a3"], ids["b1"], ids["a1"]]
    lab = queries.analysis_trace_labels(store, order, "sc-prm")
    assert lab["trace_id"].tolist() == order  # in the order asked for
    assert lab["source_id"].tolist() == ["a3", "b1", "a1"]
    assert lab["problem"].tolist() == ["Problem three", "Problem one", "Problem one"]  # one problem row, shared
    # first step below the scorer's 0.5: a3 [.3, .8] -> 0; b1 [.2, ...] -> 0; a1 [.9 .8 .7] -> -1
    assert lab["pred_first_error"].tolist() == [0, 0, -1]
    assert queries.analysis_trace_labels(store, order, "sc-prm", threshold=0.25)["pred_first_error"].tolist() == [-1, 0, -1]
    assert queries.analysis_trace_labels(store, order)["pred_first_error"].isna().all()
    st = queries.analysis_traces_steps(store, [ids["b1"]], "sc-prm")
    assert st["text"].tolist() == B_STEPS["P1"] and st["score"].tolist() == pytest.approx(B_SCORES["P1"])
    assert queries.analysis_traces_steps(store, [ids["b1"]])["score"].isna().all()


def test_breakdown_by_split_by_hand():
    pairs = pd.DataFrame({
        "acc_a": [1.0, 0.0, 1.0, 0.5], "acc_b": [1.0, 1.0, 0.0, 1.0],
        "split_a": ["in", "in", "out", None], "split_b": ["in", "in", "out", "out"],
    })
    out = cmp.breakdown(pairs, "split").set_index("group")
    assert out.loc["in", ["n_problems", "acc_a", "acc_b"]].tolist() == [2, 0.5, 1.0]
    assert out.loc["out", "acc_a"] == pytest.approx(0.75) and out.loc["out", "diff"] == pytest.approx(0.5 - 0.75)
    # "in": differences per problem 0 and +1 -> every paired resample's mean lies in [0, 1]
    assert 0 <= out.loc["in", "diff_low"] <= 0.5 <= out.loc["in", "diff_high"] <= 1


def test_gsm8k_model_solutions_accuracy(store, shared_data):
    path = shared_data / "grade-school-math" / "example_model_solutions.jsonl"
    if not path.exists():
        pytest.skip("grade-school-math/example_model_solutions.jsonl absent from ../shared/data")
    import_file(store, path)
    ds = store.cursor().execute("SELECT name FROM datasets").fetchone()[0]
    recs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    a_ok = np.array([r["6b_finetuning"]["is_correct"] for r in recs])
    b_ok = np.array([r["175b_verification"]["is_correct"] for r in recs])
    rep = compare_report(store, resolve_run(store, ds, "6b_finetuning"), resolve_run(store, ds, "175b_verification"),
                         n_resamples=1000)
    n_unique = len({" ".join(r["question"].split()) for r in recs})
    assert rep.n_shared_problems == n_unique
    if n_unique == len(recs):  # one trace per problem: the paired accuracies are the file's rates
        assert rep.accuracy.a.estimate == pytest.approx(a_ok.mean())
        assert rep.accuracy.b.estimate == pytest.approx(b_ok.mean())
        m = rep.accuracy.mcnemar
        assert (m.a_only, m.b_only) == (int(np.sum(a_ok & ~b_ok)), int(np.sum(~a_ok & b_ok)))
    assert rep.accuracy.a.low < a_ok.mean() < rep.accuracy.a.high
    assert rep.accuracy.diff.low > 0  # 175b verification beats 6b fine-tuning by a wide margin


def test_compare_page_without_scorer_and_by_source_id(tmp_path, monkeypatch):
    """The page through app.py (AppTest) on the demo: the headline card, p-values in scientific
    notation, then no scorer and pairing by source id, with the side-by-side view still drawn."""
    demo = pytest.importorskip("prm_viewer.demo")
    from streamlit.testing.v1 import AppTest

    from prm_viewer.store import Store
    from tests.conftest import ROOT

    path = tmp_path / "demo.duckdb"
    with Store(path) as s:
        demo.load_demo(s)
    monkeypatch.setenv("PRM_VIEWER_DB", str(path))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page("pages/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [m.label for m in at.metric] == ["Accuracy, A − B", "Cohen's h (accuracy)", "Paired odds ratio",
                                            "Flawed-process rate, A − B"]
    assert any(s.value == "Did process rewards help?" for s in at.subheader)
    assert [b.value for b in at.button_group] == ["Accuracy"]  # one section drawn at a time
    at.button_group(key="cmp-section").set_value("Process quality").run()
    assert at.query_params.get("section") == "process"  # a link to the page opens this section
    tables = " ".join(str(d.value.to_dict()) for d in at.dataframe)
    assert "× 10⁻" in tables and "e-1" not in tables  # p-values such as 9.8 × 10⁻¹⁶, never 9.8e-16
    at.selectbox(key="cmp-scorer").set_value("(none)").run()
    at.radio(key="cmp-pair").set_value("source_id").run()
    at.button_group(key="cmp-section").set_value("Problems").run()
    assert not at.exception, [e.value for e in at.exception]
    texts = " ".join(t.value for t in at.text)
    assert "paired by source_id; no scorer." in texts and "first error: gold" in texts
