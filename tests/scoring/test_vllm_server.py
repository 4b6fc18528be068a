"""The ``vllm-server`` backend against real ``vllm serve`` processes (CPU build) on 127.0.0.1.

Five servers start once for the module, in parallel: two serving the tiny Qwen2.5-Math-PRM
(spreading and failures), one LM-head PRM serving both math-shepherd and rlhflow, and two causal
LMs (implicit PRM + its reference; the first is also the critic and the prover). Each is
started with ``serve_args`` (what the README tells users to run). The servers die mid-job in the
last two tests: with a second endpoint the job finishes; alone, the job fails with the reason
and every score stored before stays.
"""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from prm_viewer.errors import RecipeError
from prm_viewer.scoring import checkpoints
from prm_viewer.scoring.backends.vllm_server import serve_args
from prm_viewer.scoring.engine import ScorerSpec, load_engine, score_traces
from prm_viewer.scoring.recipes import TraceInput, get_recipe
from tests.scoring import test_implicit_prm as implicit
from tests.scoring import test_recipes as ref
from tests.scoring.test_critic import check_stored
from tests.scoring.test_vllm_helpers import Server, build_combo, build_qwen_lm

pytestmark = pytest.mark.vllm
TRACES = ref.TRACES + [TraceInput("d-4", "What is ки and <extra_0> here?", ["a ки b <extra_0> c = 2.", "So 2."])]


def _args(folder: Path, recipe: str) -> list[str]:
    ck = checkpoints.resolve(str(folder))
    return serve_args(get_recipe(recipe).prepare(checkpoints.load_tokenizer(ck), {}))


@pytest.fixture(scope="module")
def servers(tiny, tmp_path_factory):
    pytest.importorskip("vllm", reason="vllm is not installed (pip install -r requirements-vllm.txt)")
    root = tmp_path_factory.mktemp("served")
    combo = build_combo(root / "combo")
    gprm, gref = build_qwen_lm(root / "gprm", seed=11), build_qwen_lm(root / "gref", seed=12)
    qwen = tiny["qwen-prm"]
    started = {
        "qa": Server(qwen, root / "qa.log", *_args(qwen, "qwen-prm")),
        "qb": Server(qwen, root / "qb.log", *_args(qwen, "qwen-prm")),
        "combo": Server(combo, root / "combo.log", *_args(combo, "rlhflow")),  # no step tag: every row
        "gprm": Server(gprm, root / "gprm.log", max_len=2048),
        "gref": Server(gref, root / "gref.log", max_len=2048),
    }
    try:
        for s in started.values():
            s.wait()
        yield {"folders": {"qwen": qwen, "combo": combo, "gprm": gprm, "gref": gref}, **started}
    finally:
        for s in started.values():
            s.kill()


def _scores(engine, traces) -> dict:
    return {(r["trace_id"], r["step_idx"]): r["score"] for r in score_traces(engine, traces).to_pylist()}


@pytest.mark.parametrize("recipe, folder, server", [
    ("qwen-prm", "qwen", "qa"), ("math-shepherd", "combo", "combo"), ("rlhflow", "combo", "combo")])
def test_server_agrees_with_transformers(servers, recipe, folder, server):
    ckpt = str(servers["folders"][folder])
    tr = load_engine(ScorerSpec(recipe=recipe, checkpoint=ckpt, device="cpu"))
    sv = load_engine(ScorerSpec(recipe=recipe, checkpoint=ckpt, backend="vllm-server",
                                backend_options={"endpoints": [servers[server].url], "batch_traces": 2}))
    a, b = _scores(tr, TRACES), _scores(sv, TRACES)
    assert a.keys() == b.keys() and all(v is not None for v in b.values())
    assert max(abs(a[k] - b[k]) for k in a) < 1e-3
    assert sv.runner.max_length == 256  # --max-model-len, read from the server


def test_implicit_prm_through_two_servers(servers):
    f = servers["folders"]
    eng = load_engine(ScorerSpec(
        recipe="implicit-prm", checkpoint=str(f["gprm"]), backend="vllm-server",
        recipe_options={"reference": str(f["gref"]), "beta": implicit.BETA},
        backend_options={"endpoints": [servers["gprm"].url], "reference": {"endpoints": [servers["gref"].url]}}))
    rows = {(r["trace_id"], r["step_idx"]): (r["score"], r["raw"]) for r in score_traces(eng, implicit.TRACES).to_pylist()}
    implicit._check(rows, {t.trace_id: implicit.expected(f["gprm"], f["gref"], t, "single") for t in implicit.TRACES})


