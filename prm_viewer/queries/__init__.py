"""Read-side SQL used by pages, the CLI and analysis: one place, tested, one module per concept.

Every function takes a :class:`~prm_viewer.store.Store` and returns a pandas DataFrame (or plain
values). Pages never write SQL; they call these. ``from prm_viewer import queries; queries.X``
reaches every public name of the modules:

- ``library``: datasets and scorers (Library page, CLI);
- ``export``: the SQL behind ``prm_viewer/export.py`` (COPY to a file, previews);
- ``analysis``: per-trace and per-step frames of runs for ``prm_viewer/analysis``;
- ``explorer``: filtered, sorted, paged traces (Explorer page, previous/next on the Trace page);
- ``trace``: one trace's header, steps, scores and predictions (Trace page);
- ``scoring_jobs``: scoring jobs and the traces a scoring worker reads (not ``jobs.py``: the
  package exports a function ``jobs``, which a module of that name would be confused with);
- ``_sql``: fragments they share.

The trace-level rules (predicted first error = first scored step below the threshold, else -1;
the min / product / last / mean aggregates) are DuckDB macros defined once in
``store/schema.py`` (``trace_pred_first_error``, ``trace_score_*``); queries call them, never
restate them.
"""

from __future__ import annotations

from prm_viewer.queries._sql import RunRef
from prm_viewer.queries.analysis import (
    analysis_generators,
    analysis_position_scores,
    analysis_problem_texts,
    analysis_progress_by_position,
    analysis_scorers_for,
    analysis_splits,
    analysis_step_frame,
    analysis_step_labels,
    analysis_step_texts,
    analysis_trace_frame,
    analysis_trace_steps,
)
from prm_viewer.queries.explorer import (
    TRACE_CHOICES,
    TRACE_SORTS,
    TraceFilter,
    explorer_count,
    explorer_neighbours,
    explorer_options,
    explorer_order,
    explorer_page,
    explorer_trace_ids,
    heatmap_scores,
    neighbours_in,
)
from prm_viewer.queries.export import (
    COPY_OPTIONS,
    EXPORT_FILTERS,
    copy_query,
    export_processbench_sql,
    export_scorers,
    export_steps_sql,
    export_traces_sql,
    export_where,
    query_frame,
)
from prm_viewer.queries.scoring_jobs import jobs, scoring_traces
from prm_viewer.queries.figures import (
    AGGREGATIONS,
    agreement_steps_summary,
    agreement_trace_frame,
    bestofn_accuracy,
    bestofn_picks,
    bestofn_sample_counts,
    minimum_positions,
    prmbench_error_positions,
)
from prm_viewer.queries.library import datasets, scorers
from prm_viewer.queries.problems import answer_check_rows, dataset_problem_table, generated_traces, generation_jobs
from prm_viewer.queries.trace import (
    trace_header,
    trace_predictions,
    trace_scores_and_predictions,
    trace_step_scores,
    trace_steps,
)

__all__ = [
    "COPY_OPTIONS", "EXPORT_FILTERS", "TRACE_CHOICES", "TRACE_SORTS", "RunRef", "TraceFilter",
    "analysis_generators", "analysis_position_scores", "analysis_problem_texts", "analysis_progress_by_position",
    "analysis_scorers_for", "analysis_splits", "analysis_step_frame", "analysis_step_labels", "analysis_step_texts",
    "analysis_trace_frame", "analysis_trace_steps",
    "copy_query", "datasets", "explorer_count", "explorer_neighbours", "explorer_options", "explorer_order",
    "explorer_page", "explorer_trace_ids", "export_processbench_sql", "export_scorers", "export_steps_sql",
    "export_traces_sql", "export_where", "heatmap_scores", "jobs", "neighbours_in", "query_frame",
    "scorers", "scoring_traces", "trace_header", "trace_predictions", "trace_scores_and_predictions",
    "trace_step_scores", "trace_steps",
]
__all__ += ["answer_check_rows", "dataset_problem_table", "generated_traces", "generation_jobs"]
from prm_viewer.queries.analysis import analysis_trace_labels, analysis_traces_steps  # noqa: E402  (Compare page)

__all__ += ["analysis_trace_labels", "analysis_traces_steps"]
__all__ += ["AGGREGATIONS", "agreement_steps_summary", "agreement_trace_frame", "bestofn_accuracy", "bestofn_picks",
            "bestofn_sample_counts", "minimum_positions", "prmbench_error_positions"]
from prm_viewer.queries.gold import (  # noqa: E402
    GOLD,
    check_gold,
    gold_first_errors,
    gold_sources,
    gold_steps_sql,
    gold_traces_sql,
    label_gold_steps,
    parse_gold,
)
from prm_viewer.queries.labels import (  # noqa: E402  (step annotation)
    label_annotators,
    label_current,
    label_current_many,
    label_dataset_has_gold,
    label_labelled_traces,
    label_queue,
    label_queue_done,
    label_queue_items,
    label_queue_progress,
    label_queues,
    label_step_units,
    label_trace_info,
    label_trace_problems,
    label_trace_sizes,
    label_unit_traces,
)

__all__ += ["GOLD", "check_gold", "gold_first_errors", "gold_sources", "gold_steps_sql", "gold_traces_sql", "label_gold_steps", "parse_gold",
            "label_annotators", "label_current", "label_dataset_has_gold", "label_queue", "label_queue_done",
            "label_queue_items", "label_queue_progress", "label_queues", "label_step_units", "label_trace_info",
            "label_labelled_traces", "label_trace_problems", "label_unit_traces", "label_trace_sizes",
            "label_current_many"]
from prm_viewer.queries.label_export import (  # noqa: E402  (training data from step labels)
    label_csv_sql,
    label_processbench_sql,
    label_prm800k_sql,
    label_trl_sql,
)

__all__ += ["label_csv_sql", "label_processbench_sql", "label_prm800k_sql", "label_trl_sql"]
