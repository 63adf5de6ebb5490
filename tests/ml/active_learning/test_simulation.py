"""The human-free active-learning loop, with a nearest-centroid learner and a tiny torch segmenter."""

from __future__ import annotations

import numpy as np
import pytest

from ml.active_learning.learners import LearnerConfig, SegmentationLearner
from ml.active_learning.simulation import (
    LearningCurve,
    full_data_score,
    labels_to_reach,
    mean_curve,
    simulate,
)
from ml.active_learning.strategies import STRATEGIES, PoolPrediction
from ml.data.cardiac_phantom import make_cardiac_cine
from ml.segmentation.fcn import FCN, tiny

Centroids = dict[int, np.ndarray]


def _blobs(n_per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three well-separated 2-D Gaussian blobs."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = np.repeat(np.arange(3), n_per_class)
    return centres[y] + rng.normal(0, 0.5, size=(len(y), 2)), y


def _train(x: np.ndarray, y: np.ndarray, previous: Centroids | None) -> Centroids:
    return {int(c): x[y == c].mean(axis=0) for c in np.unique(y)}


def _probs(model: Centroids, x: np.ndarray) -> np.ndarray:
    """Softmax over the 3 classes of minus the distance to each known centroid (unknown: far away)."""
    d = np.stack(
        [np.linalg.norm(x - model[c], axis=1) if c in model else np.full(len(x), 50.0) for c in range(3)]
    )
    logits = -d.T
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _predict(model: Centroids, x: np.ndarray) -> PoolPrediction:
    p = _probs(model, x)
    return PoolPrediction(probs=p, mc_samples=np.stack([p, p]), tta_samples=np.stack([p, p]), embeddings=x)


def _accuracy(model: Centroids, x: np.ndarray, y: np.ndarray) -> float:
    return float((_probs(model, x).argmax(axis=1) == y).mean())


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "disagreement"])
def test_the_learning_curve_grows_in_labelled_cases_and_never_falls(strategy: str) -> None:
    x, y = _blobs(20, seed=0)
    vx, vy = _blobs(10, seed=1)
    curve = simulate(
        strategy, x, y, vx, vy, train_fn=_train, predict_fn=_predict, evaluate_fn=_accuracy,
        initial=2, batch=3, rounds=4, seed=0,
    )  # fmt: skip
    assert curve.n_labelled == [2, 5, 8, 11, 14]
    assert all(b >= a for a, b in zip(curve.score, curve.score[1:], strict=False))
    picked = [c for r in curve.selected for c in r]
    assert len(picked) == len(set(picked)) == 14


def test_cases_are_labelled_whole_and_counted_once() -> None:
    x, y = _blobs(10, seed=0)
    case_ids = np.arange(len(x)) // 3  # 10 cases of 3 items
    seen: list[int] = []

    def train(xl: np.ndarray, yl: np.ndarray, previous: Centroids | None) -> Centroids:
        seen.append(len(xl))
        return _train(xl, yl, previous)

    curve = simulate(
        "entropy", x, y, x, y, train_fn=train, predict_fn=_predict, evaluate_fn=_accuracy,
        case_ids=case_ids, initial=2, batch=[1, 2, 100], rounds=None, seed=3,
    )  # fmt: skip
    assert curve.n_labelled == [2, 3, 5, 10]  # the last round is cut to what the pool has left
    assert seen == [6, 9, 15, 30]
    assert curve.score[-1] == 1.0


def test_every_strategy_starts_from_the_same_random_initial_set_for_a_seed() -> None:
    x, y = _blobs(10, seed=0)
    first = {
        s: simulate(
            s,
            x,
            y,
            x,
            y,
            train_fn=_train,
            predict_fn=_predict,
            evaluate_fn=_accuracy,
            initial=4,
            batch=1,
            rounds=1,
            seed=7,
        ).selected[0]
        for s in ("random", "margin", "coreset")
    }
    assert first["random"] == first["margin"] == first["coreset"]


def test_labels_to_reach_and_mean_curve() -> None:
    assert labels_to_reach([2, 4, 8], [0.1, 0.5, 0.9], 0.5) == 4
    assert labels_to_reach([2, 4, 8], [0.1, 0.5, 0.9], 0.95) is None
    a = LearningCurve("x", [2, 4, 8], [0.2, 0.4, 0.6])
    b = LearningCurve("x", [2, 4], [0.4, 0.6])
    assert mean_curve([a, b]) == ([2, 4], [pytest.approx(0.3), pytest.approx(0.5)])


