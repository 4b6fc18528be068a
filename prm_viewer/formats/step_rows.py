"""Step-row tables: one row per step (or per candidate step), grouped into traces.

Options of the generic importer that switch this mode on (``group_by`` is the switch):

``group_by``   comma-separated columns whose values name a trace (e.g. ``problem_id,sample``).
``order_by``   a column that orders the steps within a group: a number, or a list (e.g. the
               prefix of earlier steps), ordered by its length. When the value repeats or goes
               back in file order, a new trace of the same group begins (another labelling
               session of the same problem).
``keep``       ``COLUMN=VALUE[|VALUE...]``: only rows whose cell equals one of the values (text,
               compared case-insensitively) are steps; others are passed over (e.g.
               ``keep=is_preferred_response=true``).
``preset``     ``prm800k-steps``: the PRM800K step-row layout (``instruction``, ``responses`` = the
               steps so far, ``next_response`` = the candidate, ``rating`` -1/0/+1,
               ``is_preferred_response``): the chosen candidates of each session, rated.

The step text column is ``--map steps=COLUMN``; ``--map step_labels=COLUMN`` is then a scalar
rating per row (read with ``label_scheme``). Other mapped fields come from a group's first row.
Rows are held in memory per file (the columns read only), then grouped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from prm_viewer.errors import ImportFailed

PRESETS: dict[str, dict[str, Any]] = {
    "prm800k-steps": {
        "map": {"problem": "instruction", "steps": "next_response", "step_labels": "rating",
                "reference_answer": "answer"},
        "group_by": "instruction",
        "order_by": "responses",
        "keep": "is_preferred_response=true",
    },
}
"""Named step-row layouts: options merged under the user's own (the user's win)."""

STEP_ROW_OPTIONS = {"group_by", "order_by", "keep", "preset"}


def apply_preset(path: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with a named preset's options filled in underneath (the user's own win)."""
    name = options.get("preset")
    if not name:
        return options
    preset = PRESETS.get(str(name))
    if preset is None:
        raise ImportFailed(path, None, "preset", f"unknown preset '{name}'; presets: {', '.join(sorted(PRESETS))}")
    merged = {**preset, **{k: v for k, v in options.items() if k != "preset"}}
    merged["map"] = {**preset.get("map", {}), **(options.get("map") or {})}
    return merged


def parse_keep(path: str, raw: Any) -> tuple[str, set[str]] | None:
    """``"col=a|b"`` -> ``("col", {"a", "b"})`` (values lower-cased); ``None`` when not set."""
    if raw is None or str(raw).strip() == "":
        return None
    col, sep, values = str(raw).partition("=")
    if not sep or not col.strip():
        raise ImportFailed(path, None, "keep", f"expected COLUMN=VALUE[|VALUE...], got '{raw}'")
    return col.strip(), {v.strip().lower() for v in values.split("|")}


def _key_text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)


def _order_value(path: str, unit: str, n: int, col: str, v: Any) -> float:
    if isinstance(v, (list, tuple)):
        return float(len(v))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                return float(len(json.loads(s)))
            except (json.JSONDecodeError, TypeError):
                pass
        try:
            return float(s)
        except ValueError:
            pass
    raise ImportFailed(path, n, col, f"expected a number or a list to order steps by, found {v!r}", unit=unit)


def group_rows(path: str, unit: str, rows: Iterator[tuple[int, dict[str, Any]]], group_by: list[str],
               order_by: str | None, keep: tuple[str, set[str]] | None) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """The kept rows as traces (lists of ``(row, record)`` in step order), groups in order of first row."""
    groups: dict[tuple[str, ...], list[tuple[float, int, dict[str, Any]]]] = {}
    for n, row in rows:
        if keep is not None and _key_text(row.get(keep[0])).strip().lower() not in keep[1]:
            continue
        key = tuple(_key_text(row.get(c)) for c in group_by)
        order = _order_value(path, unit, n, order_by, row.get(order_by)) if order_by else float(n)
        groups.setdefault(key, []).append((order, n, row))
    for members in groups.values():
        orders = [o for o, _, _ in members]
        if len(set(orders)) == len(orders):
            members.sort(key=lambda m: m[0])
            yield [(n, row) for _, n, row in members]
            continue
        # A repeated order value: several sessions in one group. In file order, a value that does
        # not increase starts the next trace.
        run: list[tuple[int, dict[str, Any]]] = []
        last: float | None = None
        for order, n, row in members:
            if last is not None and order <= last:
                yield run
                run = []
            run.append((n, row))
            last = order
        if run:
            yield run
