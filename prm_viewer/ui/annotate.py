"""Step labelling on the Trace page: who labels, the label control in each step, every
annotator's labels beside the step, and the sidebar panel that acts on the selected step.

Keyboard (Streamlit button shortcuts, ignored while typing in a text box): ``J`` / ``K`` next /
previous step, ``1`` / ``2`` / ``3`` correct / wrong / unsure, ``0`` clear, ``E`` first error
here, ``N`` no error, ``U`` undo, ``D`` done and next (in a queue).

Every action is one call into :mod:`prm_viewer.annotation`, saved at once as one event of the
annotator's log (so one undo takes back one action). The imported gold labels are only read:
they are the annotator ``gold``, shown as "gold (<source file>)".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from prm_viewer import annotation
from prm_viewer.errors import PrmViewerError
from prm_viewer.queries.gold import gold_sources
from prm_viewer.store import Store
from prm_viewer.ui.auth import login_configured
from prm_viewer.ui.state import cached
from prm_viewer.ui.text import plain

ANNOTATOR = "_prm_annotator"
"""Session-state key of the name picked in this browser session (login off)."""
_MESSAGE = "_prm_label_message"
WORDS: dict[int, str] = {1: "correct", -1: "wrong", 0: "unsure"}
GOLD_WORDS: dict[int, str] = {1: "correct", -1: "wrong", 0: "neutral"}
COLOURS: dict[int, str] = {1: "green", -1: "red", 0: "gray"}
OPTIONS = ("correct", "wrong", "unsure")
_SHOWN = {"correct": ":green[:material/check: correct]", "wrong": ":red[:material/close: wrong]",
          "unsure": ":gray[:material/help: unsure]"}

Select = Callable[[int], None]
"""The page's "select this step" callback (it also opens the page of a long trace holding it)."""


# ---- who labels ---------------------------------------------------------------------------

def logged_in_name() -> str | None:
    """The logged-in user's e-mail (or name) when login is configured, else None."""
    if not login_configured() or not st.user.is_logged_in:
        return None
    return str(st.user.get("email") or st.user.get("name") or "") or None


def current_annotator() -> str | None:
    """This browser session's annotator: the logged-in user, else the name picked (None before)."""
    name = logged_in_name()
    if name is not None:
        return name
    picked = st.session_state.get(ANNOTATOR)
    return str(picked) if picked else None


def _pick(key: str) -> None:
    try:
        st.session_state[ANNOTATOR] = annotation.check_annotator(str(st.session_state.get(key) or ""))
        st.session_state.pop(_MESSAGE, None)
    except PrmViewerError as exc:
        st.session_state[_MESSAGE] = ("error", str(exc))


def _forget() -> None:
    st.session_state.pop(ANNOTATOR, None)


def annotator_picker(where: Any = None, key: str = "annotator_name") -> str | None:
    """Say who labels (``where``: a container, the sidebar by default); with login off and no
    name yet, ask for one (once per browser session) and return None until it is given."""
    box = where if where is not None else st.sidebar
    login = logged_in_name()
    if login is not None:
        try:
            name = annotation.check_annotator(login)
        except PrmViewerError as exc:
            box.error(plain(str(exc)))
            return None
        box.caption(f"Labelling as **{plain(name, 60)}** (your login).")
        return name
    picked = current_annotator()
    if picked:
        box.caption(f"Labelling as **{plain(picked, 40)}**")
        box.button("Change name", key=f"{key}_change", on_click=_forget, icon=":material/person:", type="tertiary",
                   help="Pick another annotator name for this browser session")
        return picked
    box.text_input("Your annotator name", key=key, on_change=_pick, args=(key,), placeholder="e.g. alice",
                   help="Your labels are stored under this name (asked once per browser session). Reserved: "
                        "gold, majority and names starting with prefer:.")
    _show_message(box)
    return None


# ---- actions (button callbacks: they run before the page, so they report through the session) ----

def _act(store: Store, fn: Callable[[Store], object], done: str) -> None:
    # The store comes as an argument: a callback runs before the page, outside its preamble.
    try:
        fn(store)
    except PrmViewerError as exc:
        st.session_state[_MESSAGE] = ("error", str(exc))
    else:
        st.session_state[_MESSAGE] = ("ok", done)