def test_a_tiny_segmentation_run_completes_with_the_phantom_as_oracle() -> None:
    cines = [make_cardiac_cine(i, n_slices=2, n_phases=4, size=32) for i in range(8)]
    xs = np.concatenate([c.image[:, [c.ed_phase, c.es_phase]].reshape(-1, 32, 32) for c in cines])
    ys = np.concatenate([c.labels[:, [c.ed_phase, c.es_phase]].reshape(-1, 32, 32) for c in cines])
    case_ids = np.repeat(np.arange(8), 4)
    learner = SegmentationLearner(
        lambda: FCN(tiny()), "fuse", LearnerConfig(steps_per_round=4, batch_size=4, tta=True), device="cpu"
    )
    curve = simulate(
        "tta_variance", xs[:24], ys[:24], xs[24:], ys[24:], case_ids=case_ids[:24],
        train_fn=learner.train, predict_fn=learner.predict, evaluate_fn=learner.evaluate,
        initial=2, batch=2, rounds=2, seed=0,
    )  # fmt: skip
    assert curve.n_labelled == [2, 4, 6]
    assert all(0.0 <= s <= 1.0 for s in curve.score)
    pred = learner.predict(learner.train(xs[:4], ys[:4], None), xs[:4])
    assert pred.embeddings is not None and pred.embeddings.shape[0] == 4
    assert set(pred.scores) >= {"entropy", "margin", "least_confidence", "tta_variance"}
    full = full_data_score(
        xs[:24], ys[:24], xs[24:], ys[24:], train_fn=learner.train, evaluate_fn=learner.evaluate
    )
    assert 0.0 <= full <= 1.0


def test_the_loop_labels_exactly_what_the_strategy_ranks_highest_in_order() -> None:
    """An oracle-sorted score (here: the item index) makes the picks predictable round by round."""
    x, y = _blobs(5, seed=0)  # 15 items, each its own case

    def predict(model: Centroids, xs: np.ndarray) -> PoolPrediction:
        # x identifies the item: score = its index in the pool, so the highest index goes first.
        index = np.array([int(np.flatnonzero((x == row).all(axis=1))[0]) for row in xs])
        return PoolPrediction(scores={"margin": index.astype(float)})

    curve = simulate(
        "margin", x, y, x, y, train_fn=_train, predict_fn=predict, evaluate_fn=_accuracy,
        initial=3, batch=[2, 3], rounds=None, seed=1,
    )  # fmt: skip
    start = set(curve.selected[0])
    remaining = [i for i in range(14, -1, -1) if i not in start]
    assert curve.selected[1] == remaining[:2]
    assert curve.selected[2] == remaining[2:5]
    assert curve.n_labelled == [3, 5, 8]


