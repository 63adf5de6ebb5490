"""Surface distances between binary masks in millimetres (2D per slice or 3D per volume).

The surface of a mask is its set of boundary voxels: voxels of the mask with at least one face-neighbour
outside it (or on the array's edge). Distances go from each boundary voxel of one mask to the nearest boundary
voxel of the other, with the voxel spacing, as medpy does.

Empty masks: both empty -> 0.0 (nothing to disagree about); exactly one empty -> nan (the distance is undefined;
callers report it as a missing contour rather than a number).

How the nearest boundary voxel is found: integer offsets within a radius are tried in order of their length in
mm, all query voxels at once, so the first offset that lands on a boundary voxel gives the exact nearest
distance. Two readers' outlines mostly lie within a voxel or two of each other, so this stops after a few
vectorised look-ups; voxels with nothing inside the radius fall back to the feature transform of the whole box
(`distance_transform_edt`). `pairwise_overlap_and_surfaces` does this for many pairs among k readers' masks of
one structure with each boundary computed once (the agreement report's hot path).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import ndimage


class SurfaceMetrics(NamedTuple):
    """All in mm. mean_contour_distance is the average symmetric surface distance (ASSD): the mean of both
    directions' distances pooled, (sum a->b + sum b->a) / (|surface a| + |surface b|)."""

    hausdorff: float
    hd95: float
    mean_contour_distance: float


Spacing = Sequence[float] | float | None


def _sampling(spacing: Spacing, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        sp: tuple[float, ...] = (1.0,) * ndim
    elif np.isscalar(spacing):
        sp = (float(spacing),) * ndim  # type: ignore[arg-type]
    else:
        sp = tuple(float(s) for s in spacing)  # type: ignore[union-attr]
    if len(sp) != ndim:
        raise ValueError(f"spacing {sp} does not match mask dimensions {ndim}")
    if not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be positive, got {sp}")
    return sp


def _stack(masks: Sequence[np.ndarray]) -> np.ndarray:
    """(k, *shape) bool from k masks of one shape."""
    arrays = [np.asarray(m, dtype=bool) for m in masks]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"mask shapes differ: {' vs '.join(str(s) for s in sorted(shapes))}")
    return np.stack(arrays) if arrays else np.zeros((0,), dtype=bool)


def boundary(mask: np.ndarray, batch_axes: int = 0) -> np.ndarray:
    """Boundary voxels of a boolean mask: those with a face-neighbour outside it or on the array's edge.

    Equal to `mask & ~binary_erosion(mask, face-connected structure, border_value=0)`. The first
    `batch_axes` axes index separate masks (no neighbours across them)."""
    m = np.asarray(mask, dtype=bool)
    interior = m.copy()
    full = [slice(None)] * m.ndim
    for axis in range(batch_axes, m.ndim):

        def at(s: slice, axis: int = axis) -> tuple[slice, ...]:
            idx = list(full)
            idx[axis] = s
            return tuple(idx)

        interior[at(slice(1, None))] &= m[at(slice(None, -1))]
        interior[at(slice(None, -1))] &= m[at(slice(1, None))]
        interior[at(slice(0, 1))] = False
        interior[at(slice(-1, None))] = False
    return m & ~interior


