"""Cluster coverage: a batch of typical cases from regions of the pool that nothing labelled covers.

k-means splits the pool into (labelled + batch) clusters, so that at least `batch` clusters hold no
labelled case (as TypiClust, Hacohen et al. 2022). Each uncovered cluster offers its most typical
unlabelled member (the densest: the smallest mean distance to its nearest cluster-mates), not an outlier;
among those representatives, k-centre greedy (seeded by the labelled cases) picks the farthest first, so
that a small cluster far from everything labelled (a rare scanner, say) comes before one more piece of the
majority. Clusters of a single case come last (an outlier is not a region).
"""

from __future__ import annotations

import numpy as np

from ml.active_learning.kmeans import kmeans
from ml.active_learning.scoring import _as_mask, k_center_greedy


def typicality(embeddings: np.ndarray, neighbours: int = 20) -> np.ndarray:
    """(N, D) -> (N,): 1 / (mean distance to the min(neighbours, N - 1) nearest other points); a lone
    point scores 0, coinciding points score +inf."""
    x = np.asarray(embeddings, dtype=np.float64)
    n = len(x)
    m = min(int(neighbours), n - 1)
    if m < 1:
        return np.zeros(n)
    d2 = (x * x).sum(1)[:, None] - 2.0 * x @ x.T + (x * x).sum(1)[None, :]
    d = np.sqrt(np.maximum(d2, 0.0))
    np.fill_diagonal(d, np.inf)
    mean_nn = np.sort(d, axis=1)[:, :m].mean(axis=1)
    with np.errstate(divide="ignore"):
        return np.where(mean_nn > 0, 1.0 / np.maximum(mean_nn, 1e-300), np.inf)


def cluster_representatives(
    embeddings: np.ndarray, clusters: np.ndarray, labelled: np.ndarray, neighbours: int = 20
) -> dict[int, int]:
    """For each cluster with an unlabelled member: the index of its most typical unlabelled member
    (typicality among the cluster's members, labelled ones included; ties to the lowest index)."""
    x = np.asarray(embeddings, dtype=np.float64)
    reps: dict[int, int] = {}
    for c in np.unique(clusters):
        members = np.flatnonzero(clusters == c)
        free = ~labelled[members]
        if not free.any():
            continue
        t = typicality(x[members], neighbours)
        t = np.where(free, t, -np.inf)
        reps[int(c)] = int(members[int(np.argmax(t))])
    return reps


def cluster_coverage_select(
    embeddings: np.ndarray,
    labelled: np.ndarray | None,
    k: int,
    *,
    seed: int = 0,
    neighbours: int = 20,
    min_clusters: int = 0,
) -> np.ndarray:
    """Up to k unlabelled indices in pick order. embeddings: (N, D); labelled: indices or (N,) bool mask.
    Representatives of uncovered clusters of two or more points first (k-centre greedy among them, labelled
    points as centres), then those of uncovered single-point clusters, then k-centre greedy over whatever is
    still unlabelled."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {x.shape}")
    n = len(x)
    lab = _as_mask(labelled, n)
    k = int(min(k, (~lab).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    clusters, _ = kmeans(x, max(int(lab.sum()) + k, min_clusters), seed=seed)
    reps = cluster_representatives(x, clusters, lab, neighbours)
    covered = set(np.unique(clusters[lab]).tolist())
    sizes = np.bincount(clusters)
    uncovered = [c for c in sorted(reps) if c not in covered]
    tiers: list[list[int]] = [
        [reps[c] for c in uncovered if sizes[c] >= 2],
        [reps[c] for c in uncovered if sizes[c] < 2],
        [int(i) for i in np.flatnonzero(~lab)],
    ]
    picked: list[int] = []
    for tier in tiers:
        if len(picked) >= k:
            break
        done = lab.copy()
        done[picked] = True
        cand = np.asarray([i for i in tier if not done[i]], dtype=np.int64)
        if len(cand):
            picked.extend(int(i) for i in k_center_greedy(x, done, k - len(picked), candidates=cand))
    return np.asarray(picked, dtype=np.int64)
