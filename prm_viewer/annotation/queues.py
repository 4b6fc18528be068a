"""Labelling queues: a fixed, ordered list of traces built from an Explorer filter, with
progress per annotator. An annotator is never given a trace they marked done; two annotators
progress independently. A queue's id is derived from its name, so a URL ``?queue=<id>`` keeps
pointing at it."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pandas as pd

from prm_viewer import queries
from prm_viewer.annotation.labels import check_annotator
from prm_viewer.errors import PrmViewerError
from prm_viewer.store import BadInput, Store

__all__ = ["ONLY", "create_queue", "mark_done", "next_item", "queue_items", "queue_progress", "queues",
           "resolve_queue"]

ONLY = ("unlabelled", "disagree:<scorer>")
"""Extra selections: traces no annotator has labelled yet; traces where the scorer's predicted
first error differs from the gold one."""


def resolve_queue(store: Store, ref: str) -> str:
    """A queue id from an id or a name, or BadInput listing the queues."""
    row = queries.label_queue(store, str(ref))
    if row is None:
        names = queries.label_queues(store)["name"].tolist()
        raise BadInput(f"no queue '{ref}'; queues: {', '.join(names) or '(none)'}", "queue")
    return str(row["queue_id"])


def create_queue(store: Store, name: str, dataset: str, filt: queries.TraceFilter | None = None, *,
                 sample: int | None = None, seed: int = 0, one_per_problem: bool = False, only: str | None = None,
                 created_by: str | None = None) -> str:
    """Build a queue over ``dataset``'s traces matching ``filt`` (its dataset list is replaced by
    ``dataset``), narrowed by ``only``, then (shuffled with ``seed`` when ``sample`` is given) one
    trace per problem when asked, then the first ``sample``. Returns the queue id."""
    title = (name or "").strip()
    if not title:
        raise BadInput("the queue name is empty; give a name", "name")
    try:
        ds = store.resolve_dataset(dataset)
    except PrmViewerError as exc:
        raise BadInput(str(exc), "dataset") from None
    if sample is not None and int(sample) < 1:
        raise BadInput(f"the sample size must be at least 1, not {sample}", "sample")
    f = dataclasses.replace(filt or queries.TraceFilter(), datasets=(ds["dataset_id"],))
    if only is not None and only != "unlabelled":
        kind, _, scorer = only.partition(":")
        if kind != "disagree" or not scorer.strip():
            raise BadInput(f"unknown selection '{only}'; choose one of {', '.join(ONLY)}", "only")
        try:
            sc = store.resolve_scorer(scorer.strip())
        except PrmViewerError as exc:
            raise BadInput(str(exc), "only") from None
        f = dataclasses.replace(f, scorer=sc["scorer_id"], pred_error="differs_from_gold")
    ids = queries.explorer_trace_ids(store, f)
    if only == "unlabelled" and ids:
        done = queries.label_labelled_traces(store, ids)
        ids = [t for t in ids if t not in done]
    if sample is not None:
        ids = [ids[i] for i in np.random.default_rng(int(seed)).permutation(len(ids))]
    if one_per_problem and ids:
        pid = queries.label_trace_problems(store, ids)
        seen: set[str] = set()
        kept = []
        for t in ids:
            if pid[t] not in seen:
                seen.add(pid[t])
                kept.append(t)
        ids = kept
    if sample is not None:
        ids = ids[: int(sample)]
    if not ids:
        raise BadInput(f"no trace of dataset '{ds['name']}' matches this queue's filter", "filter")
    queue_id = "q-" + hashlib.sha256(title.encode()).hexdigest()[:12]
    spec = {"dataset": ds["dataset_id"], "filter": dataclasses.asdict(f), "sample": sample, "seed": int(seed),
            "one_per_problem": bool(one_per_problem), "only": only}
    store.insert_queue(queue_id, title, spec, ids, created_by)
    return queue_id


def queues(store: Store) -> pd.DataFrame:
    """queue_id, name, n_items, created_by, created_at (newest first)."""
    return queries.label_queues(store)[["queue_id", "name", "n_items", "created_by", "created_at"]]


def queue_items(store: Store, queue_id: str) -> list[str]:
    """The queue's trace ids in order."""
    return queries.label_queue_items(store, resolve_queue(store, queue_id))


def queue_progress(store: Store, queue_id: str) -> pd.DataFrame:
    """annotator, done, total for every annotator who finished an item of the queue."""
    return queries.label_queue_progress(store, resolve_queue(store, queue_id))


def next_item(store: Store, queue_id: str, annotator: str) -> str | None:
    """The first trace (by position) that ``annotator`` has not marked done; None when finished."""
    qid = resolve_queue(store, queue_id)
    done = queries.label_queue_done(store, qid, check_annotator(annotator))
    return next((t for t in queries.label_queue_items(store, qid) if t not in done), None)


def mark_done(store: Store, queue_id: str, trace_id: str, annotator: str) -> None:
    """Record that ``annotator`` finished ``trace_id`` of the queue."""
    qid = resolve_queue(store, queue_id)
    who = check_annotator(annotator)
    if trace_id not in queries.label_queue_items(store, qid):
        raise BadInput(f"trace '{trace_id}' is not in queue '{queue_id}'", "trace")
    store.mark_queue_done(qid, trace_id, who)
