import math

import numpy as np
import pytest
from medpy.metric import binary as medpy_binary
from scipy import ndimage
from scipy.spatial.distance import cdist

from ml.metrics.distances import (
    hausdorff,
    hd95,
    mean_contour_distance,
    slice_wise,
    surface_distances,
    surface_metrics,
)


def _square(shape, r0, r1, c0, c1):
    m = np.zeros(shape, dtype=bool)
    m[r0:r1, c0:c1] = True
    return m


def test_single_pixels_are_their_euclidean_distance_apart_in_mm():
    a = np.zeros((5, 5), dtype=bool)
    b = a.copy()
    a[0, 0] = True
    b[3, 4] = True
    # rows 3 apart at 2 mm, columns 4 apart at 1 mm: sqrt(6^2 + 4^2) = sqrt(52)
    expected = math.sqrt(52)
    assert hausdorff(a, b, (2.0, 1.0)) == pytest.approx(expected)
    assert hd95(a, b, (2.0, 1.0)) == pytest.approx(expected)
    assert mean_contour_distance(a, b, (2.0, 1.0)) == pytest.approx(expected)


def test_squares_shifted_by_one_column_hand_computed():
    a = _square((7, 7), 1, 4, 1, 4)
    b = _square((7, 7), 1, 4, 2, 5)
    # Border of a: 8 ring pixels. To b's border: (1,1),(2,1),(3,1) are 1 column away, (2,3) is 1 row away
    # from (1,3)/(3,3); the other 4 lie on b's border. d_ab = [1,1,1,1,0,0,0,0], and d_ba mirrors it.
    d_ab, d_ba = surface_distances(a, b, (1.0, 1.0))
    assert sorted(d_ab.tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    assert sorted(d_ba.tolist()) == [0, 0, 0, 0, 1, 1, 1, 1]
    m = surface_metrics(a, b, (1.0, 1.0))
    # Pooled: 8 ones over 16 distances.
    assert m.hausdorff == 1.0 and m.mean_contour_distance == 0.5
    # Pooled 16 values, 8 zeros then 8 ones: the 95th percentile sits between the last two ones.
    assert m.hd95 == 1.0
    # Columns at 2 mm: the three column-offset pixels become 2 mm, the row-offset one stays 1 mm.
    # d_ab = [2,2,2,1,0,0,0,0] and d_ba mirrors it: pooled mean 14/16 = 7/8, max 2.
    m2 = surface_metrics(a, b, (1.0, 2.0))
    assert m2.hausdorff == 2.0 and m2.mean_contour_distance == pytest.approx(7 / 8)


def test_three_dimensional_masks_use_all_three_spacings():
    a = np.zeros((4, 4, 4), dtype=bool)
    b = a.copy()
    a[0, 0, 0] = True
    b[2, 1, 3] = True
    # sqrt((2*3)^2 + (1*1)^2 + (3*0.5)^2) = sqrt(36 + 1 + 2.25)
    assert hausdorff(a, b, (3.0, 1.0, 0.5)) == pytest.approx(math.sqrt(39.25))


def test_both_empty_is_zero_and_one_empty_is_nan_without_crashing():
    z = np.zeros((6, 6), dtype=bool)
    m = _square((6, 6), 1, 3, 1, 3)
    assert surface_metrics(z, z, (1, 1)) == (0.0, 0.0, 0.0)
    for x, y in ((z, m), (m, z)):
        res = surface_metrics(x, y, (1, 1))
        assert all(math.isnan(v) for v in res)
        assert (
            math.isnan(hausdorff(x, y)) and math.isnan(hd95(x, y)) and math.isnan(mean_contour_distance(x, y))
        )
    d_ab, d_ba = surface_distances(z, m, (1, 1))
    assert d_ab.size == 0 and d_ba.size == 0


def test_identical_masks_have_zero_distances_and_bad_spacing_raises():
    m = _square((8, 8), 2, 6, 1, 5)
    assert surface_metrics(m, m, 1.5) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        hausdorff(m, m, (1.0, 1.0, 1.0))
    with pytest.raises(ValueError):
        hausdorff(m, m[:4], (1.0, 1.0))


def _blob(rng, shape, n=3):
    m = np.zeros(shape, dtype=bool)
    grids = np.meshgrid(*[np.arange(s) for s in shape], indexing="ij")
    for _ in range(n):
        c = [rng.uniform(0.2, 0.8) * s for s in shape]
        r = rng.uniform(0.1, 0.25) * min(shape)
        m |= sum((g - ci) ** 2 for g, ci in zip(grids, c, strict=True)) <= r * r
    return m


def _brute_force(a, b, spacing):
    """Independent: boundary by 4/6-neighbour counting and all-pairs distances (no EDT, no crop)."""

    def border(m):
        p = np.pad(m, 1)
        inner = np.ones_like(m)
        for axis in range(m.ndim):
            for shift in (-1, 1):
                inner &= np.roll(p, shift, axis=axis)[tuple(slice(1, -1) for _ in range(m.ndim))]
        return m & ~inner

    pa = np.argwhere(border(a)) * np.asarray(spacing)
    pb = np.argwhere(border(b)) * np.asarray(spacing)
    d = cdist(pa, pb)
    d_ab, d_ba = d.min(axis=1), d.min(axis=0)
    both = np.concatenate([d_ab, d_ba])
    return both.max(), np.percentile(both, 95), both.mean()


@pytest.mark.parametrize("shape,spacing", [((48, 40), (1.8, 1.2)), ((10, 32, 28), (8.0, 1.5, 1.5))])
def test_matches_medpy_and_a_brute_force_implementation(shape, spacing):
    rng = np.random.default_rng(1)
    for _ in range(4):
        a = _blob(rng, shape)
        b = ndimage.binary_dilation(_blob(rng, shape), iterations=1)
        ours = surface_metrics(a, b, spacing)
        assert ours.hausdorff == pytest.approx(medpy_binary.hd(a, b, voxelspacing=spacing))
        assert ours.hd95 == pytest.approx(medpy_binary.hd95(a, b, voxelspacing=spacing))
        assert ours.mean_contour_distance == pytest.approx(medpy_binary.assd(a, b, voxelspacing=spacing))
        assert ours == pytest.approx(_brute_force(a, b, spacing))


def test_masks_touching_the_array_edge_match_medpy():
    a = _square((20, 20), 0, 12, 0, 9)
    b = _square((20, 20), 3, 20, 5, 20)
    ours = surface_metrics(a, b, (1.0, 2.0))
    assert ours.hausdorff == pytest.approx(medpy_binary.hd(a, b, voxelspacing=(1.0, 2.0)))
    assert ours.mean_contour_distance == pytest.approx(medpy_binary.assd(a, b, voxelspacing=(1.0, 2.0)))


def test_slice_wise_gives_one_value_per_slice_with_empty_conventions():
    a = np.zeros((3, 8, 8), dtype=bool)
    b = a.copy()
    a[0, 2:5, 2:5] = True
    b[0, 2:5, 3:6] = True
    b[1, 4, 4] = True  # slice 1: a empty, b not -> nan; slice 2 both empty -> 0
    out = slice_wise(hausdorff, a, b, (1.0, 1.0))
    assert out.shape == (3,)
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == 0.0


def test_mean_contour_distance_pools_both_directions_for_unequal_surfaces():
    a = np.zeros((7, 7), dtype=bool)
    a[3, 3] = True  # surface: 1 pixel
    b = _square((7, 7), 2, 5, 2, 5)  # surface: the 8-pixel ring around (3, 3)
    # a -> b: 1 (to the nearest ring pixel). b -> a: 4 edge-centres at 1, 4 corners at sqrt(2).
    # Pooled mean = (1 + 4 * 1 + 4 * sqrt(2)) / 9.
    assert mean_contour_distance(a, b, (1, 1)) == pytest.approx((5 + 4 * math.sqrt(2)) / 9)
    assert mean_contour_distance(a, b, (1, 1)) == pytest.approx(medpy_binary.assd(a, b))
