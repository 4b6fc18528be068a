"""The registry's loading and look-ups: the built-in formats in detection order, entry-point
plug-ins, :func:`get_format` and :func:`detect_format`.

Plug-ins register more with the ``prm_viewer.formats`` entry-point group (each entry point
names a module that applies ``@register``).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points
from pathlib import Path

from prm_viewer.errors import ImportFailed, UnknownFormat
from prm_viewer.formats.base import FORMATS, Format
from prm_viewer.formats.containers import Sample, read_sample, shown_keys

# Order matters for detection: specific formats before looser ones; the generic mapper last.
_BUILTIN = (
    "processbench",
    "prmbench",
    "prm800k",
    "trl_stepwise",
    "math_shepherd",
    "bbm",
    "gsm8k_solutions",
    "generic",
)

for _mod in _BUILTIN:
    import_module(f"prm_viewer.formats.{_mod}")

for _ep in entry_points(group="prm_viewer.formats"):
    _ep.load()


def get_format(name: str) -> Format:
    """Look a format up by name, with a clear error listing the known ones."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UnknownFormat(f"unknown format '{name}'; known formats: {', '.join(sorted(FORMATS))}") from None


def detect_format(path: Path, sample: Sample | None = None) -> Format:
    """The one format whose ``detect()`` accepts the file, or :class:`UnknownFormat`."""
    sample = sample or read_sample(path)
    if sample.kind == "empty":
        raise ImportFailed(str(path), None, None, "the file is empty")
    tried = [f for f in FORMATS.values() if not f.generic]
    for fmt in tried:
        if fmt.detect(sample):
            return fmt
    if not sample.records and sample.error is not None:
        # Nothing parsed: the reason is the unreadable start of the file, not an unknown layout.
        raise sample.error
    raise UnknownFormat(f"{path}: no known format matches (tried {', '.join(f.name for f in tried)}; "
                        f"{what_was_seen(sample)}); choose one with --format, or map columns with "
                        "--format generic --map ...")


def what_was_seen(sample: Sample) -> str:
    """What detection saw, in a few words: the container (and compression), a nested layout with
    the ``records=`` option to try, or the first record's keys (capped)."""
    kind = {"jsonl": "JSON Lines", "json": "a JSON document", "csv": "CSV", "tsv": "TSV", "parquet": "Parquet"}.get(
        sample.kind, "an unknown file type")
    if sample.compression:
        kind += f" ({sample.compression}-compressed)"
    if sample.records_hint is not None:
        return f"saw {sample.seen}: try --option records={sample.records_hint}"
    return f"saw {kind}; first record keys: {shown_keys(sorted(sample.keys))}"
