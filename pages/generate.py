"""Generate: sample a policy checkpoint on a problem set as a background job, watch it, and open
the dataset it writes in the Explorer (score it on the Library page, compare runs on Compare)."""

from __future__ import annotations

import streamlit as st

from prm_viewer.generation import DEFAULT_RULE
from prm_viewer.ui import generate_view as gv
from prm_viewer.ui.page import page
from prm_viewer.ui.state import get_runner

store = page("Generate")
st.caption("Sample a policy checkpoint on a problem set. The job runs in a worker process; final answers are "
           "checked there with math-verify. The result is a dataset tagged with the checkpoint and the settings, "
           "ready to score and to compare with another checkpoint's run.")

with st.container(border=True):
    st.subheader("1. Problems")
    choice = gv.problem_picker(store)
with st.container(border=True):
    st.subheader("2. Policy and sampling")
    ckpt = gv.checkpoint_form()
    prompt = gv.prompt_form()
    sampling, opts = gv.sampling_form()
with st.container(border=True):
    st.subheader("3. Steps")
    rule = gv.rule_picker("gen_rule", DEFAULT_RULE)
    sample = st.text_area("Preview on this text (edit it, or paste a model's output)", gv.SAMPLE_TEXT, height=150,
                          key="gen_sample")
    rule_ok = gv.split_preview(rule, [sample], "gen_preview")
    st.caption("The raw text is kept, so the rule can be changed until the dataset is written, and a finished "
               "dataset can be re-split into a new one (section 5).")

with st.container(border=True):
    st.subheader("4. Launch")
    n_problems = gv.problems_preview(store, choice, opts.get("limit"))
    c1, c2 = st.columns(2)
    name = c1.text_input("Dataset name", key="gen_name", placeholder="default: gen-<checkpoint folder>")
    tag_text = c2.text_input("Tags (KEY=VALUE, comma-separated)", key="gen_tags", placeholder="process_reward=with")
    tags = gv.parse_tags(tag_text)
    if isinstance(tags, str):
        st.error(tags)
    ready = (ckpt is not None and sampling is not None and rule_ok and n_problems is not None
             and not isinstance(tags, str))
    if sampling is not None and n_problems:
        st.caption(f"{n_problems:,} problems × {sampling.n} samples = {n_problems * sampling.n:,} samples")
    if st.button("Generate", type="primary", key="gen_launch", disabled=not ready, icon=":material/play_arrow:"):
        assert ckpt is not None and sampling is not None and not isinstance(tags, str)
        job_id = gv.launch(store, choice, ckpt[0], ckpt[1], sampling, opts, prompt, rule, name.strip(), tags)
        if job_id:
            st.session_state["gen_launched"] = job_id
    if st.session_state.get("gen_launched"):
        st.success(f"Queued job `{st.session_state['gen_launched']}`; its progress is below.")

st.subheader("Generation jobs")
gv.live_generation_jobs(store, get_runner())

with st.expander("5. Split rule of a job's samples (preview on its finished samples, change, re-split)"):
    gv.resplit_form(store)
