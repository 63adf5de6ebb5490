"""Slice normals and positions against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from atrium.imaging.geometry import group_positions, position_along_normal, slice_normal, slice_spacing


@pytest.mark.parametrize(
    ("orientation", "normal"),
    [
        ([1, 0, 0, 0, 1, 0], [0, 0, 1]),  # axial: row x, column y -> z
        ([1, 0, 0, 0, 0, -1], [0, 1, 0]),  # coronal: x cross -z = +y
        ([0, 1, 0, 0, 0, -1], [-1, 0, 0]),  # sagittal: y cross -z = -x
        ([2, 0, 0, 0, 3, 0], [0, 0, 1]),  # cosines that are not unit length are normalised
    ],
)
def test_slice_normal_is_the_unit_cross_product_of_row_and_column(orientation, normal):
    np.testing.assert_allclose(slice_normal(orientation), normal, atol=1e-12)


def test_an_oblique_short_axis_normal_matches_a_hand_computation():
    s = np.sqrt(0.5)
    # row (s, s, 0), column (0, 0, -1): row x column = (s*-1 - 0*0, 0*0 - s*-1, 0) = (-s, s, 0)
    np.testing.assert_allclose(slice_normal([s, s, 0, 0, 0, -1]), [-s, s, 0], atol=1e-12)


def test_parallel_cosines_and_short_orientations_are_rejected():
    with pytest.raises(ValueError, match="parallel"):
        slice_normal([1, 0, 0, 1, 0, 0])
    with pytest.raises(ValueError, match="6 values"):
        slice_normal([1, 0, 0])


def test_position_along_the_normal_is_the_dot_product():
    normal = slice_normal([1, 0, 0, 0, 1, 0])
    assert position_along_normal([10.0, -4.0, 37.5], normal) == pytest.approx(37.5)
    s = np.sqrt(0.5)
    assert position_along_normal([3.0, 5.0, 9.0], np.array([-s, s, 0.0])) == pytest.approx(2 * s)


def test_nearby_positions_are_grouped_and_spacing_is_the_median_gap():
    distinct = group_positions([20.0, 0.0, 10.004, 10.0, 30.0, 0.001])
    assert distinct == pytest.approx([0.0, 10.0, 20.0, 30.0])
    assert slice_spacing(distinct) == pytest.approx(10.0)
    assert slice_spacing([5.0]) is None
