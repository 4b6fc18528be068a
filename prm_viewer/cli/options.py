"""``KEY=VALUE`` arguments: one parser, and the explicit steps that turn pairs into options.

Design: :func:`parse_kv` (the argparse ``type`` of every ``KEY=VALUE`` flag) only splits, so every
value arrives as the string the user typed. What a value means is decided where it is used:

- import options (``--map``, ``--option`` of ``import``) and ``--tag`` stay strings: each format
  parses and validates its own options (:func:`options_from_cli`);
- scoring options (``--option`` and ``--backend-option`` of ``score``) are read as JSON where they
  parse, so ``batch_traces=8`` is a number and ``prefix_sharing=false`` a boolean
  (:func:`json_values`).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from typing import Any


def parse_kv(text: str) -> tuple[str, str]:
    """``"key=value"`` -> ``("key", "value")``: the key stripped, the value verbatim (it may
    contain ``=``). An argparse ``type``: a malformed pair is a usage error naming the argument."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected key=value, got '{text}'")
    return key.strip(), value


def json_value(text: str) -> Any:
    """A value read as JSON when it parses (``3``, ``0.5``, ``true``, ``[1, 2]``, ``"x"``), else the string itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def json_values(pairs: Iterable[tuple[str, str]] | None) -> dict[str, Any]:
    """Pairs from :func:`parse_kv` as a dict whose values are decoded by :func:`json_value`."""
    return {key: json_value(value) for key, value in pairs or ()}


def options_from_cli(maps: list[tuple[str, str]], opts: list[tuple[str, str]]) -> dict[str, Any]:
    """Import options from ``--map key=column`` and ``--option key=value`` pairs.

    The mapping goes under ``options["map"]``; other options are top-level keys. Values stay
    strings here; each format parses its own options (and rejects unknown ones).
    """
    options: dict[str, Any] = {}
    if maps:
        options["map"] = dict(maps)
    options.update(dict(opts))
    return options
