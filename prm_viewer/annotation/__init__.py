"""Step annotation: labels per annotator (``labels``), labelling queues (``queues``), and their
agreement (``prm_viewer.analysis.annotators``, re-exported here). Writes go through the store's
label methods (``store/labels.py``); reads through ``queries.labels`` / ``queries.gold``. The
imported gold labels are never written: they are the pseudo-annotator ``gold``."""

from __future__ import annotations

from prm_viewer.analysis.annotators import AgreementReport, annotator_agreement
from prm_viewer.annotation.labels import (
    LABEL_NAMES,
    LABELS,
    RESERVED,
    annotators,
    check_annotator,
    check_label,
    label_step,
    set_first_error,
    set_note,
    trace_labels,
    undo_last,
)
from prm_viewer.annotation.queues import (
    ONLY,
    create_queue,
    mark_done,
    next_item,
    queue_items,
    queue_progress,
    queues,
    resolve_queue,
)
from prm_viewer.queries.gold import check_gold, gold_sources
from prm_viewer.store import BadInput

__all__ = ["AgreementReport", "BadInput", "LABELS", "LABEL_NAMES", "ONLY", "RESERVED", "annotator_agreement",
           "annotators", "check_annotator", "check_gold", "check_label", "create_queue", "gold_sources",
           "label_step", "mark_done", "next_item", "queue_items", "queue_progress", "queues", "resolve_queue",
           "set_first_error", "set_note", "trace_labels", "undo_last"]
