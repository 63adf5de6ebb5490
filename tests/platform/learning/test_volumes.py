"""Grouping 2D cardiac examples into short-axis volumes for the 3D segmenter: by case, reader and phase,
consecutive slices only, and windows of one depth for training."""

from __future__ import annotations

import numpy as np
import pytest

from atrium.learning.examples import Examples
from atrium.learning.volumes import group_volumes, training_arrays


def _examples(keys: list[tuple[int, int, int, int]]) -> Examples:
    """keys: (case, reader, slice, phase); image i is filled with i so each slice can be traced."""
    n = len(keys)
    images = np.stack([np.full((2, 3), i, np.float32) for i in range(n)])
    labels = (images % 4).astype(np.uint8)
    return Examples(images, labels, [k[0] for k in keys], items=[(k[1], k[2], k[3]) for k in keys])


def test_slices_of_one_case_reader_and_phase_stack_in_slice_order():
    examples = _examples([(7, 1, 3, 0), (7, 1, 2, 0), (7, 1, 2, 5), (7, 1, 3, 5), (7, 2, 2, 0)])
    volumes = group_volumes(examples)
    by_key = {(v.case_id, v.phase, v.slices): v for v in volumes}
    assert len(volumes) == 3
    first = by_key[(7, 0, (2, 3))]
    assert first.images[:, 0, 0].tolist() == [1, 0]  # slice 2 (example 1) before slice 3 (example 0)
    assert by_key[(7, 5, (2, 3))].images[:, 0, 0].tolist() == [2, 3]
    assert by_key[(7, 0, (2,))].images[:, 0, 0].tolist() == [4]  # the second reader's own volume
    assert sum(v.depth for v in volumes) == len(examples)


def test_a_gap_in_the_read_slices_starts_a_new_volume():
    volumes = group_volumes(_examples([(1, 1, 0, 0), (1, 1, 1, 0), (1, 1, 4, 0)]))
    assert sorted(v.slices for v in volumes) == [(0, 1), (4,)]


def test_examples_without_items_are_one_slice_volumes():
    examples = Examples(np.zeros((3, 2, 2), np.float32), np.zeros((3, 2, 2), np.uint8), [1, 1, 2])
    assert [v.depth for v in group_volumes(examples)] == [1, 1, 1]


def test_subsets_keep_the_items_the_volumes_are_grouped_by():
    examples = _examples([(1, 1, 0, 0), (2, 1, 1, 0), (1, 1, 1, 0)])
    part = examples.subset(np.array([True, False, True]))
    assert part.case_ids == [1, 1] and part.items == [(1, 0, 0), (1, 1, 0)]
    assert [v.slices for v in group_volumes(part)] == [(0, 1)]


def test_training_arrays_slide_windows_of_the_shallowest_depth():
    # One 3-slice volume and one 2-slice volume -> windows of 2: two from the first, one from the second.
    examples = _examples([(1, 1, 0, 0), (1, 1, 1, 0), (1, 1, 2, 0), (2, 1, 5, 0), (2, 1, 6, 0)])
    images, labels = training_arrays(group_volumes(examples))
    assert images.shape == (3, 2, 2, 3) and labels.shape == (3, 2, 2, 3)
    assert images[:, :, 0, 0].tolist() == [[0, 1], [1, 2], [3, 4]]
    assert labels.dtype == np.uint8 and images.dtype == np.float32


def test_training_arrays_of_no_volumes_is_an_error():
    with pytest.raises(ValueError, match="no volumes"):
        training_arrays([])
