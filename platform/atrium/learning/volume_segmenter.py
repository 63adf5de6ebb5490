"""The 3D (DeepMedic) segmenter for short-axis stacks, beside the 2D one: training on the read slices
grouped into volumes, validation Dice on the volume predictions (per slice, as for the 2D path), and
per-slice probabilities and uncertainty for pre-annotation and active learning. Orchestration over
ml.segmentation.deepmedic; the rest of the platform sees (S*P, K, H, W) items in the 2D order."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from atrium.learning.examples import Examples
from atrium.learning.volumes import group_volumes, training_arrays
from ml.segmentation.deepmedic import (
    DeepMedic,
    DeepMedicConfig,
    short_axis,
    slice_items,
    tiny,
    train_deepmedic,
    volume_probabilities,
)

UNCERTAINTY_STRATEGIES = ("bald", "mc_variance", "tta_variance")
IN_PLANE_OUTPUT = 9  # output segments of at least 9 x 9 voxels in-plane, 3 slices deep


def deepmedic_config(*, size: str | None, dropout: float) -> DeepMedicConfig:
    return replace(tiny() if size == "tiny" else short_axis(), dropout=dropout)


def output_size(config: DeepMedicConfig, depth: int) -> tuple[int, int, int]:
    """Training segment size: 3 slices (no more than the volumes have) by >= 9 x 9, on the pooling grid."""
    multiple = [math.lcm(1, *(f[a] for f in config.factors)) for a in range(3)]
    d = max(multiple[0], min(3, depth) // multiple[0] * multiple[0])
    h, w = (-(-IN_PLANE_OUTPUT // m) * m for m in multiple[1:])
    return d, h, w


def train_volume_segmenter(
    train: Examples, validation: Examples, *, params: dict[str, Any], dropout: float, common: dict[str, Any]
) -> tuple[DeepMedic, Any, dict[str, Any]]:
    """Train a DeepMedic on the examples' volumes; returns the model, its History and the config to
    record ({"arch": "deepmedic", "model": DeepMedicConfig fields, "output_size", "train_volumes"})."""
    config = deepmedic_config(size=params.get("size"), dropout=dropout)
    volumes, labels = training_arrays(group_volumes(train))
    kwargs: dict[str, Any] = {}
    if len(validation) > 0:
        kwargs["val_volumes"], kwargs["val_labels"] = training_arrays(group_volumes(validation))
    out = output_size(config, volumes.shape[1])
    common = {k: v for k, v in common.items() if k != "val_fraction"}
    model, history = train_deepmedic(volumes, labels, config=config, output_size=out, **common, **kwargs)
    recorded = {
        "arch": "deepmedic",
        "model": config.to_dict(),
        "output_size": list(out),
        "train_volumes": [int(n) for n in volumes.shape[:2]],
    }
    return model, history, recorded


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def evaluate_volumes(model: DeepMedic, examples: Examples) -> dict[str, float]:
    """dice_lv/dice_myo/dice_rv/dice_mean: mean Dice per slice of the volumes' predictions."""
    from ml.metrics.overlap import dice

    scores: dict[str, list[float]] = {"dice_lv": [], "dice_myo": [], "dice_rv": []}
    for volume in group_volumes(examples):
        predicted = volume_probabilities(model, volume.images, device=_device(model)).argmax(axis=0)
        for name, label in (("dice_lv", 1), ("dice_myo", 2), ("dice_rv", 3)):
            scores[name].extend(
                dice(p == label, t == label) for p, t in zip(predicted, volume.labels, strict=True)
            )
    out = {name: float(np.mean(values)) for name, values in scores.items()}
    out["dice_mean"] = float(np.mean([out["dice_lv"], out["dice_myo"], out["dice_rv"]]))
    return out


def stack_volumes(frames: np.ndarray) -> np.ndarray:
    """(S, P, H, W) cine frames (or (S, H, W), one phase) -> (P, S, H, W): one short-axis volume per phase."""
    frames = np.asarray(frames, dtype=np.float32)
    return np.ascontiguousarray(frames.reshape(frames.shape[0], -1, *frames.shape[-2:]).swapaxes(0, 1))


def case_probabilities(model: DeepMedic, volumes: np.ndarray) -> np.ndarray:
    """(P, S, H, W) volumes -> (S*P, K, H, W) per-slice probabilities, item s*P + p as on the 2D path."""
    per_phase = [slice_items(volume_probabilities(model, v, device=_device(model))) for v in volumes]
    stacked = np.stack(per_phase, axis=1)  # (S, P, K, H, W)
    return stacked.reshape(-1, *stacked.shape[2:])


def uncertainty_scores(strategy: str, model: DeepMedic, volumes: np.ndarray, *, n: int) -> np.ndarray:
    """Per-item (S*P,) BALD / MC-dropout variance / TTA variance of (P, S, H, W) volumes, item s*P + p."""
    from ml.segmentation.deepmedic_uncertainty import slice_uncertainty

    if strategy not in UNCERTAINTY_STRATEGIES:
        raise ValueError(f"strategy {strategy!r} is not an uncertainty strategy")
    per_phase = [slice_uncertainty(model, v, strategy, n=n) for v in np.asarray(volumes)]  # type: ignore[arg-type]
    return np.stack(per_phase, axis=1).reshape(-1)