def _show_message(box: Any) -> None:
    kind, text = st.session_state.get(_MESSAGE) or (None, "")
    if kind == "error":
        box.error(plain(text), icon=":material/error:")
    elif kind == "ok":
        box.caption(f":material/check_circle: {plain(text)}")


def _label(store: Store, trace_id: str, step: int, label: str | None, who: str) -> None:
    _act(store, lambda s: annotation.label_step(s, trace_id, step, label, who), f"Saved: step {step} {label or 'cleared'}.")


def _on_control(store: Store, key: str, trace_id: str, step: int, who: str, select: Select) -> None:
    _label(store, trace_id, step, st.session_state.get(key), who)
    select(step)


def _first_error(store: Store, trace_id: str, step: int | None, who: str) -> None:
    what = "no error: every step correct" if step is None else f"first error at step {step}"
    _act(store, lambda s: annotation.set_first_error(s, trace_id, step, who), f"Saved: {what}.")


def _note(store: Store, key: str, trace_id: str, step: int, who: str) -> None:
    text = str(st.session_state.get(key) or "").strip()
    _act(store, lambda s: annotation.set_note(s, trace_id, step, text, who),
         f"Saved: note on step {step}." if text else f"Saved: note on step {step} removed.")


def _undo(store: Store, trace_id: str, who: str) -> None:
    def undo(store: Store) -> None:
        if not annotation.undo_last(store, who, trace_id):
            raise _Nothing("nothing of yours to undo on this trace")

    _act(store, undo, "Undone: your last action on this trace.")


class _Nothing(PrmViewerError):
    """Undo with nothing to undo (shown like any user error)."""


# ---- reading the labels -------------------------------------------------------------------

def gold_name(store: Store, dataset_id: str | None) -> str:
    """How the imported labels are named: ``gold (<source file>)`` (the gold source's label)."""
    return _gold_name(str(store.path.resolve()), dataset_id, store)


@st.cache_data(show_spinner=False, max_entries=64)
def _gold_name(db: str, dataset_id: str | None, _store: Store) -> str:
    # Keyed on the dataset, not the data version: a dataset's source file does not change, and
    # so a label saved on the Trace page does not cost this read again.
    return dict(gold_sources(_store, dataset_id)).get("gold", "gold")


def labels_by_step(labels: pd.DataFrame, gold_display: str) -> dict[int, list[tuple[str, int | None, str | None]]]:
    """``step -> [(annotator shown, label, note)]`` from ``annotation.trace_labels`` (gold first)."""
    out: dict[int, list[tuple[str, int | None, str | None]]] = {}
    if labels.empty:
        return out
    order = labels.assign(_g=labels["annotator"] != "gold").sort_values(["step_idx", "_g", "annotator"])
    for step, who, label, note in zip(order["step_idx"], order["annotator"], order["label"], order["note"]):
        name = gold_display if who == "gold" else str(who)
        out.setdefault(int(step), []).append((name, None if pd.isna(label) else int(label),
                                              None if note is None or pd.isna(note) else str(note)))
    return out


def own_labels(labels: pd.DataFrame, who: str | None) -> dict[int, tuple[int | None, str | None]]:
    """``step -> (label, note)`` of one annotator."""
    if who is None or labels.empty:
        return {}
    mine = labels[labels["annotator"] == who]
    return {int(k): (None if pd.isna(v) else int(v), None if n is None or pd.isna(n) else str(n))
            for k, v, n in zip(mine["step_idx"], mine["label"], mine["note"])}


def _badge_name(name: str, limit: int = 40) -> str:
    return plain(name, limit).replace("[", "(").replace("]", ")")


def label_markdown(rows: list[tuple[str, int | None, str | None]], gold_display: str) -> tuple[str, str]:
    """``(badges, notes)`` Markdown for one step: a coloured badge per annotator's label, and
    each annotator's note as a line (names and notes escaped: they are user text)."""
    badges, notes = [], []
    for name, label, note in rows:
        if label is not None:
            word = (GOLD_WORDS if name == gold_display else WORDS).get(label, str(label))
            badges.append(f":{COLOURS.get(label, 'gray')}-badge[{_badge_name(name)}: {word}]")
        if note:
            notes.append(f":material/sticky_note_2: **{plain(name, 40)}**: {plain(note, 400)}")
    return " ".join(badges), "  \n".join(notes)


