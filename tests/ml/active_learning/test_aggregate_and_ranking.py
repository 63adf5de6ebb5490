"""Aggregation from items to cases, the queue ranking and the strategy dispatch."""

from __future__ import annotations

import numpy as np
import pytest

from ml.active_learning.aggregate import aggregate_by_case, aggregate_embeddings
from ml.active_learning.ranking import rank_queue, select_batch
from ml.active_learning.strategies import STRATEGIES, Observers, PoolPrediction, case_scores

CASES = np.array([7, 3, 7, 3, 7, 5])
SCORES = np.array([0.1, 0.4, 0.9, 0.2, 0.5, 0.3])


def test_mean_aggregation_averages_each_cases_items() -> None:
    cases, s = aggregate_by_case(CASES, SCORES, "mean")
    assert cases.tolist() == [3, 5, 7]
    np.testing.assert_allclose(s, [0.3, 0.3, 0.5])


def test_max_aggregation_takes_each_cases_highest_item() -> None:
    _, s = aggregate_by_case(CASES, SCORES, "max")
    np.testing.assert_allclose(s, [0.4, 0.3, 0.9])


def test_topk_aggregation_averages_the_k_highest_items_or_all_when_fewer() -> None:
    _, s = aggregate_by_case(CASES, SCORES, "topk", k=2)
    np.testing.assert_allclose(s, [0.3, 0.3, 0.7])
    _, s1 = aggregate_by_case(CASES, SCORES, "topk", k=1)
    np.testing.assert_allclose(s1, aggregate_by_case(CASES, SCORES, "max")[1])


def test_topk_aggregation_matches_a_loop_on_random_data() -> None:
    rng = np.random.default_rng(1)
    ids = rng.integers(0, 30, size=500)
    s = rng.random(500)
    cases, got = aggregate_by_case(ids, s, "topk", k=4)
    expected = [np.sort(s[ids == c])[::-1][:4].mean() for c in cases]
    np.testing.assert_allclose(got, expected)


def test_case_embeddings_are_the_mean_of_their_items() -> None:
    cases, e = aggregate_embeddings(np.array([2, 1, 2]), np.array([[0.0, 2.0], [1.0, 1.0], [2.0, 4.0]]))
    assert cases.tolist() == [1, 2]
    np.testing.assert_allclose(e, [[1.0, 1.0], [1.0, 3.0]])


def test_rank_queue_orders_by_score_descending_and_puts_nan_last() -> None:
    ids = np.array([10, 11, 12, 13])
    order = rank_queue(ids, np.array([0.2, np.nan, 0.9, -np.inf]))
    assert order.tolist() == [12, 10, 13, 11]


def test_rank_queue_breaks_ties_by_fewer_assignments_then_by_smaller_id() -> None:
    ids = np.array([5, 2, 9, 4])
    order = rank_queue(ids, np.array([0.5, 0.5, 0.5, 0.7]), np.array([1, 1, 0, 0]), reads_per_case=2)
    assert order.tolist() == [4, 9, 2, 5]


def test_rank_queue_never_hands_out_a_case_beyond_its_reads_per_case() -> None:
    ids = np.array([1, 2, 3, 4])
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    order = rank_queue(ids, scores, np.array([2, 1, 0, 3]), reads_per_case=2)
    assert order.tolist() == [2, 3]
    # a case routed to a further reader gets one more read
    order = rank_queue(ids, scores, np.array([2, 1, 0, 3]), reads_per_case=np.array([3, 2, 2, 2]))
    assert order.tolist() == [1, 2, 3]


def test_rank_queue_skips_excluded_cases_and_honours_the_limit() -> None:
    ids = np.array([1, 2, 3, 4])
    order = rank_queue(ids, np.array([0.9, 0.8, 0.7, 0.6]), exclude=np.array([1, 3]), limit=1)
    assert order.tolist() == [2]


def test_rank_queue_agrees_with_a_python_sort_on_a_large_random_queue() -> None:
    rng = np.random.default_rng(2)
    n = 5000
    ids = rng.permutation(n)
    scores = np.round(rng.random(n), 2)  # many ties
    assigned = rng.integers(0, 3, n)
    order = rank_queue(ids, scores, assigned, 2)
    expected = [
        i for _, _, i in sorted((-s, a, i) for i, s, a in zip(ids, scores, assigned, strict=True) if a < 2)
    ]
    assert order.tolist() == expected


def _prediction(n_items: int = 12, seed: int = 0) -> PoolPrediction:
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n_items, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    mc = np.clip(probs[None] + rng.normal(0, 0.05, size=(4, n_items, 3)), 1e-3, None)
    mc /= mc.sum(axis=2, keepdims=True)
    return PoolPrediction(
        probs=probs, mc_samples=mc, tta_samples=mc[:2], embeddings=rng.normal(size=(n_items, 4))
    )


def test_every_named_strategy_selects_k_distinct_unlabelled_cases() -> None:
    pred = _prediction()
    case_ids = np.repeat(np.arange(6), 2)
    observers = Observers(first=pred.probs.argmax(axis=1) * 0)  # type: ignore[union-attr]
    for name in STRATEGIES:
        picked = select_batch(
            name, pred, 3, case_ids=case_ids, labelled_cases=np.array([0]), observers=observers
        )
        assert len(picked) == 3 and len(set(picked.tolist())) == 3, name
        assert 0 not in picked.tolist(), name


def test_select_batch_takes_the_highest_entropy_cases() -> None:
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4], [0.99, 0.01]])
    picked = select_batch("entropy", PoolPrediction(probs=probs), 2)
    assert picked.tolist() == [1, 2]


def test_unknown_strategy_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown strategy"):
        select_batch("uncertainty", _prediction(), 2)


def test_disagreement_prefers_observer_pairs_and_flags_the_case_for_a_further_reader() -> None:
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.2, 0.8]])  # model says 0, 0, 1
    first = np.array([0, 0, 1])
    second = np.array([0, 1, 1])
    obs = Observers(first=first, second=second, has_second=np.array([True, True, False]))
    cs = case_scores("disagreement", PoolPrediction(probs=probs), observers=obs)
    np.testing.assert_allclose(cs.scores, [0.0, 1.0, 0.0])
    assert cs.needs_further_reader.tolist() == [False, True, False]


def test_coreset_case_scores_rank_the_greedy_picks_first_in_pick_order() -> None:
    emb = np.arange(6, dtype=float)[:, None]
    cs = case_scores("coreset", PoolPrediction(embeddings=emb), labelled_cases=np.array([0]), max_ordered=2)
    # 5 is farthest from 0; then 2 and 3 are both 2 away from {0, 5} and the tie goes to the lower index
    assert rank_queue(cs.cases, cs.scores)[:2].tolist() == [5, 2]
    assert 0 not in cs.cases.tolist()


def test_precomputed_item_scores_are_used_when_given() -> None:
    pred = PoolPrediction(scores={"bald": np.array([0.1, 0.7, 0.3])})
    assert select_batch("bald", pred, 2).tolist() == [1, 2]
