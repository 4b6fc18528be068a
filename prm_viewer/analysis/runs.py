"""Runs: what the analysis compares. A run is a dataset, optionally narrowed to one generator
(e.g. the four GSM8K model variants live in one file; ProcessBench mixes twelve generators)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prm_viewer.errors import NotFound
from prm_viewer.store import Store


@dataclass(frozen=True)
class Run:
    """One selection of traces."""

    dataset_id: str
    """The dataset's id."""
    dataset: str
    """The dataset's name (for labels)."""
    generator: str | None = None
    """Only the traces of this generator; ``None`` = all of the dataset."""

    @property
    def label(self) -> str:
        return self.dataset if self.generator is None else f"{self.dataset}:{self.generator}"

    def ref(self, label: str | None = None) -> tuple[str, str, str | None]:
        """The (label, dataset_id, generator) triple the queries take."""
        return (label or self.label, self.dataset_id, self.generator)


def resolve_run(store: Store, dataset: str, generator: str | None = None) -> Run:
    """A run from a dataset name/id and an optional generator (which must occur in it).

    ``dataset`` may also be written ``NAME:GENERATOR`` when no dataset has that literal name.
    """
    try:
        ds = store.resolve_dataset(dataset)
    except NotFound:
        if generator is None and ":" in dataset:
            name, gen = dataset.rsplit(":", 1)
            ds = store.resolve_dataset(name)
            generator = gen
        else:
            raise
    if generator is not None:
        from prm_viewer import queries

        gens = queries.analysis_generators(store, ds["dataset_id"])
        if generator not in gens:
            raise NotFound(f"dataset '{ds['name']}' has no generator '{generator}'; generators: {', '.join(gens) or '(none)'}")
    return Run(dataset_id=ds["dataset_id"], dataset=ds["name"], generator=generator)


def resolve_scorer_id(store: Store, ref: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """(scorer_id, scorer row) for a name/id, or (None, None)."""
    if ref is None:
        return None, None
    row = store.resolve_scorer(ref)
    return row["scorer_id"], row
