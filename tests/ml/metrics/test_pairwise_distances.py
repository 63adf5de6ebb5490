"""Dice and surface distances for many reader pairs at once, against medpy, the single-pair functions, an
all-pairs brute force, and hand-computed cases (both the bounded offset search and its feature-transform
fallback for far-apart outlines)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from medpy.metric import binary as mb
from scipy import ndimage
from scipy.spatial.distance import cdist

from ml.metrics import distances
from ml.metrics.distances import (
    boundary,
    pairwise_overlap_and_surfaces,
    surface_distances,
    surface_metrics,
)
from ml.metrics.overlap import dice


def _blob(rng: np.random.Generator, shape: tuple[int, ...], centre_jitter: float = 2.0) -> np.ndarray:
    grids = np.indices(shape)
    c = np.array(shape) / 2 + rng.uniform(-centre_jitter, centre_jitter, len(shape))
    r = rng.uniform(4, 7)
    scale = [2.5] + [1.0] * (len(shape) - 2) + [rng.uniform(0.7, 1.3)]
    return sum(((g - ci) * s) ** 2 for g, ci, s in zip(grids, c, scale, strict=True)) < r * r


def _brute(a: np.ndarray, b: np.ndarray, spacing: tuple[float, ...]) -> tuple[float, float, float]:
    """All-pairs distances between erosion-defined boundaries (no search, no feature transform)."""
    st = ndimage.generate_binary_structure(a.ndim, 1)
    pa = np.argwhere(a & ~ndimage.binary_erosion(a, st, border_value=0)) * np.asarray(spacing)
    pb = np.argwhere(b & ~ndimage.binary_erosion(b, st, border_value=0)) * np.asarray(spacing)
    d = cdist(pa, pb)
    both = np.concatenate([d.min(axis=1), d.min(axis=0)])
    return float(both.max()), float(np.percentile(both, 95)), float(both.mean())


def test_boundary_equals_the_mask_minus_its_face_connected_erosion():
    rng = np.random.default_rng(0)
    for shape in [(7,), (7, 9), (4, 6, 8), (1, 1, 1), (3, 1, 4)]:
        st = ndimage.generate_binary_structure(len(shape), 1)
        for _ in range(10):
            m = rng.random(shape) < 0.7
            assert np.array_equal(boundary(m), m & ~ndimage.binary_erosion(m, st, border_value=0))


def test_boundary_of_a_batch_treats_each_mask_separately():
    rng = np.random.default_rng(1)
    batch = rng.random((3, 5, 6)) < 0.6
    out = boundary(batch, batch_axes=1)
    for k in range(3):
        assert np.array_equal(out[k], boundary(batch[k]))


def test_three_readers_match_medpy_the_single_pair_functions_and_brute_force():
    rng = np.random.default_rng(4)
    masks = [_blob(rng, (6, 24, 24)) for _ in range(3)]
    spacing = (8.0, 1.5, 1.25)
    pairs = [(0, 1), (1, 2), (2, 0)]
    for (i, j), (d, sm) in zip(pairs, pairwise_overlap_and_surfaces(masks, pairs, spacing), strict=True):
        a, b = masks[i], masks[j]
        assert d == pytest.approx(mb.dc(a, b))
        assert sm.hausdorff == pytest.approx(mb.hd(a, b, spacing))
        assert sm.hd95 == pytest.approx(mb.hd95(a, b, spacing))
        assert sm.mean_contour_distance == pytest.approx(mb.assd(a, b, spacing))
        assert d == pytest.approx(dice(a, b))
        assert tuple(sm) == pytest.approx(tuple(surface_metrics(a, b, spacing)))
        assert tuple(sm) == pytest.approx(_brute(a, b, spacing))


@pytest.mark.parametrize("shape,spacing", [((40, 44), (1.8, 1.2)), ((8, 30, 30), (10.0, 1.4, 1.4))])
def test_outlines_far_beyond_the_search_radius_match_medpy(shape, spacing, monkeypatch):
    """Centres up to 12 voxels apart: many boundary voxels have no boundary of the other mask within the
    radius, so they take the feature-transform path, mixed with near ones in the same call."""
    calls = []
    real = ndimage.distance_transform_edt

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(distances.ndimage, "distance_transform_edt", counting)
    rng = np.random.default_rng(7)
    for _ in range(3):
        masks = [_blob(rng, shape, centre_jitter=6.0) for _ in range(3)]
        pairs = [(0, 1), (1, 2), (0, 2)]
        for (i, j), (d, sm) in zip(pairs, pairwise_overlap_and_surfaces(masks, pairs, spacing), strict=True):
            a, b = masks[i], masks[j]
            assert d == pytest.approx(mb.dc(a, b))
            assert sm.hausdorff == pytest.approx(mb.hd(a, b, spacing))
            assert sm.hd95 == pytest.approx(mb.hd95(a, b, spacing))
            assert sm.mean_contour_distance == pytest.approx(mb.assd(a, b, spacing))
    assert calls, "the far voxels should have used the feature transform"


def test_a_slice_drawn_by_one_reader_only_is_measured_across_slices_by_hand():
    # Reader a: a 3x3 square on slices 0 and 1; reader b: the same square on slice 0 only. Slice spacing
    # 8 mm, pixels 1 mm. Every voxel of both is boundary (slices of 3x3 have no interior in 3D).
    a = np.zeros((2, 5, 5), dtype=bool)
    a[:, 1:4, 1:4] = True
    b = a.copy()
    b[1] = False
    d_ab, d_ba = surface_distances(a, b, (8.0, 1.0, 1.0))
    # a's slice 0 lies on b (0 mm); a's slice 1 is one slice above b's boundary: 8 mm each. b -> a: all 0.
    assert sorted(d_ab.tolist()) == [0.0] * 9 + [8.0] * 9
    assert d_ba.tolist() == [0.0] * 9
    m = surface_metrics(a, b, (8.0, 1.0, 1.0))
    assert m.hausdorff == 8.0
    assert m.mean_contour_distance == pytest.approx(72 / 27)
    assert m.hd95 == pytest.approx(np.percentile([0.0] * 18 + [8.0] * 9, 95))


def test_single_voxels_far_apart_use_the_exact_euclidean_distance():
    a = np.zeros((3, 40, 40), dtype=bool)
    b = a.copy()
    a[0, 0, 0] = True
    b[2, 37, 21] = True
    # far beyond the search radius (2 x 5 mm): sqrt((2 * 5)^2 + (37 * 1.5)^2 + (21 * 0.5)^2)
    expected = math.sqrt(10**2 + 55.5**2 + 10.5**2)
    ((d, sm),) = pairwise_overlap_and_surfaces([a, b], [(0, 1)], (5.0, 1.5, 0.5))
    assert d == 0.0
    assert tuple(sm) == pytest.approx((expected, expected, expected))


def test_pairs_with_empty_masks_follow_the_conventions_and_others_are_unaffected():
    full = np.zeros((2, 8, 8), dtype=bool)
    full[:, 2:5, 2:5] = True
    other = np.zeros_like(full)
    other[:, 3:6, 2:5] = True
    empty = np.zeros_like(full)
    out = pairwise_overlap_and_surfaces([full, empty, empty, other], [(0, 1), (1, 2), (0, 3)], (1, 1, 1))
    (d_one, sm_one), (d_none, sm_none), (d_ok, sm_ok) = out
    assert d_one == 0.0 and all(math.isnan(v) for v in sm_one)
    assert d_none == 1.0 and tuple(sm_none) == (0.0, 0.0, 0.0)
    assert d_ok == pytest.approx(mb.dc(full, other))
    assert sm_ok.hausdorff == pytest.approx(mb.hd(full, other))


def test_a_stacked_array_gives_the_same_results_as_a_list():
    rng = np.random.default_rng(3)
    masks = [_blob(rng, (5, 20, 20)) for _ in range(3)]
    pairs = [(0, 1), (2, 1)]
    assert pairwise_overlap_and_surfaces(np.stack(masks), pairs, (6.0, 1.0, 1.0)) == (
        pairwise_overlap_and_surfaces(masks, pairs, (6.0, 1.0, 1.0))
    )


def test_mismatched_shapes_and_bad_spacing_raise_value_errors():
    a = np.ones((2, 4, 4), dtype=bool)
    with pytest.raises(ValueError, match="shapes differ"):
        pairwise_overlap_and_surfaces([a, a[:, :3]], [(0, 1)], (1, 1, 1))
    with pytest.raises(ValueError, match="spacing"):
        pairwise_overlap_and_surfaces([a, a], [(0, 1)], (1, 1))
    with pytest.raises(ValueError, match="spacing"):
        pairwise_overlap_and_surfaces([a, a], [(0, 1)], (1, 0, 1))


def test_look_ups_split_into_small_chunks_give_the_same_numbers(monkeypatch):
    rng = np.random.default_rng(8)
    masks = [_blob(rng, (6, 26, 26), centre_jitter=4.0) for _ in range(3)]
    pairs = [(0, 1), (1, 2), (2, 0)]
    whole = pairwise_overlap_and_surfaces(masks, pairs, (7.0, 1.3, 1.3))
    monkeypatch.setattr(distances, "_MAX_LOOKUPS", 7)
    assert pairwise_overlap_and_surfaces(masks, pairs, (7.0, 1.3, 1.3)) == whole
