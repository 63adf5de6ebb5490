import numpy as np
import pytest

from ml.metrics.overlap import dice, dice_per_class, jaccard


def test_dice_and_jaccard_of_a_hand_computed_pair():
    a = np.array([1, 1, 1, 0], dtype=bool)
    b = np.array([0, 1, 1, 1], dtype=bool)
    # |A and B| = 2, |A| + |B| = 6, |A or B| = 4.
    assert dice(a, b) == pytest.approx(4 / 6)
    assert jaccard(a, b) == pytest.approx(2 / 4)


def test_dice_relates_to_jaccard_on_random_masks():
    rng = np.random.default_rng(0)
    a, b = rng.random((20, 30)) > 0.5, rng.random((20, 30)) > 0.6
    j = jaccard(a, b)
    assert dice(a, b) == pytest.approx(2 * j / (1 + j))


def test_empty_masks_agree_perfectly_and_one_empty_scores_zero():
    z = np.zeros((4, 4), dtype=bool)
    o = z.copy()
    o[1, 1] = True
    assert dice(z, z) == 1.0 and jaccard(z, z) == 1.0
    assert dice(z, o) == 0.0 and jaccard(o, z) == 0.0


def test_identical_masks_score_one_and_shape_mismatch_raises():
    m = np.eye(5, dtype=bool)
    assert dice(m, m) == 1.0 and jaccard(m, m) == 1.0
    with pytest.raises(ValueError):
        dice(m, m[:4])


def test_dice_per_class_on_label_maps():
    a = np.array([[1, 1, 2], [3, 0, 2]])
    b = np.array([[1, 2, 2], [3, 3, 0]])
    # class 1: {a: 2 px, b: 1 px, both 1} -> 2/3; class 2: a 2, b 2, both 1 -> 1/2; class 3: a 1, b 2, both 1 -> 2/3
    assert dice_per_class(a, b, (1, 2, 3)) == pytest.approx({1: 2 / 3, 2: 0.5, 3: 2 / 3})
