"""The CLI package: one KEY=VALUE parser with explicit decoding where it is used, a parser that
builds without importing heavy packages, and no name-based loading of command modules."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest

from prm_viewer.cli import build_parser
from prm_viewer.cli.options import json_values, options_from_cli, parse_kv

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("text", "pair"), [
    ("k=v", ("k", "v")),
    (" k =v", ("k", "v")),             # the key is stripped, the value kept verbatim
    ("k= v ", ("k", " v ")),
    ("regex=a=b", ("regex", "a=b")),   # only the first '=' splits
    ("k=", ("k", "")),
    ("n=3", ("n", "3")),               # always a string here
])
def test_parse_kv_splits_and_keeps_strings(text: str, pair: tuple[str, str]) -> None:
    assert parse_kv(text) == pair


@pytest.mark.parametrize("text", ["novalue", "=v", " =v", ""])
def test_parse_kv_rejects_a_malformed_pair(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="expected key=value"):
        parse_kv(text)


def test_json_values_decode_what_parses_and_keep_the_rest() -> None:
    pairs = [("n", "3"), ("x", "0.5"), ("off", "false"), ("l", "[1, 2]"), ("s", "auto"), ("q", '"3"'), ("e", "")]
    assert json_values(pairs) == {"n": 3, "x": 0.5, "off": False, "l": [1, 2], "s": "auto", "q": "3", "e": ""}
    assert json_values(None) == {}


def test_each_flag_gets_the_meaning_of_its_use() -> None:
    p = build_parser()
    ns = p.parse_args(["import", "f.csv", "--map", "problem=q", "--option", "first_error_base=1", "--tag", "n=1"])
    assert options_from_cli(ns.map, ns.option) == {"map": {"problem": "q"}, "first_error_base": "1"}  # strings
    assert dict(ns.tag) == {"n": "1"}
    ns = p.parse_args(["score", "--dataset", "d", "--option", "beta=0.05", "--backend-option", "prefix_sharing=false"])
    assert json_values(ns.option) == {"beta": 0.05} and json_values(ns.backend_option) == {"prefix_sharing": False}


def test_a_malformed_pair_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["import", "f.csv", "--tag", "oops"])
    assert exc.value.code == 2 and "expected key=value, got 'oops'" in capsys.readouterr().err


def test_help_imports_no_heavy_package() -> None:
    code = ("import sys; from prm_viewer.cli import build_parser; build_parser().format_help(); "
            "print(' '.join(sorted(m for m in ('pandas', 'duckdb', 'pyarrow', 'numpy', 'torch', 'streamlit', "
            "'prm_viewer.store', 'prm_viewer.scoring', 'prm_viewer.jobs') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60, check=True)
    assert out.stdout.strip() == ""


def test_commands_are_imported_explicitly_not_by_name() -> None:
    for path in (ROOT / "prm_viewer" / "cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | \
                {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not names & {"import_module", "__import__"}, path.name


def test_every_command_is_registered_once() -> None:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {
        "import", "list", "delete", "export", "demo", "formats", "settings",
        "score", "jobs", "cancel", "retry", "resume", "scorers", "recipes", "worker",
        "localisation", "compare", "diversity", "errors",
        "bestofn", "agreement", "benchmark", "calibration",
        "generate", "check-answers", "resplit", "experiment",
        "label", "labels", "queue",  # step annotation (cli/labels.py)
    }


def test_python_m_prm_viewer_runs_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "prm_viewer", "--help"], capture_output=True, text=True, cwd=ROOT,
                         timeout=60)
    assert out.returncode == 0 and "usage: python -m prm_viewer" in out.stdout
