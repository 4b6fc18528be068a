"""Reading table cells leniently, for the column-mapping importer: text, booleans, lists given as
lists or as JSON-list text (CSV cells are text), step indices, labels and scores.

Each reader raises :class:`BadCell` with the column and the message; the caller adds the file
and the row (it knows them, the cell does not).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

TRUE = {"true", "1", "yes", "y", "t", "correct"}
FALSE = {"false", "0", "no", "n", "f", "incorrect", "wrong"}
PM1 = {"+": 1, "-": -1, "1": 1, "0": 0, "-1": -1, "+1": 1, "true": 1, "false": -1}
"""label_scheme pm1: +1 / 0 / -1, true / false, "+" / "-"."""
BINARY = {"1": 1, "0": -1, "true": 1, "false": -1}
"""label_scheme binary: 1 = correct, 0 = wrong."""


class BadCell(Exception):
    """A cell that cannot be read: ``args = (column, message)``."""


def kind(v: Any) -> str:
    """How a cell value reads in a message (``'text'``, ``'an integer'``, ``'null'``, ...)."""
    if v is None:
        return "null"
    return {str: "text", bool: "true/false", int: "an integer", float: "a number", list: "a list", dict: "an object"}.get(
        type(v), type(v).__name__)


def text(v: Any) -> str | None:
    """A cell as text; ``None`` for a null or blank cell; integral floats without ``.0``."""
    if v is None:
        return None
    if isinstance(v, str):
        return v if v.strip() else None  # an empty CSV cell means "not given"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (int, float, bool)):
        return str(v)
    return json.dumps(v, ensure_ascii=False, default=str)


def as_list(col: str, v: Any, what: str) -> list[Any] | None:
    """A list cell, or a JSON-list text (CSV); ``None`` when null or blank."""
    if v is None:
        return None
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, str):
        s = v.strip()
        if s == "":
            return None
        if s.startswith("["):
            try:
                parsed = json.loads(s)
            except json.JSONDecodeError as exc:
                raise BadCell(col, f"malformed JSON list ({exc.msg})") from None
            if isinstance(parsed, list):
                return parsed
    raise BadCell(col, f"expected a list of {what}, found {kind(v)}")


def steps(col: str, v: Any, split: Callable[[str], list[str]] | None) -> list[str]:
    """Step texts: a list (or JSON-list text), or one text cut by ``split``."""
    if isinstance(v, str) and split is not None:
        return split(v)
    if isinstance(v, str) and not v.strip().startswith("["):
        raise BadCell(col, "holds text, not a list: choose --option split_rule=newline|blankline|regex:<re>|step_markers")
    out = as_list(col, v, "step texts")
    if out is None:
        raise BadCell(col, "empty step list")
    for i, s in enumerate(out):
        if not isinstance(s, str):
            raise BadCell(f"{col}[{i}]", f"expected text, found {kind(s)}")
    return out


def boolean(col: str, v: Any) -> bool | None:
    """true/false, 1/0, yes/no, correct/incorrect (any case); ``None`` when null or blank."""
    if v is None or isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    if isinstance(v, str):
        s = v.strip().lower()
        if s == "":
            return None
        if s in TRUE:
            return True
        if s in FALSE:
            return False
    raise BadCell(col, f"expected true/false, found {v!r}")


def first_error(col: str, v: Any, base: int, no_error: set[str]) -> int | None:
    """A first-error index in ``base`` converted to 0-based; -1 for a ``no_error`` marker; a
    null/blank cell is -1 when the markers include ``null``/``none``, else ``None`` (unknown)."""
    if isinstance(v, float) and math.isnan(v):
        v = None
    if v is None or (isinstance(v, str) and not v.strip()):
        return -1 if no_error & {"null", "none", ""} else None
    if isinstance(v, bool):
        raise BadCell(col, f"expected a step index, found {v!r}")
    key = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v).strip()
    if key.lower() in no_error:
        return -1
    try:
        idx = int(key)
    except ValueError:
        raise BadCell(col, f"expected a step index or a no-error marker ({', '.join(sorted(no_error))}), "
                           f"found {v!r}") from None
    if idx < base:
        raise BadCell(col, f"step index {idx} is below the base {base} (set first_error_base / no_error?)")
    return idx - base


def labels(col: str, v: Any, table: dict[str, int], scheme: str) -> list[int | None] | None:
    """Per-step labels read through ``table`` (:data:`PM1` / :data:`BINARY`, named ``scheme``)."""
    raw = as_list(col, v, "labels")
    if raw is None:
        return None
    out: list[int | None] = []
    for i, x in enumerate(raw):
        if x is None:
            out.append(None)
            continue
        key = str(int(x)) if isinstance(x, float) and x.is_integer() else str(x).strip().lower()
        lab = table.get(key)
        if lab is None:
            raise BadCell(f"{col}[{i}]", f"unknown step label {x!r} (label_scheme {scheme})")
        out.append(lab)
    return out


def scores(col: str, v: Any) -> list[float | None]:
    """Per-step scores: numbers or nulls (NaN read as null)."""
    raw = as_list(col, v, "scores")
    if raw is None:
        raise BadCell(col, "no scores")
    out: list[float | None] = []
    for i, x in enumerate(raw):
        if x is None or (isinstance(x, float) and math.isnan(x)):
            out.append(None)
        elif isinstance(x, (int, float)) and not isinstance(x, bool):
            out.append(float(x))
        else:
            raise BadCell(f"{col}[{i}]", f"expected a number, found {kind(x)}")
    return out
