"""Hand-computed small cases for every scoring function."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ml.active_learning import scoring


def test_random_scores_are_reproducible_from_the_seed_and_differ_between_seeds() -> None:
    a, b, c = scoring.random_scores(50, 3), scoring.random_scores(50, 3), scoring.random_scores(50, 4)
    assert a.shape == (50,)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_entropy_of_a_fair_coin_is_ln_2_and_of_a_certain_prediction_is_zero() -> None:
    probs = np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]])
    h = scoring.entropy(probs)
    expected_third = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    np.testing.assert_allclose(h, [math.log(2), 0.0, expected_third], atol=1e-9)


def test_least_confidence_is_one_minus_the_top_probability() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.4, 0.35, 0.25]])
    np.testing.assert_allclose(scoring.least_confidence(probs), [0.3, 0.6])


def test_margin_is_one_minus_the_gap_between_the_two_most_likely_classes() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.45, 0.45], [0.0, 1.0, 0.0]])
    np.testing.assert_allclose(scoring.margin(probs), [1 - 0.5, 1.0, 0.0], atol=1e-12)


def test_per_pixel_scores_are_averaged_over_all_pixels_or_over_the_predicted_foreground() -> None:
    # One item, 2 classes, 1 x 4 pixels: two confident background pixels, two uncertain foreground ones.
    probs = np.zeros((1, 2, 1, 4))
    probs[0, 0, 0] = [1.0, 1.0, 0.4, 0.2]
    probs[0, 1, 0] = 1.0 - probs[0, 0, 0]
    lc_map = np.array([0.0, 0.0, 0.4, 0.2])
    np.testing.assert_allclose(scoring.least_confidence(probs), [lc_map.mean()])
    np.testing.assert_allclose(scoring.least_confidence(probs, reduction="foreground"), [0.3])


def test_foreground_reduction_falls_back_to_all_pixels_when_nothing_is_foreground() -> None:
    scores = np.array([[[0.1, 0.3]], [[0.2, 0.6]]])  # (2, 1, 2)
    fg = np.array([[[False, False]], [[False, True]]])
    np.testing.assert_allclose(scoring.reduce_per_item(scores, "foreground", fg), [0.2, 0.6])


def test_bald_is_zero_when_all_mc_samples_agree() -> None:
    p = np.array([[0.8, 0.2], [0.5, 0.5]])
    samples = np.stack([p, p, p])
    np.testing.assert_allclose(scoring.bald(samples), [0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(scoring.mc_variance(samples), [0.0, 0.0], atol=1e-15)


def test_bald_of_two_confident_samples_that_disagree_is_ln_2() -> None:
    samples = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])  # (T=2, N=1, C=2)
    np.testing.assert_allclose(scoring.bald(samples), [math.log(2)], atol=1e-9)
    # variance of each class probability over the samples is 0.25, averaged over classes 0.25
    np.testing.assert_allclose(scoring.mc_variance(samples), [0.25])


def test_bald_ranks_disagreeing_samples_above_a_uniformly_uncertain_but_consistent_item() -> None:
    consistent = np.array([[0.5, 0.5]] * 4)
    disagreeing = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]])
    samples = np.stack([consistent, disagreeing], axis=1)  # (4, 2, 2)
    b = scoring.bald(samples)
    assert b[0] == pytest.approx(0.0, abs=1e-12)
    assert b[1] > 0.3


def test_bald_works_on_per_pixel_samples() -> None:
    samples = np.zeros((2, 1, 2, 2, 2))
    samples[0, 0, 0] = 1.0  # sample 0: class 0 everywhere
    samples[1, 0, 0, 0, 0] = 1.0  # sample 1: class 0 at one pixel, class 1 at the other three
    samples[1, 0, 1] = 1.0 - samples[1, 0, 0]
    np.testing.assert_allclose(scoring.bald(samples), [0.75 * math.log(2)], atol=1e-9)


def test_tta_variance_is_the_variance_over_augmentations_averaged_over_classes() -> None:
    preds = np.array([[[0.6, 0.4]], [[0.8, 0.2]]])  # (A=2, N=1, C=2)
    np.testing.assert_allclose(scoring.tta_variance(preds), [0.01])


def test_k_center_greedy_on_a_line_picks_the_extremes_first() -> None:
    x = np.arange(11, dtype=float)[:, None]
    order = scoring.k_center_greedy(x, None, 3)
    assert set(order[:2].tolist()) == {0, 10}
    assert order[2] == 5


def test_k_center_greedy_keeps_away_from_labelled_points_and_never_picks_them() -> None:
    x = np.arange(11, dtype=float)[:, None]
    order = scoring.k_center_greedy(x, np.array([0]), 2)
    assert order.tolist() == [10, 5]
    mask = np.zeros(11, bool)
    mask[[0, 10]] = True
    order = scoring.k_center_greedy(x, mask, 11)
    assert len(order) == 9 and not ({0, 10} & set(order.tolist()))
    assert order[0] == 5


def test_k_center_greedy_matches_a_brute_force_farthest_point_search() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5))
    labelled = [3, 17]
    order = scoring.k_center_greedy(x, np.array(labelled), 10)
    chosen = list(labelled)
    for j in order:
        d = np.min(np.linalg.norm(x[:, None] - x[chosen][None], axis=2), axis=1)
        d[chosen] = -1
        assert j == int(np.argmax(d))
        chosen.append(int(j))


def test_hybrid_select_runs_k_center_among_the_most_uncertain_only() -> None:
    x = np.arange(10, dtype=float)[:, None]
    u = np.array([0.0, 0.0, 0.0, 0.9, 0.8, 0.7, 0.0, 0.0, 0.6, 0.0])
    picked = scoring.hybrid_select(u, x, np.array([0]), 2, pool_factor=2.0)
    assert set(picked.tolist()) <= {3, 4, 5, 8}
    assert picked[0] == 8  # farthest from the labelled point 0 among the candidates
    assert picked[1] == 4  # then farthest from {0, 8} among the rest (3 and 5 are 3 away, 4 is 4 away)


def test_hybrid_scores_weight_uncertainty_and_distance_and_exclude_labelled() -> None:
    x = np.array([[0.0], [1.0], [4.0]])
    u = np.array([0.0, 1.0, 0.0])
    s = scoring.hybrid_scores(u, x, np.array([0]), weight=0.5)
    assert s[0] == -np.inf
    np.testing.assert_allclose(s[1:], [0.5 * 1.0 + 0.5 * 0.0, 0.5 * 0.0 + 0.5 * 1.0])


def test_mask_disagreement_is_one_minus_mean_foreground_dice() -> None:
    a = np.zeros((2, 4, 4), np.uint8)
    b = np.zeros((2, 4, 4), np.uint8)
    a[0, :2, :2] = 1  # 4 pixels
    b[0, :2, :1] = 1  # 2 pixels, both inside a: Dice = 2*2/6
    a[0, 3, 3] = 2
    b[0, 3, 3] = 2  # class 2 agrees exactly
    np.testing.assert_allclose(scoring.mask_disagreement(a, b), [1 - (4 / 6 + 1.0) / 2, 0.0])


def test_label_disagreement_is_the_mismatch_rate_per_item() -> None:
    a = np.array([[1, 2, 3, 4], [0, 0, 0, 0]])
    b = np.array([[1, 2, 0, 0], [0, 0, 0, 0]])
    np.testing.assert_allclose(scoring.label_disagreement(a, b), [0.5, 0.0])
    np.testing.assert_allclose(scoring.label_disagreement(np.array([1, 2]), np.array([1, 3])), [0.0, 1.0])


def test_disagreement_flags_cases_for_a_further_reader_above_the_threshold() -> None:
    a = np.zeros((2, 4, 4), np.uint8)
    b = a.copy()
    a[:, :2, :2] = 1
    b[0, :2, :2] = 1  # item 0 agrees, item 1: the second reader drew nothing
    d = scoring.disagreement(a, b, kind="mask")
    np.testing.assert_allclose(d.score, [0.0, 1.0])
    assert d.needs_further_reader.tolist() == [False, True]
    planes = scoring.disagreement(np.array([3, 4, 5]), np.array([3, 4, 6]), kind="label")
    assert planes.needs_further_reader.tolist() == [False, False, True]
