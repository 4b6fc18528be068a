"""Hardening (issue 12), items 1, 3, 4, 5, 7, 8, 10 outside the browser (the browser tests for
1, 3, 5 and 9 are in tests/e2e/test_hardening.py).

Each test names its item. The checks are independent of the code under test: Markdown is
rendered by markdown-it-py (a CommonMark implementation of its own), pids come from the
processes the test starts, folders are looked at on disk, and expected texts are written out."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from markdown_it import MarkdownIt

from prm_viewer.errors import PrmViewerError, StoreBusy
from prm_viewer.store import Store
from tests.conftest import ROOT

PAYLOADS = [
    "![p](http://127.0.0.1:9/img.png)",
    "[go](http://127.0.0.1:9/link)",
    "[d](data:text/html;base64,PHNjcmlwdD4=)",
    "<http://127.0.0.1:9/auto>",
    "[ref][1]\n\n[1]: http://127.0.0.1:9/ref",
    "![r][img]\n\n[img]: http://127.0.0.1:9/refimg.png",
    "text[^1]\n\n[^1]: a footnote",
    "<img src=http://127.0.0.1:9/raw.png>",
    "<a href='http://127.0.0.1:9/raw'>raw</a>",
    "\\[go](http://127.0.0.1:9/escaped-open)",
    "\\\\[go](http://127.0.0.1:9/escaped-backslash)",
    "`code` [go](http://127.0.0.1:9/after-code) `x`",
    "`[in](http://127.0.0.1:9/in-code)`",
    "$x$ [go](http://127.0.0.1:9/after-math) $y$",
    "$$\n[in](http://127.0.0.1:9/in-display-math)\n$$",
    "- $$\n[go](http://127.0.0.1:9/list-math)\n$$",
    "- ```\n[go](http://127.0.0.1:9/list-fence)\n```",
]


def _html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


# ---------------------------------------------------------------- item 1: inert Markdown


@pytest.mark.parametrize("payload", PAYLOADS)
def test_item1_no_link_image_or_html_survives_step_markdown(payload: str) -> None:
    from prm_viewer.ui.text import plain, safe_markdown

    for shown in (safe_markdown(payload), plain(payload)):
        html = _html(shown)
        assert not re.search(r"<(a|img)\b", html), (payload, shown, html)


# Streamlit's Markdown runs GFM's autolink-literal pass over the parsed text (these are its two
# patterns, from mdast-util-gfm-autolink-literal as bundled in Streamlit's StreamlitMarkdown.js).
STREAMLIT_URL = re.compile(r"(https?://|www(?=\.))([-.\w]+)", re.I)
STREAMLIT_EMAIL = re.compile(r"(?:^|(?<=\s)|(?<=[^\w\s]))([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)")


@pytest.mark.parametrize("payload", [*PAYLOADS, "see http://127.0.0.1:9/bare or www.example.org or a.b@example.org"])
def test_item1_no_url_is_left_for_streamlit_to_link(payload: str) -> None:
    from html import unescape

    from prm_viewer.ui.text import plain, safe_markdown

    for shown in (safe_markdown(payload), plain(payload)):
        text = unescape(re.sub(r"<[^>]+>", " ", _html(shown)))
        assert not STREAMLIT_URL.search(text) and not STREAMLIT_EMAIL.search(text), (payload, text)


def test_item1_formatting_and_math_stay_in_step_text() -> None:
    from prm_viewer.ui.text import safe_markdown

    html = _html(safe_markdown("**bold** and *it* `a[0] < b` so $x<y$ and \\(\\frac12\\)"))
    assert "<strong>bold</strong>" in html and "<em>it</em>" in html
    # code keeps its text (a zero-width space breaks only the link-making sequences)
    assert "<code>a[0] &lt;\u200b b</code>" in html
    # math reaches KaTeX as LaTeX: < as \lt, \( \) as $ $
    assert "$x\\lt y$" in html and "$\\frac12$" in html


def test_item1_names_show_exactly_as_written() -> None:
    from prm_viewer.ui.text import plain, plotly_text

    name = "run-*1*_[a](http://x) $5 <b>#"
    html = _html(plain(name))
    # markdown-it renders the text back, entity-encoded: nothing became markup
    # (with an invisible word joiner inside "://", which Streamlit's URL pass would link otherwise)
    assert html == "<p>run-*1*_[a](http:\u2060//x) $5 &lt;b&gt;#</p>\n"
    assert plotly_text("<a href='http://x'>x</a> & y") == "&lt;a href='http://x'&gt;x&lt;/a&gt; &amp; y"


def test_item1_heatmap_labels_are_escaped_for_plotly() -> None:
    from prm_viewer.ui.heatmap import heatmap_figure

    page = pd.DataFrame({"trace_id": ["t1"], "dataset": ["<a href='http://127.0.0.1:9/x'>ds</a>"], "ordinal": [0],
                         "n_steps": [2], "gold_first_error": [1], "pred_first_error": [-1]})
    scores = pd.DataFrame({"trace_id": ["t1"], "step_idx": [0], "score": [0.9]})
    fig = heatmap_figure(page, scores, 0.5, "<img src=http://127.0.0.1:9/s.png>")
    text = fig.to_json()
    assert "<a href" not in text and "<img" not in text


# ---------------------------------------------------------------- item 5: huge traces


def test_item5_heatmap_caps_columns_with_a_marker() -> None:
    from prm_viewer.ui.heatmap import heatmap_figure

    page = pd.DataFrame({"trace_id": ["long", "short"], "dataset": ["d", "d"], "ordinal": [0, 1],
                         "n_steps": [200_000, 5], "gold_first_error": [170_000, 2], "pred_first_error": [3, -1]})
    scores = pd.DataFrame({"trace_id": ["long"] * 200, "step_idx": list(range(200)), "score": [0.7] * 200})
    fig = heatmap_figure(page, scores, 0.5, "s", max_columns=150)
    cells = sum(len(t.x) for t in fig.data if t.name in ("step score", "not scored"))
    assert cells == 150 + 5  # the long trace is cut at 150 columns
    (marker,) = [t for t in fig.data if t.name.startswith("more steps")]
    assert list(marker.x) == [150] and list(marker.y) == [0]
    assert "199,850 more steps" in marker.customdata[0][3] and "gold first error at step 170,000" in marker.customdata[0][3]
    # the cut marker is clickable like a cell: it opens the trace at the first step not drawn
    assert (marker.customdata[0][0], marker.customdata[0][1]) == ("long", 150)
    # the short row's gold first error is drawn; the long row's (beyond the cut) is not
    (gold,) = [t for t in fig.data if t.name == "gold first error"]
    assert list(gold.x) == [2]
    assert fig.layout.xaxis.range[1] < 152


def test_item5_trace_reads_page_the_steps(store: Store) -> None:
    from prm_viewer import queries

    _one_trace(store, 1000)
    tid = store.cursor().execute("SELECT trace_id FROM traces").fetchone()[0]
    steps = queries.trace_steps(store, tid, 500, 50)
    assert list(steps["step_idx"]) == list(range(500, 550))
    assert list(steps["text"])[:2] == ["step 500", "step 501"]
    scores, preds = queries.trace_scores_and_predictions(store, tid, 500, 50)
    assert list(scores["step_idx"]) == list(range(500, 550))
    # the prediction needs every step: the first score below 0.5 is at step 700, outside this page
    assert int(preds["predicted_first_error"].iloc[0]) == 700
    assert len(queries.trace_steps(store, tid)) == 1000


def _one_trace(store: Store, n: int) -> None:
    import json

    from prm_viewer.ingest import import_file

    src = store.path.parent / "long.jsonl"
    src.write_text(json.dumps({"id": "L", "problem": "p", "steps": [f"step {k}" for k in range(n)], "label": 600}) + "\n")
    report = import_file(store, src, name="long")
    tid = store.cursor().execute("SELECT trace_id FROM traces WHERE dataset_id = ?", [report.dataset_id]).fetchone()[0]
    store.upsert_scorer({"scorer_id": "s-long", "name": "long-prm", "recipe": "imported", "threshold": 0.5})
    store.insert_step_scores(pd.DataFrame({
        "scorer_id": "s-long", "trace_id": tid, "step_idx": range(n),
        "score": [0.2 if k == 700 else 0.9 for k in range(n)], "raw": None, "note": None}))


# ---------------------------------------------------------------- item 3: who holds the store


HOLDER = textwrap.dedent("""
    import sys, time
    sys.argv = [sys.argv[1], "import", "runs/big.jsonl", "--dataset", "big"]
    from prm_viewer.store import Store
    s = Store({db!r})
    print("ready", flush=True)
    time.sleep(120)
