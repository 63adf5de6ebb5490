"""Self-training on the target scanner after adversarial adaptation: pseudo-labels, then a new student.

Each round, the current model (first the adversarially adapted one) labels the unlabelled target images:
these are the pseudo-labels. A fresh student is then trained on the labelled source images together with
the pseudo-labelled target images, and becomes the model of the next round. No target label is used.

The first round may also ask a co-teacher, the source model before adaptation: the pseudo-labels are then
the most likely class of the two models' averaged probabilities. The adversarial stage is unstable (on one
development run it ended far below the source model), and the average hedges it.
The first teacher need not be the adversarial model: bench/domain_shift.py and the adapt job default to the
source model behind an intensity normaliser fitted against a shape prior (ml.domain_adaptation.shape_prior),
which labelled the development vendors better.

BatchNorm statistics when labelling (`teacher_statistics`): the co-teacher never saw a target image, so it
labels with statistics re-estimated on the target images (`recalibrate_batchnorm`, AdaBN). The teacher and
the students did train on target images (the adversarial stage and the students pass target batches of
their own through the network), so either their own statistics ("own") or re-estimated ones ("target", as
this module did before) may suit them; by default ("both") each labels with the mean of its probabilities
under the two. Which is better differed between the synthetic vendors: re-estimating lowered the adapted
teacher's target Dice on every development vendor run but raised it on every GE run, and the mean was within
0.003 of the better one on the development vendors (figures in bench/domain_shift.py).

The number of rounds (3), the co-teacher, the students' budget (twice the source model's steps) and the
final model (the last student as trained) were chosen on a development vendor outside the benchmark (see
bench/domain_shift.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ml.domain_adaptation.batchnorm import recalibrate_batchnorm
from ml.domain_adaptation.confident_labels import confident_labels
from ml.domain_adaptation.segmentation import normalised_batch
from ml.segmentation.infer import segment_probabilities
from ml.segmentation.losses import IGNORE

DEFAULT_ROUNDS = 3

# train(images, labels, round) -> a new model trained on them
TrainStudent = Callable[[np.ndarray, np.ndarray, int], nn.Module]


@dataclass
class SelfTrainingResult:
    """The last student (the teacher unchanged when rounds is 0) and, per round, what its pseudo-labels
    looked like: the foreground fraction and the fraction of pixels whose label changed from the round
    before (labels-free signs of convergence)."""

    model: nn.Module
    rounds: list[dict[str, Any]] = field(default_factory=list)


Statistics = Literal["own", "target", "both"]
STATISTICS: tuple[Statistics, ...] = ("own", "target", "both")


def target_probabilities(
    model: nn.Module,
    target_images: np.ndarray,
    device: torch.device | None = None,
    statistics: Statistics = "target",
) -> np.ndarray:
    """(M, K, H, W) softmax probabilities of `model` on the target images: with its BatchNorm statistics
    re-estimated on them ("target"; the model itself is untouched), with its own ("own"), or the mean of
    the two ("both")."""
    if statistics not in STATISTICS:
        raise ValueError(f"statistics must be one of {', '.join(STATISTICS)}; got {statistics!r}")
    dev = device or torch.device("cpu")
    images = np.asarray(target_images)
    probs = []
    if statistics in ("own", "both"):
        probs.append(segment_probabilities(model, images, dev))
    if statistics in ("target", "both"):
        probs.append(
            segment_probabilities(recalibrate_batchnorm(model, normalised_batch(images).to(dev)), images, dev)
        )
    return probs[0] if len(probs) == 1 else 0.5 * (probs[0] + probs[1])


def pseudo_labels(
    model: nn.Module,
    target_images: np.ndarray,
    device: torch.device | None = None,
    co_teacher: nn.Module | None = None,
    keep_fraction: float = 1.0,
    statistics: Statistics = "both",
) -> np.ndarray:
    """(M, H, W) labels of the target images by `model`, with its own BatchNorm statistics or ones
    re-estimated on the target images (`statistics`; the model is untouched); with a co_teacher, the most
    likely class of the two models' averaged probabilities, the co-teacher always with target statistics.
    keep_fraction < 1: only that most confident fraction of each class's pixels keep a label, the rest are
    IGNORE."""
    probs = target_probabilities(model, target_images, device, statistics)
    if co_teacher is not None:
        probs = 0.5 * (probs + target_probabilities(co_teacher, target_images, device))
    return confident_labels(probs, keep_fraction)


def self_train_segmenter(
    teacher: nn.Module,
    source_images: np.ndarray,
    source_labels: np.ndarray,
    target_images: np.ndarray,
    *,
    train: TrainStudent,
    rounds: int = DEFAULT_ROUNDS,
    co_teacher: nn.Module | None = None,
    keep_fraction: float = 1.0,
    teacher_statistics: Statistics = "both",
    device: torch.device | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> SelfTrainingResult:
    """`rounds` rounds of pseudo-labelling the target and training a student on source + target.

    source_images/labels: (N, H, W) with labels; target_images: (M, H, W), no labels, same H, W.
    `train` builds and trains a new model (the caller picks its architecture and budget); co_teacher
    (e.g. the source model the teacher was adapted from) labels the first round together with the teacher.
    keep_fraction < 1: students see only the most confident fraction of each class's target pixels (the
    others are labelled IGNORE, which the segmentation loss leaves out). teacher_statistics: the BatchNorm
    statistics the teacher and each student label with (see the module docstring).
    """
    if rounds < 0:
        raise ValueError(f"rounds must be 0 or more, got {rounds}")
    source_images, source_labels = np.asarray(source_images), np.asarray(source_labels)
    target_images = np.asarray(target_images)
    if source_images.shape[1:] != target_images.shape[1:]:
        raise ValueError(
            f"target images {target_images.shape[1:]} differ from source {source_images.shape[1:]}"
        )
    model, log, previous = teacher, [], None
    # Room for IGNORE (-1) next to unsigned source labels.
    label_dtype = np.promote_types(source_labels.dtype, np.int8)
    images = np.concatenate([source_images, target_images.astype(source_images.dtype)])
    for r in range(rounds):
        if should_stop is not None and should_stop():
            break
        labels = pseudo_labels(
            model, target_images, device, co_teacher if r == 0 else None, keep_fraction, teacher_statistics
        )
        log.append(
            {
                "round": r + 1,
                "foreground_fraction": round(float((labels > 0).mean()), 4),
                "ignored_fraction": round(float((labels == IGNORE).mean()), 4),
                "changed_fraction": None
                if previous is None
                else round(float((labels != previous).mean()), 4),
            }
        )
        model = train(images, np.concatenate([source_labels, labels]).astype(label_dtype), r)
        previous = labels
    return SelfTrainingResult(model, log)
