"""torch Datasets over in-memory arrays (pixel-store arrays from the platform, or the synthetic generators)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from ml.data.transforms import Transform


def _to_unit_float(a: np.ndarray) -> np.ndarray:
    """uint8 -> [0, 1]; other dtypes are cast to float32 unchanged."""
    if a.dtype == np.uint8:
        return a.astype(np.float32) / 255.0
    return a.astype(np.float32, copy=False)


class SegmentationSliceDataset(Dataset[tuple[torch.Tensor, torch.Tensor]]):
    """2D slices with label maps. images: (N, H, W) float (or uint8); labels: (N, H, W) integer classes.

    Item: (image (1, H, W) float32, label (H, W) int64).
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform: Transform | None = None) -> None:
        if images.ndim != 3 or images.shape != labels.shape:
            raise ValueError(
                f"need images and labels of the same (N, H, W) shape, got {images.shape}, {labels.shape}"
            )
        self.images = images
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = torch.from_numpy(np.ascontiguousarray(_to_unit_float(self.images[index])))[None]
        label = torch.from_numpy(np.ascontiguousarray(self.labels[index]).astype(np.int64))
        if self.transform is not None:
            image, new_label = self.transform(image, label)
            assert new_label is not None
            label = new_label
        return image, label


class PlaneFrameDataset(Dataset[tuple[torch.Tensor, int]]):
    """Ultrasound frames with one class per frame. frames: (N, H, W) or RGB (N, H, W, 3), uint8 or float;
    labels: (N,) indices into ml.data.planes.PLANES. RGB is converted to luminance.

    Item: (image (1, H, W) float32, class index).
    """

    def __init__(self, frames: np.ndarray, labels: np.ndarray, transform: Transform | None = None) -> None:
        if frames.ndim not in (3, 4) or frames.shape[0] != len(labels):
            raise ValueError(
                f"need (N, H, W[, 3]) frames and (N,) labels, got {frames.shape}, {np.shape(labels)}"
            )
        self.frames = frames
        self.labels = np.asarray(labels, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frame = _to_unit_float(self.frames[index])
        if frame.ndim == 3:
            frame = frame @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        image = torch.from_numpy(np.ascontiguousarray(frame))[None]
        if self.transform is not None:
            image, _ = self.transform(image, None)
        return image, int(self.labels[index])


def cine_to_slices(image: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a cine (S, P, H, W) (or several stacked on axis 0 as (N, S, P, H, W)) to (N*S*P, H, W) slices."""
    h, w = image.shape[-2:]
    return image.reshape(-1, h, w), labels.reshape(-1, h, w)