@functools.lru_cache(maxsize=64)
def _offsets(sampling: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Integer voxel offsets (K, ndim) within the search radius, sorted by length in mm, and the lengths
    (K,). The radius is twice the coarsest spacing (in short-axis stacks: the next slice and a little around
    it), at least six times the finest."""
    sp = np.asarray(sampling, dtype=np.float64)
    radius = max(2.0 * float(sp.max()), 6.0 * float(sp.min()))
    reach = [int(radius // s) for s in sp]
    grids = np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij")
    steps = np.stack([g.ravel() for g in grids], axis=1)
    lengths = _lengths(steps.T, sp)
    keep = lengths <= radius
    order = np.argsort(lengths[keep], kind="stable")
    steps, lengths = steps[keep][order], lengths[keep][order]
    steps.flags.writeable = lengths.flags.writeable = False
    return steps, lengths


def _lengths(delta: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Euclidean length in mm of voxel offsets `delta` (ndim, n)."""
    scaled = delta * sp[:, None]
    return np.sqrt(np.einsum("ij,ij->j", scaled, scaled))


# Offsets are tried in these growing groups; most boundary voxels of two readers' masks lie within a voxel
# or two of each other, so only the first groups usually run.
_GROUPS = (1, 9, 33, 129, 513)
_MAX_LOOKUPS = 1 << 22


def _union_box(union: np.ndarray) -> tuple[slice, ...]:
    """Bounding box of a non-empty mask grown by one voxel (clipped): every boundary voxel of the masks in
    the union and every nearest-boundary distance stays the same inside it."""
    out = []
    for axis in range(union.ndim):
        other = tuple(i for i in range(union.ndim) if i != axis)
        idx = np.flatnonzero(union.any(axis=other))
        out.append(slice(max(int(idx[0]) - 1, 0), min(int(idx[-1]) + 2, union.shape[axis])))
    return tuple(out)


def _directed(
    masks: np.ndarray, directions: Sequence[tuple[int, int]], sampling: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Distances (mm) from every boundary voxel of masks[i] to the nearest boundary voxel of masks[j], for
    each direction (i, j): one array, direction n in out[bounds[n]:bounds[n + 1]].

    masks: (k, *shape) bool, each non-empty, best cropped to their union's box (`_union_box`)."""
    sp = np.asarray(sampling, dtype=np.float64)
    shape = masks.shape[1:]
    steps, lengths = _offsets(sampling)
    fits = np.all(np.abs(steps) < np.asarray(shape), axis=1)  # farther offsets leave the box
    steps, lengths = steps[fits], lengths[fits]
    pad = np.abs(steps).max(axis=0)
    padded_shape = tuple(int(n + 2 * p) for n, p in zip(shape, pad, strict=True))
    inner = tuple(slice(int(p), int(p) + n) for n, p in zip(shape, pad, strict=True))
    # each mask's boundary, in its own block of a zero-padded table, so offsets never wrap into another
    borders = boundary(masks, batch_axes=1)
    padded = np.zeros((masks.shape[0], *padded_shape), dtype=bool)
    padded[(slice(None), *inner)] = borders
    table = padded.ravel()
    block = int(np.prod(padded_shape))
    strides = np.asarray([int(np.prod(padded_shape[a + 1 :])) for a in range(len(shape))], dtype=np.intp)
    flat_steps = steps @ strides
    voxels = np.flatnonzero(table)  # boundary voxels of all masks, mask by mask
    cuts = np.searchsorted(voxels, block * np.arange(masks.shape[0] + 1))
    sizes = [int(cuts[i + 1] - cuts[i]) for i, _ in directions]
    # each direction's query voxels, moved into the target mask's block
    query = np.concatenate([voxels[cuts[i] : cuts[i + 1]] + block * (j - i) for i, j in directions])
    out = np.empty(query.size, dtype=np.float64)
    hit = table[query]  # offset 0: the voxel is on both boundaries
    out[hit] = 0.0
    todo = np.flatnonzero(~hit)
    start = 1
    for stop in (*_GROUPS, flat_steps.size):
        stop = min(stop, flat_steps.size)
        if todo.size == 0 or stop <= start:
            continue
        left = []
        rows = max(1, _MAX_LOOKUPS // (stop - start))  # bounds the (m, K) look-up's memory
        for part in np.array_split(todo, -(-todo.size // rows)):
            hits = table[query[part][:, None] + flat_steps[None, start:stop]]  # (m, K), nearest first
            first = hits.argmax(axis=1)
            found = hits[np.arange(part.size), first]
            out[part[found]] = lengths[start:stop][first[found]]
            left.append(part[~found])
        todo = np.concatenate(left)
        start = stop
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.intp)
    if todo.size:
        # nothing within the radius: the feature transform of the target's boundary, once per target
        features: dict[int, np.ndarray] = {}
        owner = np.searchsorted(bounds, todo, side="right") - 1
        for n, (_, j) in enumerate(directions):
            far = todo[owner == n]
            if far.size == 0:
                continue
            if j not in features:
                ft = ndimage.distance_transform_edt(
                    ~borders[j], sampling=sampling, return_distances=False, return_indices=True
                )
                features[j] = np.asarray(ft).reshape(len(shape), -1)
            padded_at = np.stack(np.unravel_index(query[far] - block * j, padded_shape))
            points = padded_at - pad[:, None]
            nearest = features[j][:, np.ravel_multi_index(tuple(points), shape)]
            out[far] = _lengths((nearest - points).astype(np.float64), sp)
    return out, bounds


def _percentile_95(values: np.ndarray) -> float:
    """np.percentile(values, 95) (linear interpolation) by partial sort instead of a full one."""
    n = values.size
    pos = (n - 1) * 0.95
    lo = math.floor(pos)
    hi = min(lo + 1, n - 1)
    part = np.partition(values, (lo, hi)) if hi != lo else np.partition(values, lo)
    a, b, t = float(part[lo]), float(part[hi]), pos - lo
    # numpy's lerp, which interpolates from the nearer end
    return b - (b - a) * (1.0 - t) if t >= 0.5 else a + (b - a) * t


def surface_distances(a: np.ndarray, b: np.ndarray, spacing: Spacing = None) -> tuple[np.ndarray, np.ndarray]:
    """Directed surface distances (mm): (from a's boundary to b's, from b's boundary to a's), 1D arrays.

    Both are empty arrays when either mask is empty.
    """
    stack = _stack([a, b])
    sp = _sampling(spacing, stack.ndim - 1)
    if not stack[0].any() or not stack[1].any():
        return np.zeros(0), np.zeros(0)
    box: tuple[slice, ...] = (slice(None), *_union_box(np.asarray(stack.any(axis=0))))
    out, bounds = _directed(stack[box], [(0, 1), (1, 0)], sp)
    return out[: bounds[1]], out[bounds[1] :]


def surface_metrics(a: np.ndarray, b: np.ndarray, spacing: Spacing = None) -> SurfaceMetrics:
    """Hausdorff, HD95 and mean contour distance from one search (cheaper than three calls)."""
    ((_, metrics),) = pairwise_overlap_and_surfaces([a, b], [(0, 1)], spacing)
    return metrics


def hausdorff(a: np.ndarray, b: np.ndarray, spacing: Spacing = None) -> float:
    """Symmetric Hausdorff distance in mm (the largest directed surface distance)."""
    return surface_metrics(a, b, spacing).hausdorff


def hd95(a: np.ndarray, b: np.ndarray, spacing: Spacing = None) -> float:
    """95th percentile (linear interpolation) of both directions' surface distances pooled, as medpy's hd95."""
    return surface_metrics(a, b, spacing).hd95


def mean_contour_distance(a: np.ndarray, b: np.ndarray, spacing: Spacing = None) -> float:
    """Average symmetric surface distance in mm: the mean of both directions' distances pooled, as medpy's
    assd (for surfaces of equal size it equals (mean a->b + mean b->a) / 2)."""
    return surface_metrics(a, b, spacing).mean_contour_distance


def slice_wise(
    metric: Callable[[np.ndarray, np.ndarray, Sequence[float]], float],
    a: np.ndarray,
    b: np.ndarray,
    spacing: Sequence[float],
) -> np.ndarray:
    """Apply a 2D metric to each slice of (S, H, W) stacks (UK Biobank style); spacing is (row, col) in mm.

    Returns (S,) float64 with the metric's own empty-mask conventions per slice.
    """
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if a.ndim != 3 or a.shape != b.shape:
        raise ValueError(f"need two (S, H, W) stacks of equal shape, got {a.shape} and {b.shape}")
    return np.array([metric(a[s], b[s], spacing) for s in range(a.shape[0])], dtype=np.float64)


def pairwise_overlap_and_surfaces(
    masks: Sequence[np.ndarray] | np.ndarray, pairs: Sequence[tuple[int, int]], spacing: Spacing
) -> list[tuple[float, SurfaceMetrics]]:
    """(Dice, SurfaceMetrics in mm) for each (i, j) in `pairs` of the boolean masks (all one shape; or one
    (k, *shape) array).

    The same numbers as `ml.metrics.overlap.dice` and `surface_metrics` on each pair, with each mask's
    boundary found once however many pairs it is in. Empty-mask conventions as there: both empty -> Dice 1
    and distances 0; one empty -> Dice 0 and distances nan.
    """
    stack = masks.astype(bool, copy=False) if isinstance(masks, np.ndarray) else _stack(masks)
    if stack.ndim < 2:
        raise ValueError("need at least one mask with one or more dimensions")
    sampling = _sampling(spacing, stack.ndim - 1)
    counts = np.count_nonzero(stack.reshape(stack.shape[0], -1), axis=1)
    live = [(i, j) for i, j in pairs if counts[i] and counts[j]]
    found: dict[tuple[int, int], tuple[float, SurfaceMetrics]] = {}
    if live:
        used = sorted({i for p in live for i in p})
        pos = {r: n for n, r in enumerate(used)}
        box: tuple[slice, ...] = (slice(None), *_union_box(np.asarray(stack[used].any(axis=0))))
        masks = stack[box][used]
        directions = [d for i, j in live for d in ((pos[i], pos[j]), (pos[j], pos[i]))]
        distances, bounds = _directed(masks, directions, sampling)
        first, second = [pos[i] for i, _ in live], [pos[j] for _, j in live]
        inter = np.count_nonzero((masks[first] & masks[second]).reshape(len(live), -1), axis=1)
        starts = bounds[0:-1:2]
        widths = bounds[2::2] - starts
        largest = np.maximum.reduceat(distances, starts)
        means = np.add.reduceat(distances, starts) / widths
        for n, (i, j) in enumerate(live):
            dice = 2.0 * int(inter[n]) / int(counts[i] + counts[j])
            p95 = _percentile_95(distances[bounds[2 * n] : bounds[2 * n + 2]])
            found[(i, j)] = (dice, SurfaceMetrics(float(largest[n]), p95, float(means[n])))
    out: list[tuple[float, SurfaceMetrics]] = []
    for i, j in pairs:
        if (i, j) in found:
            out.append(found[(i, j)])
        elif counts[i] == 0 and counts[j] == 0:
            out.append((1.0, SurfaceMetrics(0.0, 0.0, 0.0)))
        else:
            out.append((0.0, SurfaceMetrics(math.nan, math.nan, math.nan)))
    return out