def test_critic_and_rollouts_through_a_server(servers):
    f = servers["folders"]
    opts = {"endpoints": [servers["gprm"].url]}
    critic = load_engine(ScorerSpec(recipe="critic", checkpoint=str(f["gprm"]), backend="vllm-server",
                                    recipe_options={"max_tokens": 16, "samples": 2, "temperature": 1.0}, backend_options=opts))
    check_stored(score_traces(critic, ref.TRACES).to_pylist(), ref.TRACES)
    demo = TraceInput("m", "[synthetic demo] Start with 7. Then add 5, multiply by 3. What is the result?",
                      ["7 + 5 = 12", "12 * 3 = 36"], reference_answer="36")
    mc = load_engine(ScorerSpec(recipe="mc-value", checkpoint=str(f["gprm"]), backend="vllm-server",
                                recipe_options={"rollouts": 2, "max_tokens": 4}, backend_options=opts))
    rows = score_traces(mc, [demo]).to_pylist()
    assert [r["score"] * 2 == round(r["score"] * 2) for r in rows] == [True, True]


def _pooled_prompt_tokens(url: str) -> float:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("vllm:prompt_tokens_total"))


def test_requests_spread_across_endpoints(servers):
    qa, qb = servers["qa"], servers["qb"]
    before = [_pooled_prompt_tokens(qa.url), _pooled_prompt_tokens(qb.url)]
    ckpt = str(servers["folders"]["qwen"])
    eng = load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=ckpt, backend="vllm-server",
                                 backend_options={"endpoints": [qa.url, qb.url], "concurrency": 2, "batch_traces": 1}))
    many = [TraceInput(f"s-{i}", t.problem, t.steps) for i in range(6) for t in ref.TRACES]
    got = _scores(eng, many)
    after = [_pooled_prompt_tokens(qa.url), _pooled_prompt_tokens(qb.url)]
    assert after[0] > before[0] and after[1] > before[1], (before, after)
    tr = _scores(load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=ckpt, device="cpu")), many)
    assert max(abs(tr[k] - got[k]) for k in tr) < 1e-3


def test_down_endpoint_and_other_model_are_clear_errors(servers):
    ckpt = str(servers["folders"]["qwen"])

    def load(**opts):
        return load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=ckpt, backend="vllm-server", backend_options=opts))

    with pytest.raises(RecipeError, match=r"127.0.0.1:9 is not reachable"):
        load(endpoints=["http://127.0.0.1:9"])
    with pytest.raises(RecipeError, match="serves another model: its tokenizer differs"):
        load(endpoints=[servers["combo"].url])
    with pytest.raises(RecipeError, match="serves another model .*not 'someone-else'"):
        load(endpoints=[servers["qa"].url], model="someone-else")
    with pytest.raises(RecipeError, match="needs at least one endpoint"):
        load()


def _job_until_first_shard_then_kill(store, scorer_id, dataset, kill, tmp_path):
    from prm_viewer.jobs import JobRunner
    from prm_viewer.scoring.worker import shard_paths

    runner = JobRunner(store, jobs_root=tmp_path / "jobs", max_workers=1)
    job_id = runner.submit(scorer_id, dataset, shard_traces=4)
    job_dir = Path(store.get_job(job_id)["job_dir"])
    end = time.monotonic() + 300
    while not shard_paths(job_dir):
        runner.poll()
        assert store.get_job(job_id)["status"] in ("queued", "running"), store.get_job(job_id)["error"]
        assert time.monotonic() < end
        time.sleep(0.02)
    kill()
    return runner.wait(job_id, interval=0.2), job_dir


def _close(got: dict, want: dict) -> None:
    """Same scored/unscored steps (over-long demo traces have unscored tails), scores within 1e-3."""
    assert {k for k in got if got[k] is None} == {k for k in got if want[k] is None}
    assert max(abs(got[k] - want[k]) for k in got if got[k] is not None) < 1e-3


def _stored(store, scorer_id) -> dict:
    rows = store.cursor().execute("SELECT trace_id, step_idx, score FROM step_scores WHERE scorer_id = ?",
                                  [scorer_id]).fetchall()
    return {(t, k): s for t, k, s in rows}


