"""Export SQL for training data from step labels under a gold source (``queries.gold``).

Each builder returns ``(sql, params)`` over the traces selected by ``export_where`` (datasets and
filters), streamed to a file by ``prm_viewer/export.py`` with COPY:

- ``trl-stepwise``: ``{id, prompt, completions, labels}``, the steps up to the first unlabelled
  one, ``labels`` true unless the step is labelled wrong (an unsure / neutral 0 counts as not
  wrong, as in PRMBench's step F1); traces with no labelled first step are left out;
- ``processbench``: ``{id, generator, problem, steps, final_answer_correct, label}`` with label =
  the source's first error (-1 none); traces whose first error is unknown are left out;
- ``prm800k``: PRM800K's raw record shape (one labelling session per trace: every step the chosen
  completion with the source's rating, null where unlabelled; ``finish_reason`` "solution" when
  the source says no error, "found_error" when it has one), readable by the ``prm800k`` importer;
- ``csv``: one row per step, the imported gold label, the source's label (when it is not the
  imported gold) and one ``label[NAME]`` / ``note[NAME]`` pair of columns per annotator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prm_viewer.queries._sql import ident
from prm_viewer.queries.export import export_where, text_cell
from prm_viewer.queries.gold import GOLD, gold_steps_sql, gold_traces_sql, parse_gold

__all__ = ["label_csv_sql", "label_processbench_sql", "label_prm800k_sql", "label_trl_sql"]

Query = tuple[str, list[Any]]


def _labelled_steps(where: str) -> str:
    return f"""s AS (SELECT st.trace_id, st.step_idx, st.text, g.gold_label
               FROM steps st JOIN traces t ON t.trace_id = st.trace_id
               LEFT JOIN gs g ON g.trace_id = st.trace_id AND g.step_idx = st.step_idx
               WHERE {where})"""


def label_trl_sql(gold: str, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None) -> Query:
    """TRL stepwise records (module docstring)."""
    where, wparams = export_where(dataset_ids, filters)
    gsql, gparams = gold_steps_sql(gold, dataset_ids)
    sql = f"""WITH gs AS ({gsql}), {_labelled_steps(where)},
    cut AS (SELECT trace_id, min(step_idx) FILTER (WHERE gold_label IS NULL) AS k FROM s GROUP BY trace_id),
    kept AS (SELECT s.* FROM s JOIN cut USING (trace_id) WHERE cut.k IS NULL OR s.step_idx < cut.k)
    SELECT t.source_id AS id, p.problem AS prompt, list(kept.text ORDER BY kept.step_idx) AS completions,
           list(kept.gold_label <> -1 ORDER BY kept.step_idx) AS labels
    FROM kept JOIN traces t ON t.trace_id = kept.trace_id JOIN datasets d ON d.dataset_id = t.dataset_id
    JOIN problems p ON p.problem_id = t.problem_id
    GROUP BY d.created_at, d.name, t.ordinal, t.source_id, p.problem
    ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, [*gparams, *wparams]


