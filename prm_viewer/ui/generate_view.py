"""The Generate page's parts: pick a problem set, a policy checkpoint and sampling settings, choose
and preview the step-split rule, launch a generation job, and watch it (tokens/s, ETA, cancel,
retry, open the dataset in the Explorer).

Nothing heavy runs in the script thread: the job runs in a worker process launched by the app's
:class:`~prm_viewer.jobs.JobRunner` (math-verify's answer checks included, which need a main
thread); the page only reads files, the store and the job folder.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from prm_viewer import queries, settings
from prm_viewer.errors import PrmViewerError
from prm_viewer.generation import DEFAULT_SYSTEM, DEFAULT_TEMPLATE, SamplingSettings, split_steps
from prm_viewer.generation.dataset import job_rows, resplit_dataset
from prm_viewer.generation.policies import POLICY_BACKENDS
from prm_viewer.generation.problems import DEMO, MAP_FIELDS, load_problems
from prm_viewer.generation.submit import set_split_rule, submit_generation
from prm_viewer.store import Store
from prm_viewer.ui import auth, upload
from prm_viewer.ui.boundary import guarded
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain

if TYPE_CHECKING:
    from prm_viewer.jobs import JobRunner

SOURCES = ("Demo tasks (synthetic)", "Upload a problem file", "Problems of an imported dataset")
RULES = {"blankline": "Blank lines (\"\\n\\n\", as Qwen models write)", "newline": "Every line",
         "step_markers": "\"Step k:\" markers", "regex": "A regular expression"}
SAMPLE_TEXT = ("Step 1: Natalia sold 48 clips in April.\n\nStep 2: In May she sold half as many: 48 / 2 = 24.\n\n"
               "Step 3: Altogether 48 + 24 = 72.\nThe answer is \\boxed{72}.")
ACTIVE = ("queued", "running")
BADGE = {"queued": ":gray-badge[queued]", "running": ":blue-badge[running]", "done": ":green-badge[done]",
         "failed": ":red-badge[failed]", "cancelled": ":orange-badge[cancelled]",
         "interrupted": ":violet-badge[interrupted]"}
SHOWN_JOBS = 8


@dataclass
class ProblemChoice:
    """What the problem picker settled on: a ``load_problems`` source, or why there is none."""

    source: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    label: str = ""
    saved: Path | None = None
    """The saved copy of an upload (its errors are rewritten to the uploaded file's name)."""


def _message(exc: BaseException, choice: ProblemChoice) -> str:
    return upload.ui_message(exc, choice.saved, choice.label) if choice.saved is not None else str(exc)


def problem_picker(store: Store) -> ProblemChoice:
    """The problem-set widgets; returns the chosen source (``None`` until one is complete)."""
    kind = st.radio("Problem set", SOURCES, horizontal=True, key="gen_source")
    if kind == SOURCES[0]:
        return ProblemChoice(DEMO, label="the synthetic demo tasks")
    if kind == SOURCES[2]:
        datasets = cached(queries.datasets, store)
        if datasets.empty:
            st.info("No datasets imported yet.")
            return ProblemChoice()
        names = dict(zip(datasets["dataset_id"], datasets["name"]))
        did = st.selectbox("Dataset", list(names), format_func=lambda d: names[d], key="gen_dataset")
        return ProblemChoice(str(did), label=f"dataset {names[did]}") if did else ProblemChoice()
    st.caption("JSONL, JSON, CSV/TSV or Parquet. Detected: GSM8K (`question` + `answer` with `####`), MATH "
               "(`problem` + `solution` with `\\boxed{}`) or `problem` + `answer`; other files need a column mapping.")
    up = st.file_uploader("Problem file", type=upload.ACCEPTED, key="gen_upload")
    if up is None:
        return ProblemChoice()
    saved = st.session_state.get("gen_saved")
    if not saved or saved[0] != up.file_id or not Path(saved[1]).exists():
        path = upload.save_upload(up, up.name, settings.upload_dir(store.path))
        st.session_state["gen_saved"] = (up.file_id, str(path))
    path = Path(st.session_state["gen_saved"][1])
    mapping: dict[str, str] = {}
    with st.expander("Column mapping (only when the columns are not detected)"):
        cols = st.columns(len(MAP_FIELDS))
        for c, name in zip(cols, MAP_FIELDS):
            value = c.text_input(name, key=f"gen_map_{name}", placeholder="column")
            if value.strip():
                mapping[name] = value.strip()
    return ProblemChoice(str(path), mapping, label=up.name, saved=path)


def problems_preview(store: Store, choice: ProblemChoice, limit: int | None) -> int | None:
    """Show the problem count and the first problems; returns the count, or ``None`` on an error
    (shown in the upload's words)."""
    if choice.source is None:
        return None
    try:
        table, _ = load_problems(choice.source, store, choice.mapping or None, limit)
    except PrmViewerError as exc:
        st.error(plain(_message(exc, choice)))
        return None
    df = table.to_pandas()
    with_ref = int(df["reference_answer"].notna().sum())
    st.caption(f"{len(df):,} problems from {plain(choice.label)} · {with_ref:,} with a reference answer "
               "(answers are checked against it)")
    st.dataframe(df[["problem", "reference_answer", "category", "split"]].head(5), hide_index=True,
                 column_config={"problem": st.column_config.TextColumn(width="large")})
    return len(df)


def rule_picker(key: str, default: str = "blankline") -> str:
    """A split-rule choice (``blankline``, ``newline``, ``step_markers`` or ``regex:<pattern>``)."""
    names = list(RULES)
    base = default.split(":", 1)[0] if default.split(":", 1)[0] in RULES else "blankline"
    c1, c2 = st.columns([1, 2])
    kind = c1.selectbox("Step split rule", names, index=names.index(base), format_func=lambda r: RULES[r],
                        key=f"{key}_kind")
    if kind != "regex":
        return str(kind)
    pattern = c2.text_input("Pattern (Python regular expression)", value=default[6:] if default.startswith("regex:") else
                            r"\n(?=Step \d)", key=f"{key}_regex")
    return f"regex:{pattern}"


def split_preview(rule: str, texts: list[str], key: str) -> bool:
    """The steps of each text under ``rule`` (text shown as written, never as Markdown); returns
    whether the rule is valid (an invalid one is shown as an error)."""
    for n, text in enumerate(texts):
        try:
            steps = split_steps(text, rule)
        except PrmViewerError as exc:
            st.error(plain(str(exc)))
            return False
        st.caption(f"{'Sample ' + str(n + 1) + ': ' if len(texts) > 1 else ''}{len(steps)} step(s)")
        st.dataframe(pd.DataFrame({"step": range(len(steps)), "text": steps}), hide_index=True,
                     key=f"{key}_{n}", column_config={"text": st.column_config.TextColumn(width="large")})
    return True


def sampling_form() -> tuple[SamplingSettings | None, dict[str, Any]]:
    """Sampling settings and backend options; ``(None, ...)`` with the error shown when invalid."""
    c1, c2, c3, c4, c5 = st.columns(5)
    n = c1.number_input("Samples per problem (n)", 1, 1024, 4, key="gen_n")
    temperature = c2.number_input("Temperature", 0.0, 5.0, 0.7, 0.1, key="gen_temperature", help="0 = greedy")
    top_p = c3.number_input("Top-p", 0.01, 1.0, 1.0, 0.05, key="gen_top_p")
    max_new = c4.number_input("Max new tokens", 1, 32768, 1024, 64, key="gen_max_new_tokens")
    seed = c5.number_input("Seed", 0, 2**31 - 1, 0, key="gen_seed",
                           help="Each (problem, sample) draws with this seed plus a hash of its key, so a resumed "
                                "job draws the same samples.")
    c1, c2, c3, c4 = st.columns(4)
    backend = c1.selectbox("Backend", POLICY_BACKENDS, key="gen_backend")
    device = c2.selectbox("Device", ["auto", "cpu", "cuda"], key="gen_device")
    batch = c3.number_input("Batch size", 1, 4096, 16, key="gen_batch", help="Sequences decoded together (transformers).")
    limit = c4.number_input("Problems (0 = all)", 0, 10**7, 0, key="gen_limit", help="Use only the first N problems.")
    opts: dict[str, Any] = {"backend": backend, "device": device, "batch_size": int(batch),
                            "limit": int(limit) or None, "backend_options": {}}
    if backend == "vllm-server":
        urls = st.text_input("Endpoints (comma-separated URLs)", key="gen_endpoints", placeholder="http://gpu1:8000")
        opts["backend_options"] = {"endpoints": [u.strip() for u in urls.split(",") if u.strip()]}
    stop = st.text_input("Stop strings (comma-separated, optional)", key="gen_stop")
    try:
        s = SamplingSettings(n=int(n), temperature=float(temperature), top_p=float(top_p), max_new_tokens=int(max_new),
                             seed=int(seed), stop=tuple(x for x in (p.strip() for p in stop.split(",")) if x))
    except PrmViewerError as exc:
        st.error(plain(str(exc)))
        return None, opts
    return s, opts


def prompt_form() -> dict[str, Any]:
    """Prompt template, system message, chat-template switch."""
    template = st.text_area("Prompt template ({problem} is replaced by the problem text)", DEFAULT_TEMPLATE,
                            height=120, key="gen_template")
    c1, c2 = st.columns([3, 1])
    system = c1.text_input("System message (chat templates)", DEFAULT_SYSTEM, key="gen_system")
    chat = c2.checkbox("Use the tokenizer's chat template", True, key="gen_chat")
    return {"prompt_template": template, "system_prompt": system, "use_chat_template": chat}


def checkpoint_form() -> tuple[str, bool] | None:
    """The policy checkpoint and trust_remote_code; ``None`` (with why) when this user may not
    load checkpoints in the app (the same rule as registering a scorer)."""
    who = auth.admin_problem()
    if who is not None:
        st.info(who, icon=":material/lock:")
        return None
    roots = settings.list_setting("checkpoint_roots")
    ref = st.text_input("Policy checkpoint (local folder or hub id)", key="gen_checkpoint",
                        placeholder="/models/with_prm or Qwen/Qwen2.5-Math-1.5B-Instruct",
                        help=("Only checkpoints inside " + ", ".join(roots) + " (setting checkpoint_roots).") if roots else None)
    trust = st.checkbox("Allow trust_remote_code for this checkpoint", key="gen_trust")
    if trust:
        from prm_viewer.scoring.scorers import TRUST_REMOTE_CODE_HELP

        st.warning(TRUST_REMOTE_CODE_HELP, icon=":material/warning:")
    return ref.strip(), trust


def check_checkpoint(ref: str) -> str | None:
    """Why ``ref`` cannot be a policy (outside the allowed folders, no such folder, no config.json,
    not a causal LM), or ``None``. Reads only config.json; a hub id is checked by the worker."""
    from prm_viewer.scoring import checkpoints
    from prm_viewer.scoring.scorers import check_checkpoint_root

    if not ref:
        return "Enter a policy checkpoint."
    try:
        check_checkpoint_root(ref, settings.list_setting("checkpoint_roots"))
        if Path(ref).expanduser().exists() or ref.startswith((".", "/", "~")):
            ckpt = checkpoints.resolve(ref)
            if ckpt.model_kind != "causal-lm":
                return (f"checkpoint '{ref}' ({', '.join(ckpt.architectures) or 'no architecture declared'}) is not a "
                        "causal LM, so it cannot generate text")
    except PrmViewerError as exc:
        return str(exc)
    return None


def launch(store: Store, choice: ProblemChoice, checkpoint: str, trust: bool, sampling: SamplingSettings,
           opts: dict[str, Any], prompt: dict[str, Any], rule: str, name: str, tags: dict[str, str]) -> str | None:
    """Queue the job (the runner launches its worker); returns its id, or ``None`` with the error shown."""
    problem = check_checkpoint(checkpoint)
    if problem is not None:
        st.error(plain(problem))
        return None
    try:
        return submit_generation(
            store, str(choice.source), checkpoint, sampling, backend=opts["backend"], dataset_name=name or None,
            prompt_template=prompt["prompt_template"], system_prompt=prompt["system_prompt"] or None,
            use_chat_template=prompt["use_chat_template"], split_rule=rule, tags=tags, device=opts["device"],
            batch_size=opts["batch_size"], backend_options=opts["backend_options"], trust_remote_code=trust,
            mapping=choice.mapping or None, limit=opts["limit"])
    except PrmViewerError as exc:
        st.error(f"Not launched: {plain(_message(exc, choice))}")
        return None


def parse_tags(text: str) -> dict[str, str] | str:
    """``k=v, k2=v2`` as a dict, or the one-line reason it is not."""
    tags: dict[str, str] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep or not k.strip():
            return f"tag '{part}' is not KEY=VALUE"
        tags[k.strip()] = v.strip()
    return tags


def _num(v: Any) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def _duration(v: Any) -> str:
    x = _num(v)
    return "–" if x is None else str(timedelta(seconds=int(x)))


def finished_samples(job: dict[str, Any], k: int = 3) -> list[str]:
    """The first ``k`` completions a job has written so far (read from its shards)."""
    try:
        return [r["completion"] for r in job_rows(Path(job["job_dir"]), job["job_id"])[:k]]
    except (PrmViewerError, OSError, KeyError):
        return []


def _job_card(store: Store, job: dict[str, Any], runner: JobRunner, act: Callable[[Callable[[str], None], str], None]) -> None:
    settings_ = json.loads(job["settings"] or "{}")
    jid = job["job_id"]
    with st.container(border=True, key=f"gen_job_{jid}"):
        done, total = int(job["samples_done"] or 0), int(job["samples_total"] or 0)
        st.markdown(f"{BADGE.get(job['status'], plain(str(job['status'])))} **{plain(str(settings_.get('dataset_name') or jid))}** "
                    f"· {plain(str(settings_.get('checkpoint', '')))} · `{jid}`")
        st.progress(done / total if total else 0.0, text=f"{done:,} / {total:,} samples")
        tps = _num(job["tokens_per_s"])
        st.caption(f"tokens/s: {'–' if tps is None else f'{tps:,.1f}'} · "
                   f"ETA: {_duration(job['eta_s']) if job['status'] == 'running' else '–'} · "
                   f"backend: {plain(str(settings_.get('backend', '')))} · n={settings_.get('n')} · "
                   f"temperature={settings_.get('temperature')} · split rule: {plain(str(settings_.get('split_rule')))}")
        if job["status"] == "failed" and job["error"]:
            st.error(f"Failed: {plain(str(job['error']))}")
        c1, c2, c3 = st.columns([1, 1, 4])
        if job["status"] in ACTIVE and c1.button("Cancel", key=f"gen_cancel_{jid}", icon=":material/stop:"):
            act(runner.cancel, jid)
        if job["status"] in ("failed", "cancelled", "interrupted") and c2.button(
                "Retry", key=f"gen_retry_{jid}", icon=":material/replay:"):
            act(runner.retry, jid)
        if job["status"] == "done" and job["dataset_id"]:
            st.caption("Next: score it on the Library page (Checkpoints tab), then compare it with another run on Compare.")
            c3.page_link("pages/explorer.py", label=f"Open {plain(str(job['dataset']))} in the Explorer",
                         icon=":material/grid_view:", query_params={"ds": str(job["dataset_id"])})


def _act(fn: Callable[[str], None], job_id: str) -> None:
    fn(job_id)  # a PrmViewerError (the job finished meanwhile) is shown by the boundary
    st.rerun()


def live_generation_jobs(store: Store, runner: JobRunner) -> None:
    """The newest generation jobs; while any is active the fragment rereads them every second."""
    jobs = queries.generation_jobs(store)
    active = bool(jobs["status"].isin(ACTIVE).any()) if not jobs.empty else False

    @st.fragment(run_every=1.0 if active else None)
    @guarded
    def cards() -> None:
        current = queries.generation_jobs(store)
        if current.empty:
            st.caption("No generation jobs yet.")
            return
        for job in current.head(SHOWN_JOBS).to_dict("records"):
            _job_card(store, job, runner, _act)
        if bool(current["status"].isin(ACTIVE).any()) != active:
            st.rerun()  # start or stop polling (run_every is fixed per fragment definition)

    cards()


def resplit_form(store: Store) -> None:
    """Change a job's split rule before its dataset is written, or re-split a generated dataset
    into a new one, with a preview on its finished samples."""
    jobs = queries.generation_jobs(store)
    if jobs.empty:
        st.caption("Launch a job first; its finished samples are previewed here.")
        return
    labels = {j["job_id"]: f"{json.loads(j['settings'] or '{}').get('dataset_name') or j['job_id']} ({j['status']})"
              for j in jobs.to_dict("records")}
    jid = st.selectbox("Job", list(labels), format_func=lambda j: labels[j], key="gen_rs_job")
    job = jobs[jobs["job_id"] == jid].iloc[0].to_dict()
    current = json.loads(job["settings"] or "{}").get("split_rule", "blankline")
    rule = rule_picker("gen_rs_rule", current)
    texts = finished_samples(job)
    if not texts:
        st.caption("No finished samples yet.")
        return
    if not split_preview(rule, texts, "gen_rs_preview"):
        return
    if job["status"] != "done":
        if rule != current and st.button("Use this rule for the dataset", key="gen_rs_set"):
            set_split_rule(store, str(jid), rule)
            st.rerun()
        return
    if rule != current and st.button("Re-split into a new dataset", key="gen_rs_new"):
        did = resplit_dataset(store, str(job["dataset_id"]), rule)
        st.session_state["gen_resplit"] = did
    if st.session_state.get("gen_resplit"):
        ds = store.resolve_dataset(st.session_state["gen_resplit"])
        st.success(f"Dataset **{plain(ds['name'])}**: {ds['n_traces']:,} traces, {ds['n_steps']:,} steps.")
        st.page_link("pages/explorer.py", label="Open it in the Explorer", icon=":material/grid_view:",
                     query_params={"ds": str(ds["dataset_id"])})


__all__ = ["ProblemChoice", "check_checkpoint", "finished_samples", "launch", "live_generation_jobs", "parse_tags",
           "problem_picker", "problems_preview", "prompt_form", "resplit_form", "rule_picker", "sampling_form",
           "split_preview"]
