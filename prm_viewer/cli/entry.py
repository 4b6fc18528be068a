"""The parser, :func:`main` and the one error handler of ``python -m prm_viewer``.

Exit codes: 0 success, 2 a user's error (one line on stderr, no traceback), 1 a bug (Python's
traceback), 130 interrupted. Each command module adds its subcommands in ``register(sub)``; each
subcommand sets ``func(args) -> int``.
"""

from __future__ import annotations

import argparse
import os
import sys
import types

from prm_viewer.cli import analysis, data, scoring
from prm_viewer.cli import figures as figure_commands
from prm_viewer.errors import PrmViewerError

COMMAND_GROUPS: tuple[types.ModuleType, ...] = (data, scoring, analysis)
"""The command modules, in the order their commands are listed by ``--help``."""
COMMAND_GROUPS += (figure_commands,)
from prm_viewer.cli import generation as generation_commands  # noqa: E402

COMMAND_GROUPS += (generation_commands,)
from prm_viewer.cli import experiment as experiment_commands  # noqa: E402

COMMAND_GROUPS += (experiment_commands,)
from prm_viewer.cli import labels as label_commands  # noqa: E402

COMMAND_GROUPS += (label_commands,)


def build_parser() -> argparse.ArgumentParser:
    """The whole command line (builds without importing any heavy package)."""
    p = argparse.ArgumentParser(prog="python -m prm_viewer",
                                description="Process reward model viewer: store, scoring, analysis.")
    p.add_argument("--db", help="DuckDB store path (default: PRM_VIEWER_DB or data/prm_viewer.duckdb)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in COMMAND_GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; a :class:`PrmViewerError` becomes one line on stderr and exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PrmViewerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - keep the interpreter quiet on exit
        return 0
