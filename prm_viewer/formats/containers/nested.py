"""Records nested inside a JSON document (the ``records=`` option), and what a document holds.

Two shapes are common in released trace sets:

- an object with one key holding the list (``{"data": [...]}``, ``{"meta": ..., "items": [...]}``):
  ``records=data`` (a dotted path for deeper lists: ``records=result.items``);
- an object whose every value is a list of records, keyed by question id
  (``{"q1": [{...}, {...}], "q2": [...]}``): ``records=*``; each record gets the parent key as the
  column :data:`PARENT_KEY` (map it as the problem id).

The document is decoded whole (it is one JSON value); records are then yielded one at a time and
counted from 1 (``record N`` in messages).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prm_viewer.errors import ImportFailed

PARENT_KEY = "_key"
"""The column that holds a record's parent key under ``records=*``."""
MAX_KEYS_SHOWN = 8


def shown_keys(keys: list[str], limit: int = MAX_KEYS_SHOWN) -> str:
    """Up to ``limit`` keys, then "... (N keys in all)": messages never list hundreds of keys."""
    if len(keys) <= limit:
        return ", ".join(keys) or "none"
    return ", ".join(keys[:limit]) + f", ... ({len(keys)} keys in all)"


def iter_records(path: str, doc: Any, records_path: str) -> Iterator[tuple[int, Any]]:
    """``(n, record)`` for the records under ``records_path`` in the decoded document ``doc``."""
    if not isinstance(doc, dict):
        raise ImportFailed(path, None, "records", f"records={records_path} needs a top-level JSON object, "
                                                  f"found {'an array' if isinstance(doc, list) else type(doc).__name__}")
    n = 0
    if records_path == "*":
        for key, value in doc.items():
            if not isinstance(value, list):
                raise ImportFailed(path, None, f"records.{key}", "records=* needs every top-level value to be a "
                                                                 f"list of records; this one is {_what(value)}")
            for item in value:
                n += 1
                yield n, ({PARENT_KEY: key, **item} if isinstance(item, dict) else item)
        return
    node: Any = doc
    walked: list[str] = []
    for part in records_path.split("."):
        if not isinstance(node, dict) or part not in node:
            where = ".".join(walked) or "the top level"
            keys = list(node) if isinstance(node, dict) else []
            raise ImportFailed(path, None, "records", f"no key '{part}' at {where}; keys there: {shown_keys(keys)}")
        node = node[part]
        walked.append(part)
    if not isinstance(node, list):
        raise ImportFailed(path, None, "records", f"'{records_path}' holds {_what(node)}, not a list of records")
    for item in node:
        n += 1
        yield n, item


def _what(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return "null" if value is None else f"a {type(value).__name__}"


def describe_document(doc: Any) -> tuple[str, str | None]:
    """What a decoded JSON object holds, for auto-detect messages: ``(description, records path
    to try or None)``."""
    if not isinstance(doc, dict) or not doc:
        return "a JSON document with no records", None
    values = list(doc.values())
    if all(isinstance(v, list) for v in values) and any(v and isinstance(v[0], dict) for v in values):
        return f"a top-level object whose values are lists of records ({len(values)} keys)", "*"
    lists = [k for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
    if lists:
        return f"a top-level object with a list of records under '{lists[0]}'", lists[0]
    for k, v in doc.items():
        if isinstance(v, dict):
            inner, sub = describe_document(v)
            if sub is not None and sub != "*":
                return f"a list of records under '{k}.{sub}'", f"{k}.{sub}"
    return f"one JSON object with keys {shown_keys([str(k) for k in doc])}", None
