"""From slice or frame scores to case scores: items (N,) carry a case id; a case's score is the mean, the
maximum or the mean of its top-k item scores. Vectorised (sort + bincount), no Python loop over cases."""

from __future__ import annotations

from typing import Literal

import numpy as np

Aggregation = Literal["mean", "max", "topk"]


def aggregate_by_case(
    case_ids: np.ndarray, scores: np.ndarray, how: Aggregation = "mean", k: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    """case_ids: (N,) any sortable ids; scores: (N,) item scores. Returns (cases (M,) sorted unique ids,
    case_scores (M,) float64). how="topk": the mean of each case's k highest scores (all of them when a
    case has fewer than k items)."""
    ids, s = np.asarray(case_ids), np.asarray(scores, dtype=np.float64)
    if ids.shape != s.shape or ids.ndim != 1:
        raise ValueError(f"case_ids and scores must be (N,) of equal length, got {ids.shape}, {s.shape}")
    cases, inverse = np.unique(ids, return_inverse=True)
    m = len(cases)
    if how == "mean":
        return cases, np.bincount(inverse, weights=s, minlength=m) / np.bincount(inverse, minlength=m)
    if how == "max":
        out = np.full(m, -np.inf)
        np.maximum.at(out, inverse, s)
        return cases, out
    if how == "topk":
        if k < 1:
            raise ValueError("k must be >= 1")
        order = np.lexsort((-s, inverse))  # by case, then score descending
        inv_sorted = inverse[order]
        starts = np.searchsorted(inv_sorted, np.arange(m))
        rank = np.arange(len(s)) - starts[inv_sorted]
        keep = rank < k
        total = np.bincount(inv_sorted[keep], weights=s[order][keep], minlength=m)
        count = np.bincount(inv_sorted[keep], minlength=m)
        return cases, total / count
    raise ValueError(f"unknown aggregation {how!r}")


def aggregate_embeddings(case_ids: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean embedding per case: case_ids (N,), embeddings (N, D) -> (cases (M,), (M, D))."""
    ids, e = np.asarray(case_ids), np.asarray(embeddings, dtype=np.float64)
    if e.ndim != 2 or len(e) != len(ids):
        raise ValueError(f"need embeddings (N, D) matching case_ids (N,), got {e.shape}, {ids.shape}")
    cases, inverse = np.unique(ids, return_inverse=True)
    sums = np.zeros((len(cases), e.shape[1]))
    np.add.at(sums, inverse, e)
    return cases, sums / np.bincount(inverse, minlength=len(cases))[:, None]
