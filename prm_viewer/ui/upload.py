"""Upload helpers for the Library page: write an upload to disk, parse tags, edit a column mapping.

Streamlit's uploader hands the file over as a file-like object (held by Streamlit up to the
``server.maxUploadSize`` limit); it is copied to the uploads folder in 1 MiB chunks and the
importer then streams it from disk, so no further whole copy of the file exists in memory.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
import streamlit as st

from prm_viewer.errors import PrmViewerError
from prm_viewer.formats import Sample
from prm_viewer.formats.generic import MAP_KEYS, SPLIT_RULES

CHUNK = 1 << 20
ACCEPTED = ["jsonl", "json", "csv", "tsv", "parquet", "gz", "zst"]
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def save_upload(fileobj: BinaryIO, name: str, dest: Path) -> Path:
    """Copy an uploaded file into ``dest`` in chunks; the stored name starts with a content hash,
    so re-uploading the same bytes reuses the same file.

    Safe under concurrent uploads (two sessions, same file name): each copy goes to its own
    temporary file, and a kept file is reused only when its content hashes to its name; one that
    does not (a corrupt leftover) is replaced atomically."""
    dest.mkdir(parents=True, exist_ok=True)
    safe = _SAFE.sub("_", Path(name).name).strip("._") or "upload"
    fd, tmp_name = tempfile.mkstemp(prefix=f".partial-{safe}-", dir=dest)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        fileobj.seek(0)
        with os.fdopen(fd, "wb") as out:
            while chunk := fileobj.read(CHUNK):
                h.update(chunk)
                out.write(chunk)
        digest = h.hexdigest()
        final = dest / f"{digest[:12]}-{safe}"
        if final.exists() and _sha256(final) == digest:
            tmp.unlink()
        else:
            os.replace(tmp, final)  # atomic: readers see the old file or this one, never a mix
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if _sha256(final) != digest:  # another upload replaced it with other bytes under this name
        raise PrmViewerError(f"{name}: the saved copy changed while it was being stored; upload it again")
    return final


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


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



_CLI_WORDS: tuple[tuple[str, str], ...] = (
    (r"choose one with --format, or map columns with --format generic --map \.\.\.",
     "choose one in the Format box, or pick the generic format and map its columns"),
    (r"try --option records=(\S+?)\)", r"enter \1 as the Records path)"),
    (r"--option split_rule=[^ ;:)]+", "the 'Split a text steps column' choice"),
    (r"--option ([a-z_]+)=", r"the option \1 = "),
    (r"--map ([a-z_]+)=COLUMN", r"the \1 column in the mapping"),
    (r"--format", "the Format box"),
)


def ui_message(exc: BaseException, saved: Path, file_name: str) -> str:
    """An error in the upload's words: the user's file name instead of the saved copy's path, UI
    controls instead of CLI flags."""
    text = str(exc).replace(str(saved), file_name)
    for pattern, words in _CLI_WORDS:
        text = re.sub(pattern, words, text)
    return text


def common_options(key: str) -> dict[str, Any]:
    """The options every format takes: the records path of a nested JSON file and skipping bad rows."""
    c1, c2 = st.columns(2)
    out: dict[str, Any] = {}
    records = c1.text_input("Records path (nested JSON)", key=f"{key}_records", placeholder="* or data.items",
                            help="Where the records are inside a JSON document: a key holding the list (data, "
                                 "data.items), or * when every value of the top-level object is a list of records "
                                 "(the key becomes the column _key).")
    if records.strip():
        out["records"] = records.strip()
    if c2.checkbox("Skip bad rows (and list them in the report)", key=f"{key}_skip",
                   help="Rows that fail validation are skipped, counted and listed with their line/row, field and "
                        "reason; otherwise one bad row stops the import and nothing is stored."):
        out["on_error"] = "skip"
    return out


def step_options(suggested: dict[str, Any], key: str) -> dict[str, Any]:
    """Step shape, first-error reference and step-row grouping for the column-mapping importer."""
    from prm_viewer.formats.step_rows import PRESETS

    out: dict[str, Any] = {}
    c1, c2 = st.columns(2)
    ref = c1.selectbox("First error names", ["a position in the list", "the step labelled 'Step N'"],
                       key=f"{key}_ref", help="With 'Step k:' headers grouped, a 1-based first error may name the "
                                             "step's own label rather than its position.")
    if ref.startswith("the step"):
        out["first_error_ref"] = "step_label"
    presets = ["(one row per trace)", *sorted(PRESETS), "group rows by columns"]
    grouping = c2.selectbox("Rows are", presets, key=f"{key}_rows",
                            help="Step-row tables hold one row per step: group them into traces.")
    if grouping in PRESETS:
        out["preset"] = grouping
    elif grouping == "group rows by columns":
        g1, g2, g3 = st.columns(3)
        out["group_by"] = g1.text_input("Group by (columns)", key=f"{key}_group")
        if (order := g2.text_input("Order steps by (column)", key=f"{key}_order")).strip():
            out["order_by"] = order.strip()
        if (keep := g3.text_input("Keep rows where (column=value)", key=f"{key}_keep")).strip():
            out["keep"] = keep.strip()
    return out


def preview_traces(records: list[Any], limit: int = 3) -> None:
    """Parsed traces as the import would store them: steps numbered, the gold first error marked.
    Text is shown as plain text (never Markdown or HTML)."""
    from prm_viewer.model import TraceRecord

    shown = [r for r in records if isinstance(r, TraceRecord)][:limit]
    for rec in shown:
        first = rec.gold_first_error
        gold = "no error" if first == -1 else "unknown" if first is None else f"step {first + 1}"
        box = st.container(border=True)
        box.text(f"{rec.source_id} · {len(rec.steps)} steps · gold first error: {gold}")
        box.text("Problem: " + _clip(rec.problem))
        lines = []
        for k, step in enumerate(rec.steps[:12]):
            mark = "  ✗ first error" if first is not None and k == first else ""
            lines.append(f"{k + 1:>3}. {_clip(step)}{mark}")
        if len(rec.steps) > 12:
            lines.append(f"     … {len(rec.steps) - 12} more steps")
        box.text("\n".join(lines))


def _clip(text: str, width: int = 160) -> str:
    one = " ⏎ ".join(text.splitlines())
    return one if len(one) <= width else one[: width - 1] + "…"