""")


def _hold(db: Path) -> subprocess.Popen[str]:
    main = str(ROOT / "prm_viewer" / "__main__.py")
    proc = subprocess.Popen([sys.executable, "-c", HOLDER.format(db=str(db)), main], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def test_item3_busy_store_names_the_cli_command_and_its_pid(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    proc = _hold(db)
    try:
        with pytest.raises(StoreBusy) as err:
            Store(db)
        msg = str(err.value)
        assert f"held by another process, the CLI command `python -m prm_viewer import runs/big.jsonl --dataset big` (pid {proc.pid})" in msg
        assert "probably the app" not in msg and "\n" not in msg
    finally:
        proc.kill()
        proc.wait()
    # the killed holder left its side file behind; the store opens, and takes the file over
    with Store(db) as s:
        assert s.schema_version() > 0
        assert f'"pid": {os.getpid()}' in (tmp_path / "held.duckdb.holder.json").read_text()
    assert not (tmp_path / "held.duckdb.holder.json").exists()  # removed at close


def test_item3_cli_names_the_app_as_holder(tmp_path: Path) -> None:
    db = tmp_path / "app.duckdb"
    code = textwrap.dedent(f"""
        from prm_viewer.store import Store
        from prm_viewer.store.base import APP_HOLDER
        s = Store({str(db)!r}, owner=APP_HOLDER + " (streamlit run app.py)")
        print("ready", flush=True)
        import time; time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        out = subprocess.run([sys.executable, "-m", "prm_viewer", "--db", str(db), "list"], cwd=ROOT,
                             capture_output=True, text=True)
        assert out.returncode == 2
        line = out.stderr.strip()
        assert "Traceback" not in line and len(line.splitlines()) == 1
        assert f"held by another process, the prm_viewer app (streamlit run app.py) (pid {proc.pid})" in line
        assert "or do this from the app" in line
    finally:
        proc.kill()
        proc.wait()