# ---- the widgets ----------------------------------------------------------------------------

def step_control(store: Store, trace_id: str, step: int, current: int | None, who: str, select: Select) -> None:
    """The label of ``step`` by ``who``, in place: correct / wrong / unsure (click the chosen one
    again to clear it). Seeded from the store on every run, so the store is the truth."""
    key = f"lab_{step}"
    st.session_state[key] = WORDS.get(current) if current is not None else None
    st.segmented_control(f"Your label for step {step}", OPTIONS, key=key, format_func=_SHOWN.__getitem__,
                         label_visibility="collapsed", on_change=_on_control, args=(store, key, trace_id, step, who, select))


def label_panel(store: Store, trace_id: str, n_steps: int, step: int, step_text: str, mine: dict[int, tuple[int | None, str | None]],
                who: str, select: Select) -> None:
    """The sidebar panel acting on the selected ``step``, with the keyboard shortcuts."""
    sb = st.sidebar
    label, note = mine.get(step, (None, None))
    sb.markdown(f"**Step {step}** of {n_steps:,} selected" + (f" · your label: **{WORDS[label]}**" if label is not None else ""))
    sb.caption(plain(step_text, 240) or "(empty step)")
    nav = sb.columns(2)
    nav[0].button("Prev", key="lab_prev", shortcut="K", width="stretch", help="Select the previous step",
                  disabled=step <= 0, on_click=select, args=(max(0, step - 1),))
    nav[1].button("Next", key="lab_next", shortcut="J", width="stretch", help="Select the next step",
                  disabled=step >= n_steps - 1, on_click=select, args=(min(n_steps - 1, step + 1),))
    row = sb.columns(2)
    for i, (word, key_) in enumerate((("correct", "1"), ("wrong", "2"), ("unsure", "3"))):
        row[i % 2].button(word.capitalize(), key=f"lab_{word}", shortcut=key_, width="stretch",
                          type="primary" if label is not None and WORDS[label] == word else "secondary",
                          on_click=_label, args=(store, trace_id, step, word, who))
    row[1].button("Clear", key="lab_clear", shortcut="0", width="stretch", disabled=label is None,
                  on_click=_label, args=(store, trace_id, step, None, who), help="Remove your label of this step")
    sb.button("First error here", key="lab_first", shortcut="E", width="stretch", on_click=_first_error,
              args=(store, trace_id, step, who), help="Steps before this one correct, this one wrong; later steps untouched")
    sb.button("No error in this trace", key="lab_none", shortcut="N", width="stretch", on_click=_first_error,
              args=(store, trace_id, None, who), help="Every step of the trace correct")
    note_key = f"lab_note_{trace_id}_{step}"
    if note_key not in st.session_state:
        st.session_state[note_key] = note or ""
    sb.text_input("Your note on this step", key=note_key, on_change=_note, args=(store, note_key, trace_id, step, who),
                  placeholder="Enter saves it")
    sb.button("Undo", key="lab_undo", shortcut="U", icon=":material/undo:", on_click=_undo, args=(store, trace_id, who),
              help="Take back your last action on this trace")
    _show_message(sb)
    sb.caption("Keys: J/K next/previous step, 1/2/3 correct/wrong/unsure, 0 clear, E first error here, "
               "N no error, U undo.")


def queue_panel(store: Store, queue_id: str, trace_id: str, who: str) -> None:
    """In a labelling queue: "item i of n" and "Done, next" (marks this trace done for ``who``
    and opens their next item)."""
    sb = st.sidebar
    qs = cached(annotation.queues, store)
    row = qs[qs["queue_id"] == queue_id]
    if row.empty:
        sb.warning(f"No labelling queue '{plain(queue_id, 40)}' (it may have been deleted).")
        return
    ids = cached(annotation.queue_items, store, queue_id)
    prog = cached(annotation.queue_progress, store, queue_id)
    mine = prog[prog["annotator"] == who]
    done = int(mine["done"].iloc[0]) if not mine.empty else 0
    where = f"item {ids.index(trace_id) + 1} of {len(ids)}" if trace_id in ids else f"this trace is not one of its {len(ids)} items"
    sb.markdown(f"**Queue {plain(row['name'].iloc[0], 40)}**: {where}")
    sb.progress(done / max(1, len(ids)), text=f"you have done {done} of {len(ids)}")
    sb.button("Done, next", key="lab_done", shortcut="D", type="primary", icon=":material/done_all:", width="stretch",
              on_click=_done_next, args=(store, queue_id, trace_id, who), disabled=trace_id not in ids,
              help="Mark this trace done and open your next item of the queue")


