"""Library: datasets (counts, tags, upload with preview and column mapping, delete) and checkpoints."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from prm_viewer import queries, settings
from prm_viewer.errors import PrmViewerError
from prm_viewer.formats import FORMATS, detect_format, read_sample
from prm_viewer.formats.generic import suggest_mapping
from prm_viewer.ingest import import_file, preview
from prm_viewer.model import Skip
from prm_viewer.ui import checkpoints, upload
from prm_viewer.ui.page import page
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain

store = page("Library")
tab_data, tab_upload, tab_ckpt = st.tabs(["Datasets", "Upload", "Checkpoints"])

# ---------------------------------------------------------------- datasets
with tab_data:
    checkpoints.deleted_message(st.session_state.pop("lib_deleted", None))
    datasets = cached(queries.datasets, store)
    if datasets.empty:
        st.info("No datasets yet. Upload a trace file in the **Upload** tab.")
    else:
        table = datasets.assign(
            tags=datasets["tags"].map(upload.format_tags),
            name=[n + ("  (synthetic)" if s else "") for n, s in zip(datasets["name"], datasets["synthetic"])],
        )[["name", "format", "n_traces", "n_steps", "n_labelled", "scorers", "tags", "created_at"]]
        st.dataframe(table, hide_index=True, column_config={
            "n_traces": st.column_config.NumberColumn("traces"),
            "n_steps": st.column_config.NumberColumn("steps"),
            "n_labelled": st.column_config.NumberColumn("labelled traces", help="traces with a gold first error or step labels"),
            "scorers": st.column_config.TextColumn("scored by"),
            "created_at": st.column_config.DatetimeColumn("created", format="YYYY-MM-DD HH:mm"),
        })
        if datasets["synthetic"].any():
            st.caption("Datasets marked (synthetic) are the built-in synthetic demo: generated traces, not a real policy.")
        names = dict(zip(datasets["dataset_id"], datasets["name"]))
        with st.expander("Edit tags or delete a dataset"):
            target = st.selectbox("Dataset", list(names), format_func=names.get, key="lib_target")
            row = datasets.set_index("dataset_id").loc[target]
            tags_text = st.text_input("Tags", value=upload.format_tags(row["tags"]), key=f"lib_tags_{target}",
                                      help="key=value pairs, comma-separated, e.g. policy=qwen-7b, process_reward=with")
            if st.button("Save tags", key="lib_save_tags"):
                try:
                    store.set_tags(target, upload.parse_tags(tags_text))
                    st.toast("Tags saved")
                    st.rerun()
                except PrmViewerError as exc:
                    st.error(str(exc))
            if st.session_state.get("lib_confirm") != target:
                if st.button("Delete dataset…", key="lib_delete", icon=":material/delete:"):
                    st.session_state["lib_confirm"] = target
                    st.rerun()
            else:
                st.warning(f"Delete **{plain(names[target])}** with its {int(row['n_traces']):,} traces, "
                           f"{int(row['n_steps']):,} steps, scores and jobs? This cannot be undone.")
                yes, no = st.columns(2)
                if yes.button("Yes, delete it", type="primary", key="lib_yes"):
                    gone = checkpoints.delete_dataset(store, target)
                    st.session_state.pop("lib_confirm", None)
                    st.session_state["lib_deleted"] = gone
                    st.rerun()
                if no.button("Cancel", key="lib_no"):
                    st.session_state.pop("lib_confirm", None)
                    st.rerun()

# ---------------------------------------------------------------- upload
with tab_upload:
    limit = int(settings.get("upload_limit_mb"))
    st.caption(f"JSONL, JSON, CSV/TSV or Parquet, up to {limit:,} MB. The format is detected; "
               "any other table can be imported with a column mapping (format *generic*).")
    uploaded = st.file_uploader("Trace file", type=upload.ACCEPTED, key="lib_upload")
    if uploaded is not None and uploaded.size > limit * 1024 * 1024:
        st.error(f"{plain(uploaded.name)} is {uploaded.size / 2**20:,.0f} MB, over the {limit:,} MB upload limit "
                 "(setting upload_limit_mb).")
    elif uploaded is not None:
        saved = st.session_state.get("lib_saved")
        if not saved or saved[0] != uploaded.file_id or not Path(saved[1]).exists():
            path = upload.save_upload(uploaded, uploaded.name, settings.upload_dir(store.path))
            st.session_state["lib_saved"] = (uploaded.file_id, str(path))
        path = Path(st.session_state["lib_saved"][1])
        common = upload.common_options(key=f"lib_common_{uploaded.file_id}")
        sample = read_sample(path, n=5, records_path=common.get("records"))
        try:
            detected = detect_format(path, sample).name
        except PrmViewerError as exc:  # UnknownFormat included: fall back to a column mapping
            detected = None
            st.warning(f"No known format recognised this file ({upload.ui_message(exc, path, uploaded.name)}). "
                       "Map its columns below (format *generic*).")
        st.markdown(f"**Records** of {plain(uploaded.name)} ({sample.kind}, first {len(sample.records)} records)"
                    + (f" · detected format: **{detected}**" if detected else ""))
        st.dataframe(upload.preview_frame(sample).iloc[:, :40], hide_index=True)
        fmt_names = list(FORMATS)
        default_fmt = detected or "generic"
        fmt = st.selectbox("Format", fmt_names, index=fmt_names.index(default_fmt), format_func=lambda n: FORMATS[n].label,
                           key=f"lib_fmt_{uploaded.file_id}")
        options: dict = {}
        if FORMATS[fmt].generic:
            suggested = suggest_mapping(sample)
            # The records path changes the columns: the mapping widgets start afresh for each one.
            options = upload.mapping_editor(sample, suggested,
                                            key=f"lib_map_{uploaded.file_id}_{common.get('records', '')}")
            options.update(upload.step_options(suggested, key=f"lib_steps_{uploaded.file_id}"))
        options.update(common)
        st.markdown("**Preview of parsed traces** (nothing is stored until you import)")
        try:
            parsed = preview(path, fmt, options)
            upload.preview_traces(parsed)
            for bad in [x for x in parsed if isinstance(x, Skip) and x.invalid][:3]:
                st.warning(f"{plain(uploaded.name)}, {bad.where()}: {plain(bad.reason)}")
        except PrmViewerError as exc:
            st.warning(plain(upload.ui_message(exc, path, uploaded.name)))
        c1, c2 = st.columns(2)
        name = c1.text_input("Dataset name", value=Path(uploaded.name).stem, key=f"lib_name_{uploaded.file_id}")
        tags_text = c2.text_input("Tags", key=f"lib_newtags_{uploaded.file_id}", placeholder="policy=..., process_reward=with",
                                  help="key=value pairs, comma-separated")
        if st.button("Import", type="primary", key="lib_import", icon=":material/upload:"):
            try:
                with st.spinner("Importing…"):
                    report = import_file(store, path, fmt=fmt, options=options, name=name.strip() or None,
                                         tags=upload.parse_tags(tags_text))
                st.session_state["lib_report"] = report
            except PrmViewerError as exc:
                st.session_state["lib_report"] = None
                st.error(f"Import failed, nothing was stored: {plain(upload.ui_message(exc, path, uploaded.name))}")
    report = st.session_state.get("lib_report")
    if report is not None:
        box = st.container(border=True, key="import_summary")
        box.markdown("**Import summary**")
        # The saved copy's path means nothing to the user: name their file instead.
        box.success(plain(report.summary().replace(report.path, upload.original_name(Path(report.path)))))
        if report.skipped:
            box.markdown(f"Skipped {len(report.skipped):,} records:")
            box.dataframe([{"where": s.where(), "reason": s.reason} for s in report.skipped[:1000]], hide_index=True)
        if report.warnings:
            box.markdown("Notes (imported, but worth a look):")
            box.dataframe([{"where": w.where(), "note": w.reason} for w in report.warnings[:1000]], hide_index=True)
        box.page_link("pages/explorer.py", label="Explore it", icon=":material/grid_view:",
                      query_params={"ds": report.dataset_id})

# ---------------------------------------------------------------- checkpoints
with tab_ckpt:
    checkpoints.checkpoints_section(store)
