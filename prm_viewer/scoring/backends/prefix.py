"""Shared-prefix grouping: run the tokens that several traces share at their start only once.

Traces of the same problem (best-of-N samples, several generators or policies on one problem)
begin with the same tokens: the chat template, the system prompt and the problem. In a causal
model the hidden states of those tokens do not depend on what follows, so the transformers
backend computes them once per group, keeps their keys and values, and runs only each trace's
continuation against them. Scores are the same up to float rounding (tested against unshared
runs and against the model cards' own computation).

This module is the pure part: which traces form a group and how many tokens they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MIN_SHARED_TOKENS = 16
"""A group must share at least this many tokens (smaller shares save less than they cost)."""


_MAX_RUN = 512


@dataclass(frozen=True)
class Group:
    shared: int
    """Tokens every member shares at its start (and never a scored position)."""
    members: tuple[int, ...]
    """Indices into the batch, at least two, ascending."""


def _lcp(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def share_groups(seqs: Sequence[Sequence[int]], limits: Sequence[int],
                 min_shared: int = MIN_SHARED_TOKENS) -> list[Group]:
    """Groups of traces that share a token prefix, chosen to save the most tokens.

    ``limits[i]``: the most tokens trace ``i`` may share (its first scored position, so that every
    scored position is in its own continuation, and at most ``len - 1``); a negative limit keeps
    the trace out of every group. A trace is in at most one group; traces in no group run alone.

    Sorting the sequences puts every set of traces with a common prefix next to each other, and
    the prefix a run of neighbours shares is the smallest of their neighbour-to-neighbour shares.
    Each run is either one group (saving ``(n - 1) * shared`` tokens) or split where the share is
    smallest, whichever saves more: e.g. many traces share only a system prompt, and within them
    each problem's traces share much more.
    """
    idx = [i for i in range(len(seqs)) if limits[i] >= min_shared]
    if len(idx) < 2:
        return []
    idx.sort(key=lambda i: tuple(seqs[i][: limits[i]]))
    adj = [min(_lcp(seqs[a], seqs[b]), limits[a], limits[b]) for a, b in zip(idx, idx[1:])]

    def best(lo: int, hi: int) -> tuple[int, list[Group]]:
        """Members idx[lo..hi] (inclusive), linked by adj[lo..hi-1]."""
        if hi <= lo:
            return 0, []
        m = min(adj[lo:hi])
        split_gain, split_groups = 0, []
        start = lo
        for j in range(lo, hi + 1):
            if j == hi or adj[j] == m:
                g, gs = best(start, j)
                split_gain += g
                split_groups += gs
                start = j + 1
        whole = (hi - lo) * m if m >= min_shared else 0
        if whole > split_gain:
            return whole, [Group(m, tuple(sorted(idx[lo:hi + 1])))]
        return split_gain, split_groups

    groups: list[Group] = []
    start = 0
    for j in range(len(adj) + 1):  # runs joined by a useful share; best() splits them further
        if j == len(adj) or adj[j] < min_shared or j - start >= _MAX_RUN:  # (bounds best()'s recursion)
            groups += best(start, j)[1]
            start = j + 1
    return groups
