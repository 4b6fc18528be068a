"""Deterministic ids: the same content always gets the same id, in any store.

A dataset's id is a hash of the file's bytes, its format and the import options; a trace's id is
``<dataset_id>-<ordinal>``; a problem's id is a hash of its normalised text, so the same problem
imported from two runs is one problem (that is how runs are paired).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def problem_key(text: str) -> str:
    """Deterministic problem id: hash of the whitespace-normalised text."""
    # str.split() splits on exactly the characters re's \s matches, so this equals
    # re.sub(r"\s+", " ", text).strip(), at a third of the cost (it runs once per imported trace).
    norm = " ".join(text.split())
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:16]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def dataset_key(file_hash: str, fmt: str, options: dict[str, Any]) -> str:
    """Deterministic dataset id from the content, the format and the import options."""
    blob = json.dumps({"file": file_hash, "format": fmt, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]