def label_processbench_sql(gold: str, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None) -> Query:
    """ProcessBench records with the source's first error as ``label`` (module docstring)."""
    where, wparams = export_where(dataset_ids, filters)
    fsql, fparams = gold_traces_sql(gold, dataset_ids)
    sql = f"""WITH fe AS ({fsql})
    SELECT t.source_id AS id, t.generator, p.problem, list(st.text ORDER BY st.step_idx) AS steps,
           t.final_answer_correct, fe.gold_first_error AS label
    FROM traces t JOIN fe ON fe.trace_id = t.trace_id JOIN datasets d ON d.dataset_id = t.dataset_id
    JOIN problems p ON p.problem_id = t.problem_id JOIN steps st ON st.trace_id = t.trace_id
    WHERE {where}
    GROUP BY d.created_at, d.name, t.ordinal, t.source_id, t.generator, p.problem, t.final_answer_correct,
             fe.gold_first_error
    ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, [*fparams, *wparams]


def label_prm800k_sql(gold: str, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None) -> Query:
    """PRM800K-shaped records with the source's per-step ratings (module docstring)."""
    where, wparams = export_where(dataset_ids, filters)
    gsql, gparams = gold_steps_sql(gold, dataset_ids)
    fsql, fparams = gold_traces_sql(gold, dataset_ids)
    sql = f"""WITH gs AS ({gsql}), fe AS ({fsql}), {_labelled_steps(where)}
    SELECT ? AS labeler, t.source_id AS timestamp, t.trace_id AS trace_id,
           {{'problem': p.problem, 'ground_truth_answer': p.reference_answer}} AS question,
           {{'steps': list({{'completions': [{{'text': s.text, 'rating': CAST(s.gold_label AS INTEGER),
                                               'flagged': false}}],
                             'human_completion': NULL::VARCHAR, 'chosen_completion': 0}} ORDER BY s.step_idx),
             'finish_reason': CASE WHEN fe.gold_first_error = -1 THEN 'solution'
                                   WHEN fe.gold_first_error >= 0 THEN 'found_error' END}} AS label
    FROM s JOIN traces t ON t.trace_id = s.trace_id JOIN datasets d ON d.dataset_id = t.dataset_id
    JOIN problems p ON p.problem_id = t.problem_id LEFT JOIN fe ON fe.trace_id = t.trace_id
    GROUP BY d.created_at, d.name, t.ordinal, t.source_id, t.trace_id, p.problem, p.reference_answer,
             fe.gold_first_error
    ORDER BY d.created_at, d.name, t.ordinal"""
    return sql, [*gparams, *fparams, *wparams, gold]


def label_csv_sql(gold: str, dataset_ids: Sequence[str] | None, filters: Mapping[str, Any] | None,
                  annotators: Sequence[str], csv_safe: bool = True) -> Query:
    """One row per step with a column per annotator (module docstring)."""
    where, wparams = export_where(dataset_ids, filters)
    isql, iparams = gold_steps_sql(GOLD, dataset_ids)
    src_cols, src_join, sparams = "", "", list[Any]()
    if parse_gold(gold)[0] != GOLD:
        gsql, sparams = gold_steps_sql(gold, dataset_ids)
        src_join = f"LEFT JOIN ({gsql}) src ON src.trace_id = st.trace_id AND src.step_idx = st.step_idx"
        src_cols = f", CAST(any_value(src.gold_label) AS INTEGER) AS {ident(f'label[{gold}]')}"
    per: list[str] = []
    aparams: list[Any] = []
    for name in annotators:
        per.append(f"CAST(max(c.label) FILTER (WHERE c.annotator = ?) AS INTEGER) AS {ident(f'label[{name}]')}")
        per.append(f"{text_cell('max(c.note) FILTER (WHERE c.annotator = ?)', csv_safe)} AS {ident(f'note[{name}]')}")
        aparams += [name] * (4 if csv_safe else 2)  # the note's expression appears 3 times in a CSV-safe cell

    def tx(expr: str) -> str:
        return text_cell(expr, csv_safe)

    cols = [f"{tx('any_value(d.name)')} AS dataset", f"{tx('st.trace_id')} AS trace_id",
            f"{tx('any_value(t.source_id)')} AS source_id", f"{tx('any_value(t.problem_id)')} AS problem_id",
            f"{tx('any_value(p.problem)')} AS problem", "st.step_idx", f"{tx('any_value(st.text)')} AS step_text",
            "CAST(any_value(ig.gold_label) AS INTEGER) AS gold_label"]
    sql = f"""SELECT {', '.join(cols)}{src_cols}{''.join(', ' + c for c in per)}
    FROM steps st JOIN traces t ON t.trace_id = st.trace_id JOIN datasets d ON d.dataset_id = t.dataset_id
    JOIN problems p ON p.problem_id = t.problem_id
    LEFT JOIN ({isql}) ig ON ig.trace_id = st.trace_id AND ig.step_idx = st.step_idx
    {src_join}
    LEFT JOIN current_step_labels c ON c.trace_id = st.trace_id AND c.step_idx = st.step_idx
    WHERE {where}
    GROUP BY st.trace_id, st.step_idx
    ORDER BY any_value(d.created_at), any_value(d.name), any_value(t.ordinal), st.step_idx"""
    return sql, [*aparams, *iparams, *sparams, *wparams]
