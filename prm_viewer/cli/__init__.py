"""Command line: ``python -m prm_viewer [--db PATH] COMMAND ...``.

The CLI is a face beside the UI: it imports the feature packages (store, ingest, export, demo,
jobs, scoring, analysis) and nothing imports it. Modules:

- :mod:`~prm_viewer.cli.entry`: the parser, :func:`main` and the one error handler (exit codes);
- :mod:`~prm_viewer.cli.data`: import, list, delete, export, demo, formats, settings;
- :mod:`~prm_viewer.cli.scoring`: score, jobs, cancel, retry, resume, scorers, recipes, worker;
- :mod:`~prm_viewer.cli.analysis`: localisation, compare, diversity, errors;
- :mod:`~prm_viewer.cli.options`: the one ``KEY=VALUE`` parser and option assembly;
- :mod:`~prm_viewer.cli.common`: the store opener and JSON output shared by the commands.

Heavy packages are imported inside the command functions, so ``--help`` stays fast.
"""

from prm_viewer.cli.entry import build_parser, main

__all__ = ["build_parser", "main"]