def test_item3_page_says_who_holds_the_store_without_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    db = tmp_path / "page.duckdb"
    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    proc = _hold(db)
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.switch_page("pages/explorer.py")
        at.run()
        assert not at.exception
        # the message is Markdown-escaped (it quotes a path and a command): read it unescaped
        warnings = [re.sub(r"\\(.)", r"\1", w.value).replace("\u2060", "") for w in at.warning]
        held = f"held by another process, the CLI command `python -m prm_viewer import runs/big.jsonl --dataset big` (pid {proc.pid})"
        assert any(held in w for w in warnings), warnings
        assert any("opens by itself" in w for w in warnings)
        assert not at.error
    finally:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- items 4, 7, 8: jobs and scorers


@pytest.fixture
def demo_store(tmp_path: Path):
    from prm_viewer.demo import load_demo

    s = Store(tmp_path / "demo.duckdb")
    names = load_demo(s)
    yield s, names
    s.close()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_item4_job_whose_owner_and_worker_died_is_interrupted_then_resumed(demo_store, tmp_path: Path) -> None:
    from prm_viewer.jobs import JobRunner
    from prm_viewer.scoring.scorers import register_scorer

    store, names = demo_store
    sc = register_scorer(store, None, recipe="verifier", name="v")
    owner = JobRunner(store, jobs_root=tmp_path / "jobs", max_workers=1)
    job_id = owner.submit(sc["scorer_id"], names[0])
    owner.poll()  # launches the worker
    job = store.get_job(job_id)
    assert job is not None and job["status"] == "running"
    os.kill(int(job["pid"]), signal.SIGKILL)  # the worker dies...
    owner._procs.clear()  # ...and so does its owner: a new owner knows only the row
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.waitpid(int(job["pid"]), os.WNOHANG)
        except ChildProcessError:
            break
        time.sleep(0.05)
    assert not (tmp_path / "jobs" / job_id / "status.json").exists()

    # `jobs` (refresh) records it as interrupted, not failed
    JobRunner(store, jobs_root=tmp_path / "jobs").refresh()
    job = store.get_job(job_id)
    assert job is not None and job["status"] == "interrupted", job
    # `resume` (and the app at start) runs it again, to the end
    runner = JobRunner(store, jobs_root=tmp_path / "jobs", max_workers=1)
    assert runner.resume() == [job_id]
    done = runner.wait(job_id)
    assert done["status"] == "done"
    n = store.cursor().execute("SELECT count(*) FROM step_scores WHERE scorer_id = ?", [sc["scorer_id"]]).fetchone()[0]
    steps = store.cursor().execute(
        "SELECT sum(t.n_steps) FROM traces t JOIN datasets d USING (dataset_id) WHERE d.name = ?", [names[0]]).fetchone()[0]
    assert n == steps  # every step scored once