def _done_next(store: Store, queue_id: str, trace_id: str, who: str) -> None:
    try:
        annotation.mark_done(store, queue_id, trace_id, who)
        nxt = annotation.next_item(store, queue_id, who)
    except PrmViewerError as exc:
        st.session_state[_MESSAGE] = ("error", str(exc))
        return
    if nxt is None:
        st.session_state[_MESSAGE] = ("ok", "Queue finished: you have labelled every item.")
        return
    st.session_state[_MESSAGE] = ("ok", "Done; this is your next item.")
    st.query_params["trace"] = nxt
    st.query_params.pop("step", None)


def progress_summary(progress: pd.DataFrame) -> str:
    """``alice 3/10, bob 1/10`` from ``annotation.queue_progress`` (plain text, for a table cell)."""
    if progress.empty:
        return "nobody yet"
    return ", ".join(f"{a} {int(d)}/{int(t)}" for a, d, t in zip(progress["annotator"], progress["done"], progress["total"]))


# ---- the Labelling page's new-queue form ------------------------------------------------------

QUEUE_ONLY = {"all": "every trace in the filter", "unlabelled": "only those nobody has labelled",
              "disagree": "only those where the PRM and gold disagree"}


def queue_form(store: Store, flt: Any, datasets: dict[str, str], scorers: dict[str, str], who: str | None) -> None:
    """The form that builds a queue from ``flt`` (the Explorer's filter) with the options of
    ``annotation.create_queue``; on success the new queue becomes the selected one (``queue=``)."""
    in_filter = [d for d in flt.datasets if d in datasets] or list(datasets)
    with st.form("lq-new"):
        c1, c2 = st.columns(2)
        c1.selectbox("Dataset", in_filter, format_func=lambda d: datasets.get(d, d), key="lq-ds")
        c2.text_input("Queue name", key="lq-name", placeholder="e.g. round 1 (default: dataset and time)")
        c1, c2 = st.columns(2)
        c1.radio("Traces", list(QUEUE_ONLY), key="lq-only", format_func=QUEUE_ONLY.__getitem__)
        ids = list(scorers)
        c2.selectbox("PRM (for 'disagree')", ids, format_func=lambda s: scorers.get(s, s), key="lq-scorer",
                     index=ids.index(flt.scorer) if flt.scorer in ids else 0, disabled=not ids)
        c1, c2, c3 = st.columns(3)
        c1.number_input("Random sample of N traces (0 = all)", 0, 1_000_000, 0, key="lq-n")
        c2.number_input("Seed", 0, 2**31 - 1, 0, key="lq-seed")
        c3.checkbox("One trace per problem", key="lq-one")
        st.form_submit_button("Create queue", type="primary", icon=":material/playlist_add:",
                              on_click=_create_queue, args=(store, flt, datasets, who))
    _show_message(st)


def _create_queue(store: Store, flt: Any, datasets: dict[str, str], who: str | None) -> None:
    ss = st.session_state
    dataset = str(ss.get("lq-ds"))
    name = str(ss.get("lq-name") or "").strip() or f"{datasets.get(dataset, dataset)} {time.strftime('%Y-%m-%d %H:%M:%S')}"
    only = ss.get("lq-only", "all")
    sample = int(ss.get("lq-n") or 0)
    try:
        qid = annotation.create_queue(
            store, name, dataset, flt, sample=sample or None, seed=int(ss.get("lq-seed") or 0),
            one_per_problem=bool(ss.get("lq-one")), created_by=who,
            only=None if only == "all" else ("unlabelled" if only == "unlabelled" else f"disagree:{ss.get('lq-scorer')}"))
    except PrmViewerError as exc:
        ss[_MESSAGE] = ("error", str(exc))
        return
    ss[_MESSAGE] = ("ok", f"Queue '{name}' created.")
    ss["lq-queue"] = qid
    st.query_params["queue"] = qid
