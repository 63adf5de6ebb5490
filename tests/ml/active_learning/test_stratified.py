"""Site-stratified selection: the batch shared across groups by need per label, then a pick within a group."""

from __future__ import annotations

import numpy as np
import pytest

from ml.active_learning.ranking import select_batch
from ml.active_learning.simulation import simulate
from ml.active_learning.strategies import PoolPrediction, case_scores
from ml.active_learning.stratified import group_counts, stratified_select

# Six cases: three from site a (case 0 labelled), two from b, one from c.
GROUPS = np.array(["a", "a", "a", "b", "b", "c"])
UNCERTAINTY = np.array([0.1, 0.5, 0.2, 0.4, 0.3, 0.2])
LABELLED = np.array([True, False, False, False, False, False])


def test_each_pick_goes_to_the_group_with_most_uncertainty_per_label_then_its_most_uncertain_case() -> None:
    # Need (mean unlabelled uncertainty): a 0.35, b 0.35, c 0.2; per (labels + 1): a 0.175, b 0.35, c 0.2.
    # b -> case 3 (b: 0.175); c -> case 5 (c is empty); a and b tie at 0.175 with one label each,
    # so a (first by name) -> case 1; then b 0.175 beats a 0.35 / 3 -> case 4; last a -> case 2.
    order = stratified_select(GROUPS, UNCERTAINTY, LABELLED, 5)
    assert order.tolist() == [3, 5, 1, 4, 2]


def test_given_labelled_counts_replace_the_count_of_labelled_cases() -> None:
    # Site b already has 3 labelled cases elsewhere: b 0.35 / 4 < a 0.35 / 2 < c 0.2 / 1.
    order = stratified_select(GROUPS, UNCERTAINTY, LABELLED, 2, labelled_counts={"a": 1, "b": 3, "c": 0})
    assert order.tolist() == [5, 1]


def test_equal_uncertainty_gives_each_pick_to_the_group_with_fewest_labels() -> None:
    groups = np.array([0, 0, 0, 0, 1, 1, 2, 2])
    labelled = np.array([True, True, False, False, False, False, False, False])
    order = stratified_select(groups, np.ones(8), labelled, 4)
    assert [int(groups[i]) for i in order] == [1, 2, 1, 2]
    assert order.tolist() == [4, 6, 5, 7]


def test_within_a_group_coreset_picks_the_case_farthest_from_everything_labelled_or_picked() -> None:
    groups = np.array(["a", "a", "a", "b", "b"])
    emb = np.array([[0.0], [1.0], [5.0], [2.0], [9.0]])
    labelled = np.array([True, False, False, False, False])
    order = stratified_select(groups, np.ones(5), labelled, 4, within="coreset", embeddings=emb)
    # b (no labels) first: 9 is farthest from 0; then a: 5 (4 from 9, 5 from 0) beats 1; then b: 2; a: 1.
    assert order.tolist() == [4, 2, 3, 1]


def test_group_counts_lists_every_group_with_zero_for_the_unlabelled_ones() -> None:
    assert group_counts(GROUPS, np.array(["a", "a"])) == {"a": 2, "b": 0, "c": 0}


def test_case_scores_ranks_the_stratified_picks_first_and_the_rest_by_uncertainty() -> None:
    # Items of cases 10 (a), 11 (a), 12 (b); case 10 is labelled.
    pred = PoolPrediction(scores={"entropy": np.array([0.9, 0.1, 0.3, 0.2, 0.2])})
    ids = np.array([10, 11, 11, 12, 12])
    groups = np.array(["a", "a", "a", "b", "b"])
    cs = case_scores(
        "site_uncertainty", pred, case_ids=ids, labelled_cases=np.array([10]), groups=groups, max_ordered=1
    )
    assert cs.cases.tolist() == [11, 12]
    assert cs.scores[1] > 1.0 > cs.scores[0]  # b has no labels: its case comes first


def test_labelled_groups_count_labelled_cases_that_are_not_in_the_prediction() -> None:
    pred = PoolPrediction(scores={"entropy": np.array([0.2, 0.2, 0.3])})
    picked = select_batch(
        "site_uncertainty", pred, 2, case_ids=np.array([1, 2, 3]), groups=np.array(["a", "a", "b"]),
        labelled_cases=np.array([7, 8]), labelled_groups=np.array(["b", "b"]),
    )  # fmt: skip
    assert picked.tolist() == [1, 2]  # a: 0.2 / 1 > b: 0.3 / 3


def test_without_groups_site_uncertainty_is_plain_uncertainty_ranking() -> None:
    pred = PoolPrediction(scores={"entropy": np.array([0.2, 0.9, 0.5])})
    assert select_batch("site_uncertainty", pred, 2).tolist() == [1, 2]


def test_site_coreset_needs_embeddings() -> None:
    with pytest.raises(ValueError, match="embeddings"):
        case_scores("site_coreset", PoolPrediction(scores={"entropy": np.ones(3)}))


def test_the_loop_passes_each_cases_site_to_the_strategy() -> None:
    # Twelve one-item cases: 0-9 from site 0, 10-11 from site 1; flat uncertainty. The start (seed 3) has
    # two site-0 cases, so site 1 gets both picks: 1 / (0 + 1), then 1 / (1 + 1) > 1 / (2 + 1).
    x = np.arange(12.0)[:, None]
    y = np.zeros(12, dtype=np.int64)
    groups = np.array([0] * 10 + [1] * 2)

    def predict(model: object, items: np.ndarray) -> PoolPrediction:
        return PoolPrediction(scores={"entropy": np.ones(len(items))}, embeddings=items)

    for strategy in ("site_uncertainty", "site_coreset"):
        curve = simulate(
            strategy, x, y, x, y, train_fn=lambda *a: None, predict_fn=predict, evaluate_fn=lambda *a: 1.0,
            initial=2, batch=2, rounds=1, seed=3, groups=groups,
        )  # fmt: skip
        start, first = curve.selected
        assert all(groups[c] == 0 for c in start)
        assert sorted(int(c) for c in first) == [10, 11]