def test_item4_dead_adopted_worker_is_interrupted(demo_store, tmp_path: Path) -> None:
    from prm_viewer.jobs import JobRunner
    from prm_viewer.scoring.scorers import register_scorer

    store, names = demo_store
    sc = register_scorer(store, None, recipe="verifier")
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    job_id = runner.submit(sc["scorer_id"], names[1])
    store.update_job(job_id, status="running", pid=_dead_pid())
    runner.refresh()
    assert store.get_job(job_id)["status"] == "interrupted"
    runner.retry(job_id)
    assert store.get_job(job_id)["status"] == "queued"


def test_item7_a_new_name_for_a_known_configuration_is_reported(demo_store) -> None:
    from prm_viewer.scoring.scorers import register_scorer, scorer_spec

    store, _ = demo_store
    first = register_scorer(store, None, recipe="verifier", name="first", batch_tokens=4096)
    again = register_scorer(store, None, recipe="verifier", name="second", batch_tokens=8192)
    assert again["scorer_id"] == first["scorer_id"] and again["name"] == "first"
    assert any("already registered as scorer 'first'" in n and "not 'second'" in n for n in again["notes"])
    assert any("now batches 8192 tokens (was 4096)" in n for n in again["notes"])
    assert scorer_spec(store.resolve_scorer("first")).batch_tokens == 8192
    assert store.scorer_by_name("second") is None
    same = register_scorer(store, None, recipe="verifier", name="first")
    assert same["notes"] == []


def test_item7_cli_score_says_so(tmp_path: Path) -> None:
    db = str(tmp_path / "cli.duckdb")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "prm_viewer", "--db", db, *args], cwd=ROOT, capture_output=True,
                              text=True, env={**os.environ, "PRM_VIEWER_JOBS_DIR": str(tmp_path / "jobs")})

    assert cli("demo", "--synthetic").returncode == 0
    ds = "synthetic-demo-with-process-reward"
    assert cli("score", "--dataset", ds, "--recipe", "verifier", "--name", "exact").returncode == 0
    out = cli("score", "--dataset", ds, "--recipe", "verifier", "--name", "other", "--batch-tokens", "1234")
    assert out.returncode == 0, out.stderr
    assert "note: this configuration is already registered as scorer 'exact'" in out.stdout
    assert "now batches 1234 tokens" in out.stdout


def test_item8_deleting_a_dataset_deletes_its_job_folders(demo_store, tmp_path: Path) -> None:
    from prm_viewer.jobs import JobRunner
    from prm_viewer.scoring.scorers import register_scorer

    store, names = demo_store
    sc = register_scorer(store, None, recipe="verifier")
    runner = JobRunner(store, jobs_root=tmp_path / "jobs")
    mine = runner.submit(sc["scorer_id"], names[0])
    other = runner.submit(sc["scorer_id"], names[1])
    assert (tmp_path / "jobs" / mine / "traces.parquet").exists()
    gone = store.delete_dataset(names[0])
    assert not (tmp_path / "jobs" / mine).exists()
    assert (tmp_path / "jobs" / other / "traces.parquet").exists()  # another dataset's folder stays
    assert gone["job_dirs_removed"] == [str(tmp_path / "jobs" / mine)] and gone["job_dirs_left"] == []


# ---------------------------------------------------------------- item 10: a guarded deployment


