"""The typing gate: mypy over prm_viewer/ with the settings in pyproject.toml
(``disallow_untyped_defs``). A new untyped function or a type error fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_passes_over_the_package() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary", "--hide-error-context"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, "mypy found problems:\n" + (proc.stdout + proc.stderr)[-8000:]


def test_the_gate_is_strict() -> None:
    # The gate means what it says: the configuration keeps disallow_untyped_defs on.
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert cfg["disallow_untyped_defs"] is True and "prm_viewer" in cfg["files"]
