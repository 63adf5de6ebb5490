"""k-means, typicality and the cluster-coverage selection on hand-made embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from ml.active_learning.coverage import cluster_coverage_select, cluster_representatives, typicality
from ml.active_learning.kmeans import kmeans
from ml.active_learning.ranking import select_batch
from ml.active_learning.strategies import PoolPrediction, case_scores


def blobs(
    sizes: list[int], centres: list[tuple[float, float]], spread: float = 0.1, seed: int = 0
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [np.asarray(c) + spread * rng.standard_normal((n, 2)) for n, c in zip(sizes, centres, strict=True)]
    )


def test_kmeans_recovers_three_separated_blobs_whatever_their_sizes() -> None:
    x = blobs([40, 5, 3], [(0, 0), (10, 0), (0, 10)])
    labels, centres = kmeans(x, 3, seed=1)
    groups = [set(labels[:40]), set(labels[40:45]), set(labels[45:])]
    assert all(len(g) == 1 for g in groups)
    assert len(set.union(*groups)) == 3
    np.testing.assert_allclose(centres[labels[40]], [10, 0], atol=0.2)


def test_kmeans_never_returns_an_empty_cluster_and_caps_k_at_the_number_of_points() -> None:
    x = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    labels, _ = kmeans(x, 3, seed=0)
    assert sorted(np.bincount(labels, minlength=3).tolist())[0] >= 1
    labels2, centres2 = kmeans(x[:2], 5)
    assert len(centres2) == 2 and set(labels2) == {0, 1}


def test_typicality_is_highest_in_the_dense_middle_and_lowest_for_the_outlier() -> None:
    x = np.array([[0.0], [0.1], [-0.1], [0.2], [5.0]])
    t = typicality(x, neighbours=2)
    assert int(np.argmax(t)) == 0
    assert int(np.argmin(t)) == 4
    assert typicality(np.zeros((1, 2))).tolist() == [0.0]


def test_representative_is_the_most_typical_unlabelled_member_of_each_cluster() -> None:
    x = np.array([[0.0], [0.1], [-0.1], [3.0], [10.0], [10.2]])
    clusters = np.array([0, 0, 0, 0, 1, 1])
    labelled = np.array([True, False, False, False, True, True])
    reps = cluster_representatives(x, clusters, labelled, neighbours=2)
    assert reps == {0: 1} or reps == {0: 2}  # 0 is labelled; 3.0 is the outlier; cluster 1 is all labelled


def test_coverage_picks_the_rare_clusters_before_more_of_the_majority() -> None:
    # 85 majority points (two labelled), 9 and 6 in two far-away small groups: the first two picks are one
    # case of each small group, and each is a typical member (near its group's centre), not its outlier.
    x = blobs([85, 9, 6], [(0, 0), (6, 0), (0, 6)], spread=0.5, seed=3)
    x[93] = (7.5, 0.5)  # an outlier of the 9-point group
    picked = cluster_coverage_select(x, np.array([0, 1]), 2, seed=0)
    assert sorted(int(p) >= 94 for p in picked) == [False, True]
    assert 93 not in picked
    for p in picked:
        group = np.arange(85, 94) if p < 94 else np.arange(94, 100)
        assert np.linalg.norm(x[p] - x[group].mean(0)) < 0.8


def test_coverage_counts_every_labelled_point_and_never_repicks_one() -> None:
    # Both tight small groups already hold a labelled case: the batch goes to the wide majority.
    x = np.concatenate([blobs([60], [(0, 0)], spread=1.0, seed=4), blobs([6, 6], [(8, 0), (0, 8)], 0.05)])
    labelled = np.array([0, 60, 66])
    picked = cluster_coverage_select(x, labelled, 3, seed=0)
    assert len(picked) == 3 and len(set(picked.tolist())) == 3
    assert not set(picked.tolist()) & set(labelled.tolist())
    assert all(p < 60 for p in picked)


def test_coverage_fills_the_batch_when_clusters_run_out_and_stops_at_the_pool() -> None:
    x = np.arange(5, dtype=float)[:, None]
    assert sorted(cluster_coverage_select(x, np.array([0, 1]), 10).tolist()) == [2, 3, 4]
    assert cluster_coverage_select(x, np.arange(5), 2).tolist() == []


def test_coverage_strategy_joins_appearance_so_a_scanner_the_model_cannot_see_is_still_covered() -> None:
    # Model embeddings are identical for every case (a model that has seen only one site); appearance
    # statistics show two sites. Items: 2 per case, 30 cases, cases 27-29 from the rare site.
    n_cases = 30
    case_ids = np.repeat(np.arange(n_cases), 2)
    emb = np.ones((2 * n_cases, 4))
    rng = np.random.default_rng(0)
    appearance = 0.05 * rng.standard_normal((2 * n_cases, 20)) + 0.5
    appearance[case_ids >= 27, -4:] += 3.0  # a different noise texture
    prediction = PoolPrediction(embeddings=emb, appearance=appearance)
    picked = select_batch(
        "cluster_coverage", prediction, 1, case_ids=case_ids, labelled_cases=np.array([0, 1]), seed=0
    )
    assert int(picked[0]) >= 27
    scores = case_scores("cluster_coverage", prediction, case_ids=case_ids, labelled_cases=np.array([0, 1]))
    assert len(scores.cases) == n_cases - 2 and int(scores.cases[np.argmax(scores.scores)]) >= 27


def test_coverage_rejects_a_one_dimensional_embedding() -> None:
    with pytest.raises(ValueError):
        cluster_coverage_select(np.zeros(4), None, 1)
