"""Self-training: each round the current model's target labels (with target BatchNorm) train a new student."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml.domain_adaptation.self_training import pseudo_labels, self_train_segmenter, target_probabilities
from ml.segmentation.losses import IGNORE


class ThresholdSegmenter(nn.Module):
    """Labels a pixel `label` where the (normalised) image is above 0, else 0 (logits for 4 classes)."""

    multiple = 1

    def __init__(self, label: int) -> None:
        super().__init__()
        self.label = label
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        on = (self.bn(x) > 0).float()
        logits = torch.zeros(x.shape[0], 4, *x.shape[2:])
        logits[:, self.label] = on[:, 0] * 10
        logits[:, 0] = (1 - on[:, 0]) * 10
        return logits


def _images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 8, 8), dtype=np.float32)
    images[:, 2:6, 2:6] = 1.0  # a bright square on a dark background
    return images + rng.normal(0, 0.01, images.shape).astype(np.float32)


def test_each_round_trains_a_student_on_source_labels_and_the_current_models_target_labels():
    source, target = _images(3, 0), _images(2, 1)
    source_labels = np.zeros((3, 8, 8), dtype=np.int64)
    source_labels[:, 2:6, 2:6] = 1
    calls = []

    def train(images: np.ndarray, labels: np.ndarray, round_: int) -> nn.Module:
        calls.append((images.shape, labels.copy(), round_))
        return ThresholdSegmenter(label=2 + round_ % 2)  # each student labels with its own class

    result = self_train_segmenter(
        ThresholdSegmenter(label=1), source, source_labels, target, train=train, rounds=3
    )
    assert [c[2] for c in calls] == [0, 1, 2]
    assert all(shape == (5, 8, 8) for shape, _, _ in calls)
    square = np.zeros((8, 8), dtype=bool)
    square[2:6, 2:6] = True
    for (_, labels, _), teacher_label in zip(calls, [1, 2, 3], strict=True):
        np.testing.assert_array_equal(labels[:3], source_labels)  # the source keeps its own labels
        for pseudo in labels[3:]:  # the target is labelled by the model of the round before
            np.testing.assert_array_equal(pseudo, np.where(square, teacher_label, 0))
    assert isinstance(result.model, ThresholdSegmenter) and result.model.label == 2  # the third student
    assert [r["round"] for r in result.rounds] == [1, 2, 3]
    assert result.rounds[0]["changed_fraction"] is None
    assert result.rounds[1]["changed_fraction"] == pytest.approx(16 / 64)  # the square changed class
    assert result.rounds[0]["foreground_fraction"] == pytest.approx(16 / 64)


def test_no_rounds_return_the_teacher_and_bad_input_is_refused():
    teacher = ThresholdSegmenter(label=1)
    source, labels = _images(2, 0), np.zeros((2, 8, 8), dtype=np.int64)

    def never(images: np.ndarray, labels: np.ndarray, round_: int) -> nn.Module:
        raise AssertionError("no student should be trained")

    assert (
        self_train_segmenter(teacher, source, labels, _images(2, 1), train=never, rounds=0).model is teacher
    )
    with pytest.raises(ValueError, match="rounds"):
        self_train_segmenter(teacher, source, labels, _images(2, 1), train=never, rounds=-1)
    with pytest.raises(ValueError, match="differ"):
        self_train_segmenter(teacher, source, labels, np.zeros((2, 4, 4), np.float32), train=never, rounds=1)
    stop = self_train_segmenter(
        teacher, source, labels, _images(2, 1), train=never, rounds=2, should_stop=lambda: True
    )
    assert stop.model is teacher and stop.rounds == []


def _off_model() -> ThresholdSegmenter:
    """A model whose own BatchNorm statistics come from elsewhere: with them nothing is "on"."""
    model = ThresholdSegmenter(label=1).eval()
    with torch.no_grad():
        model.bn.running_mean.fill_(5.0)
    return model


def test_pseudo_labels_use_the_models_own_or_target_batchnorm_statistics_and_leave_the_model_alone():
    square = np.zeros((8, 8), dtype=bool)
    square[2:6, 2:6] = True
    model = _off_model()
    own = pseudo_labels(model, _images(2, 3), statistics="own")
    np.testing.assert_array_equal(own[0], 0)  # own statistics: all off
    labels = pseudo_labels(model, _images(2, 3), statistics="target")
    np.testing.assert_array_equal(labels[0], np.where(square, 1, 0))  # re-estimated on the target
    assert float(model.bn.running_mean) == 5.0  # on a copy
    with pytest.raises(ValueError, match="statistics must be one of own, target, both; got 'source'"):
        pseudo_labels(model, _images(2, 3), statistics="source")  # type: ignore[arg-type]


def test_both_statistics_average_the_two_labellers_probabilities():
    model, images = _off_model(), _images(2, 3)
    both = target_probabilities(model, images, statistics="both")
    assert both.shape == (2, 4, 8, 8)
    on = 1 / (1 + 3 * np.exp(-10.0))  # softmax of one logit of 10 against three of 0
    # Own statistics switch every pixel off (class 0); target ones switch the square on (class 1): half each.
    half = (on + (1 - on) / 3) / 2
    np.testing.assert_allclose(both[:, 0, 3, 3], half, atol=1e-6)
    np.testing.assert_allclose(both[:, 1, 3, 3], half, atol=1e-6)
    np.testing.assert_allclose(both[:, 0, 0, 0], on, atol=1e-6)  # the background is off with either
    np.testing.assert_allclose(
        both,
        0.5 * (target_probabilities(model, images, statistics="own") + target_probabilities(model, images)),
        atol=1e-7,
    )
    assert float(model.bn.running_mean) == 5.0


def test_the_co_teacher_always_labels_with_target_statistics_and_the_teacher_as_asked():
    # The co-teacher's own statistics would switch everything off; re-estimated, it labels the square 2.
    co = _off_model()
    co.label = 2
    teacher = ThresholdSegmenter(label=2).eval()
    with torch.no_grad():
        teacher.bn.running_mean.fill_(0.5)  # labels the square 2 with its own or target statistics alike
    square = np.zeros((8, 8), dtype=bool)
    square[2:6, 2:6] = True
    labels = pseudo_labels(teacher, _images(2, 3), co_teacher=co)
    np.testing.assert_array_equal(labels[0], np.where(square, 2, 0))
    # In self-training, "own" keeps the (off) teacher's statistics and "target" re-estimates them.
    source, source_labels = _images(3, 0), np.zeros((3, 8, 8), dtype=np.int64)
    seen = {}
    for statistics in ("own", "target"):

        def train(images: np.ndarray, labels: np.ndarray, round_: int, key: str = statistics) -> nn.Module:
            seen[key] = labels[3:].copy()
            return ThresholdSegmenter(label=3)

        self_train_segmenter(
            _off_model(), source, source_labels, _images(2, 1), train=train, rounds=1,
            teacher_statistics=statistics,  # type: ignore[arg-type]
        )  # fmt: skip
    np.testing.assert_array_equal(seen["own"], 0)
    np.testing.assert_array_equal(seen["target"][0], np.where(square, 1, 0))


class ConstantSegmenter(nn.Module):
    """The same 4-class logits at every pixel."""

    multiple = 1

    def __init__(self, logits: list[float]) -> None:
        super().__init__()
        self.register_buffer("logits", torch.tensor(logits))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits[None, :, None, None].expand(x.shape[0], 4, *x.shape[2:]).clone()


def test_a_co_teacher_averages_probabilities_with_the_teacher_in_the_first_round_only():
    # By hand: softmax(0, 3, 2, 0) = (0.034, 0.682, 0.251, 0.034); softmax(0, 0, 3, 0) = (0.043, 0.043,
    # 0.870, 0.043). The teacher alone says 1, the co-teacher 2; their average (0.362 for 1, 0.561 for 2) 2.
    teacher, co = ConstantSegmenter([0, 3, 2, 0]), ConstantSegmenter([0, 0, 3, 0])
    target = _images(2, 1)
    assert (pseudo_labels(teacher, target) == 1).all()
    assert (pseudo_labels(co, target) == 2).all()
    assert (pseudo_labels(teacher, target, co_teacher=co) == 2).all()
    seen = []

    def train(images: np.ndarray, labels: np.ndarray, round_: int) -> nn.Module:
        seen.append(np.unique(labels[len(images) - len(target) :]).tolist())
        return ConstantSegmenter([0, 0, 0, 5])  # the student labels 3

    source, source_labels = _images(3, 0), np.zeros((3, 8, 8), dtype=np.int64)
    self_train_segmenter(teacher, source, source_labels, target, train=train, rounds=2, co_teacher=co)
    assert seen == [[2], [3]]  # round 1: the average; round 2: the student alone


class GradedSegmenter(nn.Module):
    """Class 1 with a confidence that grows with the (normalised) image, else class 0."""

    multiple = 1

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.full((x.shape[0], 4, *x.shape[2:]), -10.0)
        logits[:, 0] = 0.0
        logits[:, 1] = 3.0 * self.bn(x)[:, 0]
        return logits


def test_students_see_only_each_classs_most_confident_target_pixels_and_ignore_the_rest():
    seen: list[np.ndarray] = []

    def train(images: np.ndarray, labels: np.ndarray, round_: int) -> nn.Module:
        seen.append(labels)
        return teacher

    teacher = GradedSegmenter()
    source, target = _images(3, 0), _images(2, 1)
    source_labels = np.zeros((3, 8, 8), np.uint8)  # unsigned, as the bench's: IGNORE must still fit
    result = self_train_segmenter(
        teacher, source, source_labels, target, train=train, rounds=1, keep_fraction=0.5
    )
    labels = seen[0]
    assert labels.dtype.kind == "i" and labels.shape == (5, 8, 8)
    np.testing.assert_array_equal(labels[:3], source_labels)
    pseudo = labels[3:]
    assert set(np.unique(pseudo).tolist()) == {IGNORE, 0, 1}
    assert (pseudo == 1).sum() == 16 and (pseudo == 0).sum() == 48  # half of 32 square, half of 96 background
    assert result.rounds[0]["ignored_fraction"] == pytest.approx(0.5)
