"""k-means (k-means++ seeding, Lloyd iterations) in NumPy, deterministic for a given seed."""

from __future__ import annotations

import numpy as np

from ml.active_learning.scoring import min_sq_distances


def _sq_distances(x: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, D), (K, D) -> (N, K) squared Euclidean distances (clipped at 0)."""
    d = (x * x).sum(1)[:, None] - 2.0 * x @ centres.T + (centres * centres).sum(1)[None, :]
    return np.maximum(d, 0.0)


def kmeans_pp_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: (N, D) -> (k, D) initial centres, each drawn with probability proportional to the
    squared distance to the nearest centre so far (uniformly when every point coincides with one)."""
    n = len(x)
    centres = [x[int(rng.integers(n))]]
    d = min_sq_distances(x, np.asarray(centres))
    for _ in range(1, k):
        total = float(d.sum())
        j = int(rng.choice(n, p=d / total)) if total > 0 else int(rng.integers(n))
        centres.append(x[j])
        d = np.minimum(d, min_sq_distances(x, x[j : j + 1]))
    return np.asarray(centres)


def kmeans(
    embeddings: np.ndarray, k: int, *, seed: int = 0, n_init: int = 3, max_iter: int = 100
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster (N, D) points into min(k, N) clusters. Returns (labels (N,) in [0, k), centres (k, D)), the
    lowest-inertia run of `n_init` k-means++ starts. A cluster that empties is re-seeded with the point
    farthest from its centre, so every returned cluster has at least one member."""
    x = np.asarray(embeddings, dtype=np.float64)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"embeddings must be a non-empty (N, D), got shape {x.shape}")
    k = int(min(max(k, 1), len(x)))
    rng = np.random.default_rng(seed)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    for _ in range(max(n_init, 1)):
        centres = kmeans_pp_init(x, k, rng)
        labels = np.full(len(x), -1)
        for _ in range(max_iter):
            d = _sq_distances(x, centres)
            new = d.argmin(axis=1)
            for c in np.setdiff1d(np.arange(k), new):
                # An empty cluster takes the point that is worst served by its own centre.
                far = int(np.argmax(d[np.arange(len(x)), new]))
                new[far] = c
                d[far] = 0.0
            if np.array_equal(new, labels):
                break
            labels = new
            centres = np.stack([x[labels == c].mean(axis=0) for c in range(k)])
        inertia = float(_sq_distances(x, centres)[np.arange(len(x)), labels].sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels.copy(), centres.copy())
    assert best is not None
    return best[1], best[2]
