"""What every command module shares: opening the store named by ``--db`` and JSON output."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prm_viewer.store import Store

def open_cli_store(args: argparse.Namespace) -> Store:
    """The store at ``--db`` (default: the ``db`` setting), opened read-write by this process."""
    from prm_viewer.store import open_store

    return open_store(args.db)


def print_json(obj: Any) -> None:
    """JSON for ``--json`` outputs (callers pass NaN-free data; NaN would raise here)."""
    print(json.dumps(obj, default=str, allow_nan=False) if obj is not None else "null")
