"""Site-stratified selection: share a round's batch across the groups the cases come from (acquisition
sites, scanner vendors), then pick within a group.

Allocation: each pick goes to the group with the largest mean uncertainty over its unlabelled cases divided
by (its labelled cases + 1), picks of this round included. With a learning curve err_g(n) ~ a_g n^-b per
group, the gain of one more label in group g is ~ b err_g(n_g) / n_g: the uncertainty stands in for the
group's error, and the +1 lets an unlabelled group count. When validation weighs every group equally (a
model must serve every site), this puts labels where they lower the mean score most, not where the pool
has most cases. Equal uncertainties reduce it to giving the next pick to the group with the fewest labels.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from ml.active_learning import scoring

Within = Literal["uncertainty", "coreset"]


def group_counts(groups: np.ndarray, among: np.ndarray) -> dict[object, int]:
    """How many of `among` (group labels, e.g. of the labelled cases) fall in each of `groups`'s labels."""
    found, counts = np.unique(np.asarray(among), return_counts=True)
    out: dict[object, int] = {g: 0 for g in np.unique(np.asarray(groups)).tolist()}
    out.update({g: int(c) for g, c in zip(found.tolist(), counts.tolist(), strict=True)})
    return out


def stratified_select(
    groups: np.ndarray,
    uncertainty: np.ndarray,
    labelled: np.ndarray,
    k: int,
    *,
    labelled_counts: dict[object, int] | None = None,
    within: Within = "uncertainty",
    embeddings: np.ndarray | None = None,
) -> np.ndarray:
    """Up to k indices of unlabelled cases, in pick order.

    groups: (M,) each case's group; uncertainty: (M,) higher = more uncertain; labelled: (M,) bool;
    labelled_counts: labelled cases per group (default: counted from `labelled`; pass it when labelled
    cases are not among the M). within="uncertainty": a group's most uncertain case; "coreset": the case
    of that group farthest (embeddings (M, D)) from every labelled or picked case of any group. Ties go
    to the group with fewer labels, then the first group in sorted order; within a group to the lowest index.
    """
    g = np.asarray(groups)
    u = np.asarray(uncertainty, dtype=np.float64)
    lab = np.asarray(labelled, dtype=bool)
    if not (len(g) == len(u) == len(lab)):
        raise ValueError(f"groups, uncertainty and labelled must be (M,), got {len(g)}, {len(u)}, {len(lab)}")
    if within == "coreset" and embeddings is None:
        raise ValueError("within='coreset' needs embeddings")
    counts = group_counts(g, g[lab]) if labelled_counts is None else dict(labelled_counts)
    open_ = ~lab
    names = sorted(np.unique(g[open_]).tolist())
    # Each group's need, fixed for the round: the mean uncertainty of its unlabelled cases.
    need = {name: float(u[open_ & (g == name)].mean()) for name in names}
    x = None if embeddings is None else np.asarray(embeddings, dtype=np.float64)
    min_d = None
    if within == "coreset" and x is not None:
        min_d = scoring.min_sq_distances(x, x[lab]) if lab.any() else np.full(len(g), np.inf)
    picked: list[int] = []
    for _ in range(int(min(k, open_.sum()))):
        live = [n for n in names if (open_ & (g == n)).any()]
        best = max(live, key=lambda n: (need[n] / (counts.get(n, 0) + 1), -counts.get(n, 0), -names.index(n)))
        members = np.flatnonzero(open_ & (g == best))
        if min_d is None:
            # argmax takes the first of equal values; stable order of -u keeps the lowest index first.
            j = int(members[np.argmax(u[members])])
        else:
            assert x is not None
            d = min_d[members]
            j = int(members[np.argmax(d)]) if np.isfinite(d).any() else int(members[np.argmax(u[members])])
            min_d = np.minimum(min_d, np.einsum("md,md->m", x - x[j], x - x[j]))
        picked.append(j)
        open_[j] = False
        counts[best] = counts.get(best, 0) + 1
    return np.asarray(picked, dtype=np.int64)