def _expected(store, dataset_id, ckpt) -> dict:
    from prm_viewer import queries

    tab = queries.scoring_traces(store, dataset_id).to_pylist()
    traces = [TraceInput(r["trace_id"], r["problem"], r["steps"]) for r in tab]
    return _scores(load_engine(ScorerSpec(recipe="qwen-prm", checkpoint=ckpt, device="cpu")), traces)


def _demo_prefixes(store, tmp_path, n: int = 40) -> list[dict]:
    """The first ``n`` traces of each demo run (10 shards of 4: the kill lands mid-job)."""
    from prm_viewer.demo import demo_records
    from prm_viewer.demo.format import DemoFormat
    from prm_viewer.ingest import import_file

    out = []
    for policy, records in demo_records():
        path = tmp_path / f"{policy.dataset}.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records[:n]))
        out.append(store.resolve_dataset(import_file(store, path, fmt=DemoFormat(), name=policy.dataset).name))
    return out


def test_server_dies_mid_job(servers, store, tmp_path):
    from prm_viewer.scoring.scorers import register_scorer

    ckpt = str(servers["folders"]["qwen"])
    ds = _demo_prefixes(store, tmp_path)
    slow = {"concurrency": 1, "batch_traces": 1, "retries": 3, "backoff_s": 0.1, "timeout_s": 15}

    # two endpoints, one dies: its requests go to the other and the job finishes
    both = register_scorer(store, ckpt, recipe="qwen-prm", backend="vllm-server",
                           backend_options={"endpoints": [servers["qa"].url, servers["qb"].url], **slow})
    job, _ = _job_until_first_shard_then_kill(store, both["scorer_id"], ds[0]["dataset_id"], servers["qb"].kill, tmp_path)
    assert job["status"] == "done", job
    want = _expected(store, ds[0]["dataset_id"], ckpt)
    got = _stored(store, both["scorer_id"])
    assert got.keys() == want.keys()
    _close(got, want)

    # the only endpoint dies: the job fails with the reason; what was stored stays, exactly once
    alone = register_scorer(store, ckpt, recipe="qwen-prm", backend="vllm-server", name="alone",
                            backend_options={"endpoints": [servers["qa"].url], **slow})
    job, job_dir = _job_until_first_shard_then_kill(store, alone["scorer_id"], ds[1]["dataset_id"], servers["qa"].kill,
                                                    tmp_path)
    assert job["status"] == "failed" and "vllm-server" in job["error"], job
    got = _stored(store, alone["scorer_id"])
    n_rows = store.cursor().execute("SELECT count(*) FROM step_scores WHERE scorer_id = ?", [alone["scorer_id"]]).fetchone()[0]
    assert got and n_rows == len(got), "scores of finished shards are kept, none twice"
    want = _expected(store, ds[1]["dataset_id"], ckpt)
    assert len(got) < len(want)
    _close(got, want)
    assert len({k[0] for k in got}) % 4 == 0, "whole shards of 4 traces"


def test_options_and_environment_override(monkeypatch):
    from prm_viewer.scoring.backends.vllm_server import ServerOptions

    o = ServerOptions.parse({"endpoints": "http://a:1, http://b:2/", "concurrency": 3})
    assert o.endpoints == ["http://a:1", "http://b:2"] and o.concurrency == 3
    with pytest.raises(RecipeError, match="not an http"):
        ServerOptions.parse({"endpoints": ["gpu1:8000"]})
    with pytest.raises(RecipeError, match="no option speed"):
        ServerOptions.parse({"endpoints": ["http://a:1"], "speed": 2})
    monkeypatch.setenv("PRM_VIEWER_VLLM_ENDPOINTS", "http://moved:9")
    assert ServerOptions.parse({"endpoints": ["http://a:1"]}).endpoints == ["http://moved:9"]
    assert ServerOptions.parse({"endpoints": ["http://a:1"], "role": "reference"}).endpoints == ["http://a:1"]


def test_serve_args_carry_the_recipe_facts_from_the_tokenizer(tiny):
    qwen = _args(tiny["qwen-prm"], "qwen-prm")
    tag = checkpoints.load_tokenizer(checkpoints.resolve(str(tiny["qwen-prm"]))).convert_tokens_to_ids("<extra_0>")
    assert json.loads(qwen[qwen.index("--pooler-config") + 1])["step_tag_id"] == tag
    shep = _args(tiny["shepherd"], "math-shepherd")
    assert shep[shep.index("--convert") + 1] == "classify"
    assert json.loads(shep[shep.index("--hf-overrides") + 1])["classifier_from_token"] == ["+", "-"]