@pytest.mark.parametrize(("address", "login", "anonymous", "refused"), [
    ("127.0.0.1", False, False, False), ("localhost", False, False, False), ("::1", False, False, False),
    ("0.0.0.0", False, False, True), ("", False, False, True), (None, False, False, True),
    ("192.168.1.5", False, False, True), ("viewer.lab.org", False, False, True),
    ("0.0.0.0", True, False, False), ("0.0.0.0", False, True, False),
])
def test_item10_deployment_guard(address: str | None, login: bool, anonymous: bool, refused: bool) -> None:
    from prm_viewer.ui.auth import deployment_problem

    problem = deployment_problem(address, login, anonymous)
    assert (problem is not None) == refused
    if refused:
        assert "PRM_VIEWER_ALLOW_ANONYMOUS=true" in problem and "[auth]" in problem


def _app(monkeypatch: pytest.MonkeyPatch, db: Path, address: str, page: str = "library"):  # type: ignore[no-untyped-def]
    from streamlit import config
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("PRM_VIEWER_DB", str(db))
    monkeypatch.setenv("PRM_VIEWER_DEMO_ON_EMPTY", "0")
    old = config.get_option("server.address")
    config.set_option("server.address", address)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.switch_page(f"pages/{page}.py")
    return at, old


def test_item10_app_refuses_a_network_address_without_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    at, old = _app(monkeypatch, tmp_path / "g.duckdb", "0.0.0.0")
    try:
        at.run()
        assert not at.exception
        assert any("refuses to serve on 0.0.0.0 without a login" in e.value for e in at.error)
        assert not (tmp_path / "g.duckdb").exists()  # nothing was opened
        monkeypatch.setenv("PRM_VIEWER_ALLOW_ANONYMOUS", "true")
        at.run()
        assert not at.error and (tmp_path / "g.duckdb").exists()
        # anonymous on a network: no checkpoint registration in the app
        assert any("registering checkpoints and enabling trust_remote_code are off here" in i.value for i in at.info)
        assert not [t for t in at.text_input if t.key == "ck_ref"]
    finally:
        config.set_option("server.address", old)


def test_item10_with_login_only_admins_register_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    at, old = _app(monkeypatch, tmp_path / "l.duckdb", "0.0.0.0")
    try:
        at.secrets["auth"] = {"redirect_uri": "http://x/oauth2callback", "cookie_secret": "s", "client_id": "c",
                              "client_secret": "c", "server_metadata_url": "http://x/.well-known/openid-configuration"}
        monkeypatch.setenv("PRM_VIEWER_ADMINS", "boss@lab.org")
        at.user = {"is_logged_in": True, "email": "user@lab.org"}
        at.run()
        assert not at.exception and not at.error
        assert any("limited to this app's admins" in i.value for i in at.info)
        assert not [t for t in at.text_input if t.key == "ck_ref"]
        at.user = {"is_logged_in": True, "email": "boss@lab.org"}
        at.run()
        assert [t for t in at.text_input if t.key == "ck_ref"] and [c for c in at.checkbox if c.key == "ck_trust"]
    finally:
        config.set_option("server.address", old)


def test_item10_checkpoint_roots(tmp_path: Path) -> None:
    from prm_viewer.scoring.scorers import check_checkpoint_root

    root, outside = tmp_path / "ckpts", tmp_path / "elsewhere"
    (root / "prm").mkdir(parents=True)
    outside.mkdir()
    (root / "escape").symlink_to(outside)
    check_checkpoint_root(str(root / "prm"), [str(root)])
    check_checkpoint_root(str(outside), [])  # no roots: anything goes
    for bad in (outside, root / "escape", root / "prm" / ".." / ".." / "elsewhere", "Qwen/Qwen2.5-Math-PRM-7B"):
        with pytest.raises(PrmViewerError, match="checkpoint_roots"):
            check_checkpoint_root(str(bad), [str(root)])


def test_item10_readme_documents_the_guard() -> None:
    readme = (ROOT / "README.md").read_text()
    serving = readme[readme.index("## Serving to a lab"):]
    for phrase in ("PRM_VIEWER_ALLOW_ANONYMOUS", "PRM_VIEWER_ADMINS", "PRM_VIEWER_CHECKPOINT_ROOTS", "refuses to"):
        assert phrase in serving, phrase
    docker = (ROOT / "Dockerfile").read_text()
    assert "PRM_VIEWER_CHECKPOINT_ROOTS" in docker