def _rare_class_pool(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """38 items of two common classes and 2 of a rare one, far from both."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    y = np.array([0] * 19 + [1] * 19 + [2] * 2)
    return centres[y] + rng.normal(0, 0.5, size=(len(y), 2)), y


def _balanced_accuracy(model: Centroids, x: np.ndarray, y: np.ndarray) -> float:
    pred = _probs(model, x).argmax(axis=1)
    return float(np.mean([(pred[y == c] == c).mean() for c in np.unique(y)]))


def test_a_diversity_strategy_finds_the_rare_class_with_far_fewer_labels_than_random() -> None:
    vx, vy = _blobs(10, seed=99)
    needed: dict[str, list[int]] = {"random": [], "coreset": []}
    for seed in range(8):
        x, y = _rare_class_pool(seed)
        for strategy in needed:
            curve = simulate(
                strategy, x, y, vx, vy, train_fn=_train, predict_fn=_predict,
                evaluate_fn=_balanced_accuracy, initial=2, batch=1, rounds=38, seed=seed,
            )  # fmt: skip
            n = labels_to_reach(curve.n_labelled, curve.score, 1.0)
            assert n is not None  # with the whole pool labelled every strategy gets there
            needed[strategy].append(n)
    # Core-set labels the farthest case first: both other blobs within two picks of any start.
    assert max(needed["coreset"]) <= 4
    assert np.mean(needed["random"]) > 3 * np.mean(needed["coreset"])


def test_compare_strategies_shares_the_start_and_reports_labels_to_a_fraction() -> None:
    from ml.active_learning.simulation import Pool, compare_strategies

    x, y = _rare_class_pool(0)
    vx, vy = _blobs(10, seed=99)

    class Centroid:
        train = staticmethod(_train)
        predict = staticmethod(_predict)
        evaluate = staticmethod(_balanced_accuracy)

    seen: list[tuple[str, int, int]] = []
    result = compare_strategies(
        ["random", "coreset"], Pool(x, y, np.arange(len(x)), vx, vy), make_learner=Centroid,
        initial=2, batch=2, rounds=3, seed=0,
        progress=lambda s, r, n, score: seen.append((s, r, n)),
    )  # fmt: skip
    assert result.full_data_score == 1.0
    assert result.curves["random"].selected[0] == result.curves["coreset"].selected[0]
    assert seen[0] == ("full-data", 0, 40)
    assert [s for s in seen if s[0] == "coreset"] == [("coreset", r, 2 + 2 * r) for r in range(4)]
    to = result.labels_to_fraction(0.95)
    assert to["coreset"] is not None and to["coreset"] <= 4


@pytest.mark.parametrize("warm_start", [True, False])
def test_a_learner_warm_starts_from_the_previous_model_only_when_asked(warm_start: bool) -> None:
    import torch

    x = np.random.default_rng(0).random((4, 32, 32)).astype(np.float32)
    y = np.zeros((4, 32, 32), dtype=np.int64)
    config = LearnerConfig(
        steps_per_round=1, first_round_steps=1, batch_size=2, lr=0.0, warm_start=warm_start
    )
    learner = SegmentationLearner(lambda: FCN(tiny()), "fuse", config, device="cpu")
    fresh = learner.train(x, y, None)  # lr 0: the seeded initialisation, unchanged
    shifted = learner.train(x, y, None)
    with torch.no_grad():
        for p in shifted.parameters():
            p.add_(1.0)
    again = learner.train(x, y, shifted)
    expected = shifted if warm_start else fresh
    for a, b in zip(again.parameters(), expected.parameters(), strict=True):
        assert torch.equal(a, b)
    assert learner.warm_start is warm_start


def test_affine_augmentation_moves_the_label_map_with_the_image() -> None:
    import torch

    # A bright square on a dark background, labelled 1 where bright: after any rotation and zoom, the
    # label must still be 1 exactly where the image is bright (nearest-neighbour labels, bilinear image).
    img = np.zeros((6, 32, 32), dtype=np.float32)
    img[:, 10:22, 8:20] = 1.0
    lab = (img > 0.5).astype(np.int64)
    learner = SegmentationLearner(lambda: FCN(tiny()), "fuse", LearnerConfig(augment="affine"), device="cpu")
    x = learner._inputs(img)
    g = torch.Generator().manual_seed(0)
    xa, ya = learner.augment(x, torch.as_tensor(lab), g)
    assert xa.shape == x.shape and ya.shape == (6, 32, 32) and ya.dtype == torch.int64
    assert not torch.equal(ya, torch.as_tensor(lab))  # rotated and zoomed
    bright = xa[:, 0] > (x.amin() + x.amax()) / 2
    agree = (bright == (ya == 1)).float().mean(dim=(1, 2))
    assert float(agree.min()) > 0.97  # only pixels on the square's edge may differ
    # The padding is the image's own background, not 0 (which is above it after normalisation).
    assert torch.allclose(xa[:, 0, 0, 0], x[:, 0, 0, 0], atol=1e-5)
    # "flip" only mirrors: the label is exactly the mirrored or the original map.
    flip_only = SegmentationLearner(lambda: FCN(tiny()), "fuse", LearnerConfig(), device="cpu")
    _, yf = flip_only.augment(x, torch.as_tensor(lab), torch.Generator().manual_seed(0))
    for a, b in zip(yf, torch.as_tensor(lab), strict=True):
        assert torch.equal(a, b) or torch.equal(a, b.flip(-1))


def test_balanced_batches_draw_every_labelled_class_equally_often() -> None:
    import torch

    from ml.active_learning.learners import ClassificationLearner

    learner = ClassificationLearner(
        lambda: torch.nn.Identity(), "", LearnerConfig(balanced=True), n_classes=3, device="cpu"
    )
    y = torch.tensor([0] * 90 + [1] * 9 + [2])  # 90 %, 9 %, 1 %
    w = learner._sampling_weights(y)
    assert w is not None
    # By hand: each class's items share 1/count, so each class carries the same total weight.
    per_class = [float(w[y == c].sum()) for c in range(3)]
    assert np.allclose(per_class, [1.0, 1.0, 1.0])
    draws = torch.multinomial(w, 30_000, replacement=True, generator=torch.Generator().manual_seed(0))
    share = np.bincount(y[draws].numpy(), minlength=3) / 30_000
    assert np.allclose(share, [1 / 3, 1 / 3, 1 / 3], atol=0.02)
    # Label maps (segmentation) are drawn uniformly.
    assert learner._sampling_weights(torch.zeros(4, 8, 8, dtype=torch.int64)) is None
