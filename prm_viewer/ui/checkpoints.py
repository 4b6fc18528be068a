"""The Library's Checkpoints tab: registered scorers, register a checkpoint, queue scoring jobs.

Registration goes through ``prm_viewer.scoring.scorers.register_scorer`` (it reads the config and
tokenizer, never the weights); jobs through the app's :class:`~prm_viewer.jobs.JobRunner`, whose
workers are separate processes, so nothing heavy runs in the page script.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import streamlit as st

from prm_viewer import queries, settings
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import Store
from prm_viewer.ui import auth
from prm_viewer.ui.state import cached, get_runner
from prm_viewer.ui.text import plain

if TYPE_CHECKING:
    from prm_viewer.jobs import JobRunner

AUTO = "(auto-detect)"
DEFAULT = "(default for the recipe)"


def scorers_table(store: Store) -> None:
    scorers = cached(queries.scorers, store)
    if scorers.empty:
        st.info("No scorers yet: register a checkpoint below.")
        return
    table = scorers.assign(name=[n + ("  (synthetic)" if s else "") for n, s in zip(scorers["name"], scorers["synthetic"])])
    st.dataframe(table[["name", "recipe", "backend", "checkpoint", "threshold", "created_at"]], hide_index=True,
                 column_config={"created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm")})


def _detect(ref: str, trust_remote_code: bool) -> dict[str, Any]:
    from prm_viewer.scoring import checkpoints

    ckpt = checkpoints.resolve(ref)
    tokenizer = checkpoints.load_tokenizer(ckpt, trust_remote_code)
    return {"ref": ref, "recipe": checkpoints.detect_recipe(ckpt, tokenizer), "path": str(ckpt.path),
            "architectures": list(ckpt.architectures)}


def dtype_choices(backend: str | None) -> list[str]:
    """The explicit precisions ``backend`` accepts (besides ``auto``); for the recipe's default
    backend, those any backend accepts (the backend the recipe picks checks the choice)."""
    from prm_viewer.scoring.backends import backend_dtypes, backend_names

    names = [backend] if backend is not None else backend_names()
    return list(dict.fromkeys(d for name in names for d in backend_dtypes(name)))


def delete_dataset(store: Store, dataset_id: str) -> dict[str, Any]:
    """Cancel the dataset's active jobs (their workers write into folders about to go), then
    delete it with its job folders (``Store.delete_dataset``); returns what it removed."""
    runner = get_runner()
    for job in store.jobs_with_status(["queued", "running"]):
        if job["dataset_id"] == dataset_id:
            runner.cancel(job["job_id"])
    return store.delete_dataset(dataset_id)


def deleted_message(gone: dict[str, Any] | None) -> None:
    """Say what a deletion removed, and where any job folder that could not be removed is."""
    if not gone:
        return
    folders = len(gone.get("job_dirs_removed", []))
    st.success(f"Deleted **{plain(gone['name'])}**" + (f" and its {folders} job folder(s)" if folders else "") + ".")
    for left in gone.get("job_dirs_left", []):
        st.warning(f"A job folder of it could not be removed and still holds copies of its traces: `{plain(left)}`")


def register_form(store: Store) -> None:
    from prm_viewer.scoring.backends import backend_names
    from prm_viewer.scoring.recipes import RECIPES
    from prm_viewer.scoring.scorers import TRUST_REMOTE_CODE_HELP, check_checkpoint_root, register_scorer

    st.markdown("**Register a checkpoint**")
    who = auth.admin_problem()
    if who is not None:
        st.info(who, icon=":material/lock:")
        return
    roots = settings.list_setting("checkpoint_roots")
    ref = st.text_input("Checkpoint (local folder or hub id)", key="ck_ref",
                        placeholder="/models/Qwen2.5-Math-PRM-7B or Qwen/Qwen2.5-Math-PRM-7B",
                        help=("Only checkpoints inside " + ", ".join(roots) + " (setting checkpoint_roots).") if roots else None)
    trust = st.checkbox("Allow trust_remote_code for this checkpoint", key="ck_trust")
    if trust:
        st.warning(TRUST_REMOTE_CODE_HELP, icon=":material/warning:")
    detected = st.session_state.get("ck_detected")
    if ref.strip() and (detected is None or detected["ref"] != ref.strip()):
        try:
            check_checkpoint_root(ref.strip(), roots)
            with st.spinner("Reading the checkpoint's config and tokenizer…"):
                detected = _detect(ref.strip(), trust)
            st.session_state["ck_detected"] = detected
        except PrmViewerError as exc:
            detected = None
            st.session_state.pop("ck_detected", None)
            st.error(plain(str(exc)))
    if detected is not None:
        st.success(f"Detected recipe: **{plain(detected['recipe'])}** · architectures: "
                   f"{plain(', '.join(detected['architectures']) or 'none listed')} · folder: {plain(detected['path'])}")
    recipes = [AUTO, *RECIPES]
    c1, c2, c3, c4, c5 = st.columns(5)
    recipe = c1.selectbox("Recipe", recipes, key="ck_recipe", help="Auto-detect reads config.json and the tokenizer.")
    backends = [DEFAULT, *backend_names()]
    backend = c2.selectbox("Backend", backends, key="ck_backend")
    device = c3.selectbox("Device", ["auto", "cpu", "cuda"], key="ck_device")
    dtype = c4.selectbox("Precision", ["auto", *dtype_choices(None if backend == DEFAULT else backend)], key="ck_dtype",
                         help="auto: bfloat16 on a GPU, float32 on CPU. bfloat16 on a CPU with native bf16 "
                              "is ~1.6-1.9x faster here; its scores differ by ~1e-2.")
    threshold = c5.number_input("Threshold", 0.0, 1.0, float(settings.get("threshold")), 0.05, key="ck_threshold",
                                help="A step scoring below it is a predicted error.")
    name = st.text_input("Scorer name (optional)", key="ck_name", placeholder="default: recipe:folder")
    if st.button("Register scorer", type="primary", key="ck_register"):
        try:
            check_checkpoint_root(ref.strip(), roots)
            with st.spinner("Registering…"):
                row = register_scorer(store, ref.strip() or None, recipe=None if recipe == AUTO else recipe,
                                      backend=None if backend == DEFAULT else backend, device=device, dtype=dtype,
                                      threshold=float(threshold), name=name.strip() or None, trust_remote_code=trust)
            st.session_state["ck_registered"] = row["name"]
            st.rerun()
        except PrmViewerError as exc:
            st.error(f"Not registered: {plain(str(exc))}")
    if st.session_state.get("ck_registered"):
        st.success(f"Registered scorer **{plain(st.session_state['ck_registered'])}**. Queue it below.")


def queue_form(store: Store, runner: JobRunner) -> None:
    from prm_viewer.scoring.recipes import RECIPES

    st.markdown("**Queue scoring jobs**")
    scorers = cached(queries.scorers, store)
    runnable = scorers[scorers["recipe"].isin(list(RECIPES)) & ~scorers["synthetic"].astype(bool)]
    datasets = cached(queries.datasets, store)
    if runnable.empty or datasets.empty:
        st.caption("Register a scorer and import a dataset first.")
        return
    sc_names = dict(zip(runnable["scorer_id"], runnable["name"]))
    ds_names = dict(zip(datasets["dataset_id"], datasets["name"]))
    registered = st.session_state.get("ck_registered")
    ids = list(sc_names)
    default = next((i for i, s in enumerate(ids) if sc_names[s] == registered), 0)
    scorer = st.selectbox("Scorer", ids, index=default, format_func=lambda s: sc_names[s], key="ck_job_scorer")
    chosen = st.multiselect("Datasets", list(ds_names), format_func=lambda d: ds_names[d], key="ck_job_datasets")
    if st.button("Queue scoring", type="primary", key="ck_queue", disabled=not chosen) and scorer is not None:
        queued = []
        try:
            for did in chosen:
                queued.append(runner.submit(scorer, did))
        except PrmViewerError as exc:
            st.error(plain(str(exc)))
        if queued:
            st.session_state["ck_queued"] = queued
    if st.session_state.get("ck_queued"):
        st.success(f"Queued {len(st.session_state['ck_queued'])} job(s): {', '.join(st.session_state['ck_queued'])}")
        st.page_link("pages/jobs.py", label="Follow them on the Jobs page", icon=":material/pending_actions:")


def checkpoints_section(store: Store) -> None:
    st.markdown("**Scorers**")
    scorers_table(store)
    with st.container(border=True):
        register_form(store)
    with st.container(border=True):
        queue_form(store, get_runner())
