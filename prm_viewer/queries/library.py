"""Library reads: the datasets and the scorers, for the Library page and the CLI."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from prm_viewer.store import Store


def datasets(store: Store) -> pd.DataFrame:
    """Datasets with counts, tags (dict) and the names of scorers that scored them."""
    df = store.cursor().execute(
        """SELECT d.dataset_id, d.name, d.format, d.source_path, d.n_traces, d.n_steps, d.n_labelled,
                  d.tags, d.synthetic, d.created_at,
                  coalesce((SELECT string_agg(DISTINCT sc.name, ', ' ORDER BY sc.name)
                            FROM scored_datasets sd JOIN scorers sc USING (scorer_id)
                            WHERE sd.dataset_id = d.dataset_id AND sd.kind = 'step'), '') AS scorers
           FROM datasets d ORDER BY d.created_at, d.name"""
    ).df()
    df["tags"] = df["tags"].map(lambda s: json.loads(s) if s else {})
    return df


def scorers(store: Store) -> pd.DataFrame:
    """Scorers with their options/provenance parsed."""
    df = store.cursor().execute("SELECT * FROM scorers ORDER BY created_at, name").df()
    for col in ("options", "provenance"):
        df[col] = df[col].map(lambda s: json.loads(s) if s else {})
    return df


def import_report(store: Store, dataset_id: str) -> dict[str, Any] | None:
    """The stored report of a dataset's import (counts, skipped records, notes), or None."""
    row = store.cursor().execute(
        """SELECT r.report FROM import_reports r JOIN datasets d USING (dataset_id)
           WHERE r.dataset_id = ?""", [dataset_id]).fetchone()
    if row is None:
        return None
    report: dict[str, Any] = json.loads(row[0])
    return report
