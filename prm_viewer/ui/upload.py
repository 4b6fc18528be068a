"""Upload helpers for the Library page: write an upload to disk, parse tags, edit a column mapping.

Streamlit's uploader hands the file over as a file-like object (held by Streamlit up to the
``server.maxUploadSize`` limit); it is copied to the uploads folder in 1 MiB chunks and the
importer then streams it from disk, so no further whole copy of the file exists in memory.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import streamlit as st

from prm_viewer.errors import PrmViewerError
from prm_viewer.formats import Sample
from prm_viewer.formats.generic import MAP_KEYS, SPLIT_RULES

CHUNK = 1 << 20
ACCEPTED = ["jsonl", "json", "csv", "tsv", "parquet"]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(fileobj: BinaryIO, name: str, dest: Path) -> Path:
    """Copy an uploaded file into ``dest`` in chunks; the stored name starts with a content hash,
    so re-uploading the same bytes reuses the same file."""
    dest.mkdir(parents=True, exist_ok=True)
    safe = _SAFE.sub("_", Path(name).name).strip("._") or "upload"
    tmp = dest / f".partial-{safe}"
    h = hashlib.sha256()
    fileobj.seek(0)
    with open(tmp, "wb") as out:
        while chunk := fileobj.read(CHUNK):
            h.update(chunk)
            out.write(chunk)
    final = dest / f"{h.hexdigest()[:12]}-{safe}"
    if final.exists():
        tmp.unlink()
    else:
        tmp.replace(final)
    return final


def original_name(path: Path) -> str:
    """The user's file name of a saved upload (without the hash prefix)."""
    return path.name.split("-", 1)[1] if re.match(r"^[0-9a-f]{12}-", path.name) else path.name


def parse_tags(text: str) -> dict[str, str]:
    """``key=value`` pairs separated by commas or new lines, e.g. ``policy=qwen, process_reward=with``."""
    tags: dict[str, str] = {}
    for part in re.split(r"[,\n]", text):
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise PrmViewerError(f"tag '{part}' is not key=value (e.g. process_reward=with)")
        key, value = (s.strip() for s in part.split("=", 1))
        if not key:
            raise PrmViewerError(f"tag '{part}' has no key")
        tags[key] = value
    return tags


def format_tags(tags: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items()))


def preview_frame(sample: Sample, width: int = 120) -> pd.DataFrame:
    """The sampled records as a table of short texts (long values and lists shortened)."""
    def short(v: Any) -> str:
        text = str(v)
        return text if len(text) <= width else text[: width - 1] + "…"

    return pd.DataFrame([{k: short(v) for k, v in rec.items()} for rec in sample.records])


NONE = "(not in file)"


def mapping_editor(sample: Sample, suggested: dict[str, Any], key: str) -> dict[str, Any]:
    """Widgets for the generic importer's options, prefilled with ``suggested``; returns options."""
    columns = sorted({str(c) for rec in sample.records for c in rec})
    mapping = dict(suggested.get("map") or {})
    st.markdown("**Column mapping** (which column holds what; `problem` and `steps` are required)")
    out_map: dict[str, str] = {}
    fields = ["problem", "steps"] + sorted(MAP_KEYS - {"problem", "steps", "metadata"})
    grid = st.columns(3)
    for i, fld in enumerate(fields):
        current = mapping.get(fld)
        choices = [NONE, *columns]
        chosen = grid[i % 3].selectbox(fld, choices, index=choices.index(current) if current in choices else 0,
                                       key=f"{key}_map_{fld}")
        if chosen != NONE:
            out_map[fld] = chosen
    score_cols = [c for c in columns if c not in out_map.values()]
    default_scores = [v for k, v in mapping.items() if k.startswith("scores.") and v in score_cols]
    picked = st.multiselect("Per-step score columns (imported as scorers named after the column)", score_cols,
                            default=default_scores, key=f"{key}_scores")
    for col in picked:
        out_map[f"scores.{col}"] = col
    options: dict[str, Any] = {"map": out_map}
    c1, c2, c3, c4 = st.columns(4)
    rules = ["(steps are a list)", "newline", "blankline", "step_markers", "regex"]
    current_rule = str(suggested.get("split_rule") or "")
    rule_index = rules.index(current_rule) if current_rule in rules else (4 if current_rule.startswith("regex:") else 0)
    rule = c1.selectbox("Split a text steps column", rules, index=rule_index, key=f"{key}_rule",
                        help="How one text column becomes steps: " + ", ".join(SPLIT_RULES))
    if rule == "regex":
        pattern = c1.text_input("Split pattern", value=current_rule[6:] if current_rule.startswith("regex:") else r"\n\n",
                                key=f"{key}_regex")
        options["split_rule"] = f"regex:{pattern}"
    elif rule != rules[0]:
        options["split_rule"] = rule
    base = c2.selectbox("First-error index base", ["0", "1"], index=1 if str(suggested.get("first_error_base")) == "1" else 0,
                        key=f"{key}_base")
    if base == "1":
        options["first_error_base"] = "1"
    no_error = c3.text_input("'No error' markers", value=str(suggested.get("no_error", "-1")), key=f"{key}_noerr",
                             help="Comma-separated values of the first-error column meaning 'no error'.")
    if no_error.strip() and no_error.strip() != "-1":
        options["no_error"] = no_error.strip()
    scheme = c4.selectbox("Step label scheme", ["pm1", "binary"], index=1 if suggested.get("label_scheme") == "binary" else 0,
                          key=f"{key}_scheme", help="pm1: +1/0/-1; binary: 1 correct, 0 wrong")
    if scheme != "pm1":
        options["label_scheme"] = scheme
    return options

