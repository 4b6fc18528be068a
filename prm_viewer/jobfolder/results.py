"""Result schemas of the job kinds: the columns of their output shards."""

from __future__ import annotations

import pyarrow as pa

from prm_viewer.errors import PrmViewerError

# ---------------------------------------------------------------------------- the step-result schema

STEP_RESULT_SCHEMA = pa.schema([
    pa.field("scorer_id", pa.string()),  # the scorer (NULL from a bare engine, outside a job)
    pa.field("trace_id", pa.string()),
    pa.field("step_idx", pa.int32()),  # 0-based
    pa.field("score", pa.float64()),  # in [0, 1]; NULL = not scored (``note`` says why)
    pa.field("raw", pa.float64()),  # the recipe's raw value (logit, log-ratio, probability...)
    pa.field("note", pa.string()),  # why a step has no score, or a recipe's remark; usually NULL
])
"""THE per-step result: one row per (scorer, trace, step). The engine's output, every recipe's
``score()`` result, a score job's shards, imported scores and the store's ``step_scores`` rows
all have exactly these columns, in this order."""


def empty_step_results() -> pa.Table:
    """A table of :data:`STEP_RESULT_SCHEMA` with no rows."""
    return STEP_RESULT_SCHEMA.empty_table()


def as_step_results(table: pa.Table, scorer_id: str | None = None) -> pa.Table:
    """``table`` as exactly :data:`STEP_RESULT_SCHEMA` (columns selected by name, in order, cast).
    A missing ``scorer_id`` column is added; ``scorer_id`` given sets it on every row."""
    n = table.num_rows
    cols: list[pa.Array | pa.ChunkedArray] = []
    for f in STEP_RESULT_SCHEMA:
        if f.name == "scorer_id" and (scorer_id is not None or f.name not in table.column_names):
            cols.append(pa.array([scorer_id] * n, pa.string()))
        elif f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            raise PrmViewerError(f"a step-result table lacks the column '{f.name}' (has {table.column_names})")
    return pa.Table.from_arrays(cols, schema=STEP_RESULT_SCHEMA)



GENERATION_RESULT_SCHEMA = pa.schema([
    pa.field("problem_id", pa.string()),  # the problem (store's problem key)
    pa.field("sample_idx", pa.int32()),  # 0-based sample of that problem; (problem_id, sample_idx) is the key
    pa.field("seed", pa.int64()),  # the sample's own seed (job seed + hash of the key)
    pa.field("completion", pa.string()),  # the generated text, verbatim (stop string excluded)
    pa.field("n_tokens", pa.int32()),  # generated tokens
    pa.field("finish_reason", pa.string()),  # "stop" (EOS or a stop string) or "length"
    pa.field("final_answer", pa.string()),  # the stated answer (answers.stated_answer), NULL = none
    pa.field("final_answer_correct", pa.bool_()),  # answers.check vs the reference; NULL = undecided / no reference
])
"""THE per-sample result of a ``generate`` job: one row per (problem, sample index)."""


def as_generation_results(table: pa.Table) -> pa.Table:
    """``table`` as exactly :data:`GENERATION_RESULT_SCHEMA` (columns by name, in order, cast)."""
    missing = [f.name for f in GENERATION_RESULT_SCHEMA if f.name not in table.column_names]
    if missing:
        raise PrmViewerError(f"a generation-result table lacks the columns {missing} (has {table.column_names})")
    return pa.Table.from_arrays([table.column(f.name).cast(f.type) for f in GENERATION_RESULT_SCHEMA],
                                schema=GENERATION_RESULT_SCHEMA)


__all__ = ['GENERATION_RESULT_SCHEMA', 'STEP_RESULT_SCHEMA', 'as_generation_results', 'as_step_results', 'empty_step_results']
