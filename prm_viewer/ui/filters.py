"""The Explorer filter in the URL: ``TraceFilter`` <-> query string, and its sidebar widgets.

Filters live in the query string so a view can be linked and shared (``/explorer?ds=...&scorer=
...&gold=present``). The last filter is also kept in the session, so moving between pages with
the sidebar (whose links carry no query string) keeps it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from prm_viewer.queries import TRACE_CHOICES, TRACE_SORTS, TraceFilter

# Query-string key of each TraceFilter field (short keys keep shared links readable).
_LIST_KEYS = {"datasets": "ds", "generators": "gen", "categories": "cat", "splits": "split"}
_CHOICE_KEYS = {"correct": "correct", "gold_error": "gold", "pred_error": "pred"}
_RANGE_KEYS = {"min_score": "min", "last_score": "last"}
VIEW_KEYS = ("sort", "desc", "page", "rows", "view")
"""Query keys of the view (not the filter): sort key, descending flag, page number, rows per page,
and the Explorer's ``view=table``; the Trace page carries them along so "Back to the Explorer"
returns to the same page of the same view."""
FILTER_KEYS = ("scorer", "q", *_LIST_KEYS.values(), *_CHOICE_KEYS.values(), *_RANGE_KEYS.values())
_SESSION = "_prm_filter_params"
NO_SCORER = "none"

CHOICE_LABELS: dict[str, dict[str, str]] = {
    "correct": {"any": "any", "true": "correct", "false": "incorrect", "unknown": "unknown"},
    "gold_error": {"any": "any", "present": "has an error", "absent": "no error", "unknown": "unknown"},
    "pred_error": {"any": "any", "present": "predicted error", "absent": "no predicted error",
                   "matches_gold": "matches gold", "differs_from_gold": "differs from gold"},
}
SORT_LABELS: dict[str, str] = {
    "order": "dataset order", "gold_first_error": "gold first error", "pred_first_error": "predicted first error",
    "min_score": "minimum step score", "disagreement": "disagreement (|predicted - gold|)",
}
assert set(SORT_LABELS) == set(TRACE_SORTS) and all(set(CHOICE_LABELS[k]) == {"any", *v} for k, v in TRACE_CHOICES.items())


def _range(text: str | None) -> tuple[float, float] | None:
    if not text:
        return None
    try:
        lo, hi = (float(x) for x in text.split(",", 1))
    except ValueError:
        return None
    return (min(lo, hi), max(lo, hi))


def filter_from_params(params: Mapping[str, list[str]]) -> TraceFilter:
    """A TraceFilter from query parameters given as ``key -> list of values`` (unknown values ignored)."""
    def one(key: str) -> str | None:
        values = params.get(key) or []
        return values[0] if values else None

    kwargs: dict[str, Any] = {field: tuple(v for v in params.get(key, []) if v) for field, key in _LIST_KEYS.items()}
    kwargs["scorer"] = None if one("scorer") in (None, "", NO_SCORER) else one("scorer")
    for field, key in _CHOICE_KEYS.items():
        value = one(key) or "any"
        kwargs[field] = value if value in CHOICE_LABELS[field] else "any"
    for field, key in _RANGE_KEYS.items():
        kwargs[field] = _range(one(key))
    kwargs["text"] = one("q") or ""
    if not kwargs["scorer"]:
        kwargs["pred_error"], kwargs["min_score"], kwargs["last_score"] = "any", None, None
    return TraceFilter(**kwargs)


def filter_to_params(f: TraceFilter) -> dict[str, list[str]]:
    """Query parameters for a TraceFilter (defaults left out)."""
    out: dict[str, list[str]] = {}
    for field, key in _LIST_KEYS.items():
        if getattr(f, field):
            out[key] = list(getattr(f, field))
    # Without a scorer in the URL the Explorer picks one; "none" keeps it off.
    out["scorer"] = [f.scorer or NO_SCORER]
    for field, key in _CHOICE_KEYS.items():
        if getattr(f, field) != "any":
            out[key] = [getattr(f, field)]
    for field, key in _RANGE_KEYS.items():
        bounds = getattr(f, field)
        if bounds is not None:
            out[key] = [f"{bounds[0]:g},{bounds[1]:g}"]
    if f.text:
        out["q"] = [f.text]
    return out


def current_params() -> dict[str, list[str]]:
    """Filter + view parameters: the URL's when it has any, else the session's last ones."""
    qp = st.query_params
    params = {k: qp.get_all(k) for k in qp.keys() if k in FILTER_KEYS or k in VIEW_KEYS}
    if params:
        return params
    return dict(st.session_state.get(_SESSION, {}))


def remember(params: Mapping[str, list[str]]) -> None:
    """Keep the filter for the next page the user opens from the sidebar."""
    st.session_state[_SESSION] = {k: list(v) for k, v in params.items()}


def set_url(params: Mapping[str, list[str]], **extra: str) -> None:
    """Replace the query string with ``params`` (+ ``extra``) when it differs (avoids reruns)."""
    wanted = {k: (v if len(v) != 1 else v[0]) for k, v in params.items() if v}
    wanted.update({k: v for k, v in extra.items() if v is not None})
    have = {k: (st.query_params.get_all(k) if len(st.query_params.get_all(k)) != 1 else st.query_params[k])
            for k in st.query_params.keys()}
    if have != wanted:
        st.query_params.from_dict(wanted)


def link_params(f: TraceFilter, view: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """Query parameters for ``st.page_link``/``st.switch_page`` carrying the filter along."""
    out: dict[str, Any] = {k: (v if len(v) != 1 else v[0]) for k, v in filter_to_params(f).items()}
    out.update({k: v for k, v in (view or {}).items() if v not in (None, "")})
    out.update({k: str(v) for k, v in extra.items() if v is not None})
    return out


def _label(df: pd.DataFrame, id_col: str, name_col: str) -> dict[str, str]:
    return {r[id_col]: r[name_col] + (" (synthetic)" if r.get("synthetic") else "") for r in df.to_dict("records")}


def default_scorer(options: Mapping[str, Any], datasets: tuple[str, ...]) -> str | None:
    """The first scorer that scored any of ``datasets`` (any dataset when none is chosen)."""
    for row in options["scorers"].to_dict("records"):
        if not datasets or set(datasets) & set(row["dataset_ids"]):
            return str(row["scorer_id"])
    return None


def filter_widgets(options: Mapping[str, Any], initial: TraceFilter, key: str = "flt",
                   params: Mapping[str, list[str]] | None = None) -> TraceFilter:
    """Sidebar widgets seeded from ``initial`` (the URL, whose raw ``params`` tell an explicit
    ``scorer=none`` from no scorer given); returns the filter they now describe."""
    ds_names = _label(options["datasets"], "dataset_id", "name")
    sc_names = _label(options["scorers"], "scorer_id", "name")
    datasets = [d for d in initial.datasets if d in ds_names]
    explicit_none = (params or {}).get("scorer") == [NO_SCORER]
    seed = {
        f"{key}_ds": datasets,
        f"{key}_scorer": initial.scorer if initial.scorer in sc_names
        else (None if explicit_none else default_scorer(options, tuple(datasets))),
        f"{key}_gen": [g for g in initial.generators if g in options["generators"]],
        f"{key}_cat": [c for c in initial.categories if c in options["categories"]],
        f"{key}_split": [s for s in initial.splits if s in options["splits"]],
        f"{key}_correct": initial.correct, f"{key}_gold": initial.gold_error, f"{key}_pred": initial.pred_error,
        f"{key}_min": initial.min_score or (0.0, 1.0), f"{key}_last": initial.last_score or (0.0, 1.0),
        f"{key}_q": initial.text,
    }
    for k, v in seed.items():
        if k not in st.session_state:
            st.session_state[k] = v
    sb = st.sidebar
    sb.header("Filters")
    datasets = sb.multiselect("Datasets", list(ds_names), format_func=lambda d: ds_names[d], key=f"{key}_ds",
                              placeholder="all datasets")
    scorer = sb.selectbox("Scorer", [None, *sc_names], format_func=lambda s: "(none)" if s is None else sc_names[s],
                          key=f"{key}_scorer", help="Colours the heatmap; needed for score and predicted-error filters.")
    generators = sb.multiselect("Generator", options["generators"], key=f"{key}_gen", placeholder="all") \
        if options["generators"] else []
    categories = sb.multiselect("Category", options["categories"], key=f"{key}_cat", placeholder="all") \
        if options["categories"] else []
    splits = sb.multiselect("Split", options["splits"], key=f"{key}_split", placeholder="all") \
        if options["splits"] else []
    correct = _choice(sb, "Final answer", "correct", f"{key}_correct")
    gold = _choice(sb, "Gold first error", "gold_error", f"{key}_gold")
    pred = _choice(sb, "Predicted first error", "pred_error", f"{key}_pred", disabled=scorer is None)
    # Seeded from session state with a (low, high) pair, so each slider returns a range.
    lo_min = _range_value(sb.slider("Minimum step score", 0.0, 1.0, step=0.01, key=f"{key}_min", disabled=scorer is None))
    lo_last = _range_value(sb.slider("Last step score", 0.0, 1.0, step=0.01, key=f"{key}_last", disabled=scorer is None))
    text = sb.text_input("Search problems and steps", key=f"{key}_q", placeholder="text to find")
    full = (0.0, 1.0)
    return replace(
        TraceFilter(),
        datasets=tuple(datasets), scorer=scorer, generators=tuple(generators), categories=tuple(categories),
        splits=tuple(splits), correct=correct, gold_error=gold,
        pred_error=pred if scorer else "any",
        min_score=lo_min if scorer and lo_min != full else None,
        last_score=lo_last if scorer and lo_last != full else None,
        text=text.strip(),
    )


def _choice(sb: Any, label: str, field: str, key: str, disabled: bool = False) -> str:
    """A selectbox over one of :data:`CHOICE_LABELS` (``"any"`` when nothing is chosen)."""
    labels = CHOICE_LABELS[field]
    value = sb.selectbox(label, list(labels), format_func=lambda v: labels[v], key=key, disabled=disabled)
    return str(value) if value is not None else "any"


def _range_value(value: Any) -> tuple[float, float]:
    lo, hi = value
    return (float(lo), float(hi))


def describe(f: TraceFilter, options: Mapping[str, Any]) -> str:
    """The filter in words, for Markdown (names from the data escaped): ``every trace`` when empty."""
    from prm_viewer.ui.text import plain

    ds = _label(options["datasets"], "dataset_id", "name")
    sc = _label(options["scorers"], "scorer_id", "name")
    parts: list[str] = []
    if f.datasets:
        parts.append("datasets " + ", ".join(plain(ds.get(d, d), 60) for d in f.datasets))
    for field, what in (("generators", "generators"), ("categories", "categories"), ("splits", "splits")):
        if getattr(f, field):
            parts.append(f"{what} " + ", ".join(plain(v, 40) for v in getattr(f, field)))
    for field, what in (("correct", "final answer"), ("gold_error", "gold first error"), ("pred_error", "predicted")):
        if getattr(f, field) != "any":
            parts.append(f"{what}: {CHOICE_LABELS[field][getattr(f, field)]}")
    if f.scorer:
        parts.append("scorer " + plain(sc.get(f.scorer, f.scorer), 60))
    for field, what in (("min_score", "minimum step score"), ("last_score", "last step score")):
        bounds = getattr(f, field)
        if bounds is not None:
            parts.append(f"{what} {bounds[0]:g} to {bounds[1]:g}")
    if f.text:
        parts.append(f"text “{plain(f.text, 60)}”")
    return "; ".join(parts) if parts else "every trace"
