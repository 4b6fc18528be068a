"""Typed access to a record's fields, with one-line errors naming the file, line/row and field.

``unit`` is what ``line`` counts (``'line'`` for JSON, ``'row'`` for tables): pass the
container's (:attr:`~prm_viewer.formats.containers.Container.unit`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prm_viewer.errors import ImportFailed

Kind = type | tuple[type, ...]

_NAMES: dict[type, str] = {str: "a string", int: "an integer", float: "a number", bool: "true/false", list: "a list",
                           dict: "an object"}


def kind_name(kind: Kind) -> str:
    """``int`` -> ``'an integer'``; a tuple of types joined with "or"."""
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(_NAMES.get(k, k.__name__) for k in kinds)


def json_type(value: Any) -> str:
    """How a value reads in a message: ``'null'``, ``'a string'``, ``'an integer'``, ..."""
    if value is None:
        return "null"
    return _NAMES.get(type(value), type(value).__name__)


def _check(path: Path | str, line: int, key: str, value: Any, kind: Kind, unit: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ImportFailed(str(path), line, key, f"expected {kind_name(kind)}, found {json_type(value)}", unit=unit)
    return value


def need(path: Path | str, line: int, obj: dict[str, Any], key: str, kind: Kind, *, unit: str = "line") -> Any:
    """``obj[key]``, which must exist and be of ``kind``; else a one-line ImportFailed."""
    if key not in obj:
        raise ImportFailed(str(path), line, key, "missing field", unit=unit)
    return _check(path, line, key, obj[key], kind, unit)


def opt(path: Path | str, line: int, obj: dict[str, Any], key: str, kind: Kind, *, unit: str = "line") -> Any:
    """Like :func:`need` but missing or null gives ``None``."""
    value = obj.get(key)
    if value is None:
        return None
    return _check(path, line, key, value, kind, unit)


def need_str_list(path: Path | str, line: int, obj: dict[str, Any], key: str, *, unit: str = "line") -> list[str]:
    """A required list of strings."""
    value: list[Any] = need(path, line, obj, key, list, unit=unit)
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise ImportFailed(str(path), line, f"{key}[{i}]", f"expected a string, found {json_type(item)}", unit=unit)
    return value
