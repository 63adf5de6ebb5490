import numpy as np

from ml.segmentation.contours import (
    contours_to_label_map,
    label_map_to_contours,
    mask_to_contours,
    polygon_to_mask,
    polygons_to_mask,
    signed_area,
    simplify,
)


def test_rectangle_rasterises_to_the_hand_computed_pixels() -> None:
    square = np.array([[1, 1], [4, 1], [4, 3], [1, 3]], dtype=float)  # (x, y)
    expected = np.zeros((6, 6), dtype=bool)
    expected[1:3, 1:4] = True  # rows 1-2, columns 1-3: left/top edges in, right/bottom out
    assert np.array_equal(polygon_to_mask(square, (6, 6)), expected)


def test_triangle_rasterises_to_the_hand_computed_pixels() -> None:
    triangle = np.array([[0, 0], [4, 0], [0, 4]], dtype=float)
    expected = np.array(
        [
            [1, 1, 1, 1, 0],
            [1, 1, 1, 0, 0],
            [1, 1, 0, 0, 0],
            [1, 0, 0, 0, 0],
            [0, 0, 0, 0, 0],
        ],
        dtype=bool,
    )
    assert np.array_equal(polygon_to_mask(triangle, (5, 5)), expected)


def test_even_odd_makes_a_hole_where_nonzero_fills() -> None:
    outer = np.array([[0, 0], [8, 0], [8, 8], [0, 8]], dtype=float)
    inner = np.array([[2, 2], [6, 2], [6, 6], [2, 6]], dtype=float)  # same orientation
    evenodd = polygons_to_mask([outer, inner], (8, 8), "evenodd")
    nonzero = polygons_to_mask([outer, inner], (8, 8), "nonzero")
    assert evenodd.sum() == 64 - 16 and not evenodd[3, 3]
    assert nonzero.sum() == 64 and nonzero[3, 3]


def test_polygon_outside_the_image_is_clipped() -> None:
    big = np.array([[-5, -5], [20, -5], [20, 2], [-5, 2]], dtype=float)
    mask = polygon_to_mask(big, (4, 4))
    assert mask[:2].all() and not mask[2:].any()


def test_mask_contour_round_trip_is_exact_for_random_masks() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = rng.random((24, 30)) > 0.55
        assert np.array_equal(polygons_to_mask(mask_to_contours(mask), mask.shape, "evenodd"), mask)


def test_disc_contour_has_the_expected_area_and_orientation() -> None:
    yy, xx = np.mgrid[:40, :40]
    disc = (yy - 20) ** 2 + (xx - 18) ** 2 < 10**2
    contours = mask_to_contours(disc)
    assert len(contours) == 1
    # Marching squares cuts the pixel corners: the polygon's area is a bit under the pixel count.
    assert 0.9 * disc.sum() < abs(signed_area(contours[0])) <= disc.sum()
    assert signed_area(contours[0]) < 0  # outer boundaries run counter-clockwise on screen


def test_ring_gives_an_outer_boundary_and_a_hole() -> None:
    yy, xx = np.mgrid[:40, :40]
    r2 = (yy - 20) ** 2 + (xx - 20) ** 2
    ring = (r2 < 12**2) & (r2 >= 6**2)
    outer, hole = mask_to_contours(ring)
    assert signed_area(outer) < 0 < signed_area(hole)


def test_cardiac_label_map_round_trips_through_endo_epi_and_rv_contours() -> None:
    yy, xx = np.mgrid[:64, :64]
    labels = np.zeros((64, 64), dtype=np.uint8)
    d2 = (yy - 32) ** 2 + (xx - 36) ** 2
    labels[d2 < 14**2] = 2
    labels[d2 < 9**2] = 1
    labels[((yy - 32) ** 2 + (xx - 14) ** 2 < 9**2) & (labels == 0)] = 3
    contours = label_map_to_contours(labels)
    assert [len(contours[k]) for k in ("lv_endo", "lv_epi", "rv_endo")] == [1, 1, 1]
    assert np.array_equal(contours_to_label_map(contours, labels.shape), labels)


def test_simplify_keeps_the_corners_of_a_traced_square() -> None:
    mask = np.zeros((20, 20), dtype=bool)
    mask[4:12, 5:15] = True
    contour = mask_to_contours(mask)[0]
    simple = simplify(contour, tolerance=0.75)
    assert 4 <= len(simple) <= 8 < len(contour)
    assert np.array_equal(polygon_to_mask(simple, mask.shape), mask)
