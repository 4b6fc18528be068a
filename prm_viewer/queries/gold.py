"""Gold sources: which step labels count as the truth ("labels everywhere").

A gold source is a string:

- ``gold``: the imported labels (the default). Per trace it is ``traces.gold_first_error``, so
  every query reading it keeps its SQL (and speed) unchanged.
- ``annotator:NAME``: NAME's current labels.
- ``majority``: per step the most frequent label among every annotator, the imported gold
  included; a tie gives no label.
- ``prefer:NAME``: NAME's label where NAME labelled the step, else the imported gold.

Per step, the imported gold is ``steps.gold_label`` where the source has step labels, else it is
derived from the gold first error (steps before it +1, it -1, later steps unlabelled; "no error"
= every step +1). Per trace, a source's first error is its first step labelled -1; -1 (no error)
when every step of the trace has a label and none is -1; NULL (unknown) otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from prm_viewer.queries.labels import GOLD, label_annotators
from prm_viewer.store import BadInput, Store

__all__ = ["GOLD", "check_gold", "gold_sources", "gold_steps_sql", "gold_first_errors", "gold_traces_sql", "label_gold_steps",
           "parse_gold"]

Relation = tuple[str, list[Any]]
"""A SQL SELECT and its parameters."""

_KINDS = ("gold", "majority", "annotator:NAME", "prefer:NAME")


def parse_gold(gold: str) -> tuple[str, str | None]:
    """``(kind, name)``: kind one of gold / majority / annotator / prefer; BadInput otherwise."""
    g = (gold or "").strip()
    if g in (GOLD, "majority"):
        return g, None
    kind, sep, name = g.partition(":")
    if sep and kind in ("annotator", "prefer") and name.strip():
        return kind, name.strip()
    raise BadInput(f"unknown gold source '{gold}'; choose one of {', '.join(_KINDS)}")


def check_gold(store: Store, gold: str, dataset_id: str | None = None) -> str:
    """``gold`` when it names a usable source (an annotator with labels), else BadInput listing them."""
    kind, name = parse_gold(gold)
    if name is not None:
        known = label_annotators(store)
        if name not in known:
            raise BadInput(f"gold source '{gold}': no annotator '{name}' has labels; annotators: "
                           f"{', '.join(known) or '(none)'}")
    return gold.strip()


def gold_sources(store: Store, dataset_id: str | None = None) -> list[tuple[str, str]]:
    """(value, display label) of every gold source available (on the dataset): the imported gold
    first (shown with its source file's name), then majority when there are annotators, then each
    annotator and "NAME, else gold"."""
    cur = store.cursor()
    row = cur.execute(
        "SELECT list(DISTINCT source_path) FROM datasets WHERE ? IS NULL OR dataset_id = ?",
        [dataset_id, dataset_id]).fetchone()
    paths = [os.path.basename(str(p)) for p in (row[0] if row and row[0] else []) if p]
    out = [(GOLD, f"gold ({', '.join(sorted(paths))})" if len(paths) == 1 else "gold (imported labels)")]
    names = label_annotators(store, dataset_id)
    if names:
        out.append(("majority", "majority of all annotators (gold included)"))
        out += [(f"annotator:{n}", n) for n in names]
        out += [(f"prefer:{n}", f"{n}, else gold") for n in names]
    return out


def _imported_steps(dataset_ids: Sequence[str] | None) -> Relation:
    where = "" if dataset_ids is None else "WHERE tr.dataset_id IN (SELECT unnest(?::VARCHAR[]))"
    sql = f"""SELECT trace_id, step_idx, gold_label FROM (
        SELECT st.trace_id, st.step_idx,
               CAST(CASE WHEN tr.has_step_labels THEN st.gold_label
                         WHEN tr.gold_first_error IS NULL THEN NULL
                         WHEN tr.gold_first_error = -1 OR st.step_idx < tr.gold_first_error THEN 1
                         WHEN st.step_idx = tr.gold_first_error THEN -1 END AS TINYINT) AS gold_label
        FROM steps st JOIN traces tr ON tr.trace_id = st.trace_id {where}) WHERE gold_label IS NOT NULL"""
    return sql, ([] if dataset_ids is None else [[str(d) for d in dataset_ids]])


def _human_steps(name: str | None) -> Relation:
    sql = """SELECT trace_id, step_idx, label AS gold_label FROM current_step_labels
             WHERE label IS NOT NULL AND annotator <> 'gold' AND (? IS NULL OR annotator = ?)"""
    return sql, [name, name]


def gold_steps_sql(gold: str, dataset_ids: Sequence[str] | None = None) -> Relation:
    """The per-step relation ``(trace_id, step_idx, gold_label)`` of a source: labelled steps only
    (``dataset_ids`` narrows the imported part; annotators' labels are few)."""
    kind, name = parse_gold(gold)
    imp_sql, imp_params = _imported_steps(dataset_ids)
    if kind == GOLD:
        return imp_sql, imp_params
    if kind == "annotator":
        return _human_steps(name)
    if kind == "prefer":
        h_sql, h_params = _human_steps(name)
        return (f"""SELECT coalesce(h.trace_id, g.trace_id) AS trace_id, coalesce(h.step_idx, g.step_idx) AS step_idx,
                           CAST(coalesce(h.gold_label, g.gold_label) AS TINYINT) AS gold_label
                    FROM ({h_sql}) h FULL OUTER JOIN ({imp_sql}) g
                         ON g.trace_id = h.trace_id AND g.step_idx = h.step_idx""", [*h_params, *imp_params])
    h_sql, h_params = _human_steps(None)
    sql = f"""SELECT trace_id, step_idx, CAST(any_value(gold_label) AS TINYINT) AS gold_label FROM (
        SELECT *, max(n) OVER (PARTITION BY trace_id, step_idx) AS top FROM (
            SELECT trace_id, step_idx, gold_label, count(*) AS n
            FROM (SELECT * FROM ({imp_sql}) UNION ALL SELECT * FROM ({h_sql})) GROUP BY ALL))
        WHERE n = top GROUP BY trace_id, step_idx HAVING count(*) = 1"""
    return sql, [*imp_params, *h_params]


def gold_traces_sql(gold: str, dataset_ids: Sequence[str] | None = None) -> Relation:
    """The per-trace relation ``(trace_id, gold_first_error)`` of a source (see the module
    docstring); for ``gold``, ``traces.gold_first_error`` itself."""
    kind, _ = parse_gold(gold)
    if kind == GOLD:
        where = "" if dataset_ids is None else " AND dataset_id IN (SELECT unnest(?::VARCHAR[]))"
        return (f"SELECT trace_id, gold_first_error FROM traces WHERE gold_first_error IS NOT NULL{where}",
                [] if dataset_ids is None else [[str(d) for d in dataset_ids]])
    s_sql, s_params = gold_steps_sql(gold, dataset_ids)
    sql = f"""SELECT e.trace_id,
                     CAST(CASE WHEN e.first_wrong IS NOT NULL THEN e.first_wrong
                               WHEN e.n_labelled >= tr.n_steps THEN -1 END AS INTEGER) AS gold_first_error
              FROM (SELECT trace_id, min(step_idx) FILTER (WHERE gold_label = -1) AS first_wrong,
                           count(*) AS n_labelled FROM ({s_sql}) GROUP BY trace_id) e
              JOIN traces tr ON tr.trace_id = e.trace_id
              WHERE e.first_wrong IS NOT NULL OR e.n_labelled >= tr.n_steps"""
    return sql, s_params


def label_gold_steps(store: Store, trace_id: str, dataset_id: str, gold: str = GOLD) -> pd.DataFrame:
    """One trace's per-step labels under a gold source: step_idx, label (labelled steps only)."""
    sql, params = gold_steps_sql(gold, [dataset_id])
    return store.cursor().execute(
        f"SELECT step_idx, CAST(gold_label AS INTEGER) AS label FROM ({sql}) WHERE trace_id = ? ORDER BY step_idx",
        [*params, trace_id]).df()


def gold_first_errors(store: Store, gold: str, trace_ids: Sequence[str]) -> dict[str, int]:
    """trace_id -> first error under a gold source, for the given traces that have one."""
    sql, params = gold_traces_sql(gold)
    rows = store.cursor().execute(
        f"SELECT trace_id, gold_first_error FROM ({sql}) WHERE trace_id IN (SELECT unnest(?::VARCHAR[]))",
        [*params, [str(t) for t in trace_ids]]).fetchall()
    return {r[0]: int(r[1]) for r in rows}
