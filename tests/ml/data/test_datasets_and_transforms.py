import math

import numpy as np
import torch

from ml.data.datasets import PlaneFrameDataset, SegmentationSliceDataset, cine_to_slices
from ml.data.transforms import (
    Compose,
    NormalizeImage,
    RandomAffine,
    RandomIntensity,
    Sample,
    affine_warp,
    eval_transform,
    training_transform,
)


def _square(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    lab = np.zeros((n, n), dtype=np.uint8)
    lab[8:20, 10:24] = 1
    lab[12:16, 14:18] = 2
    img = lab.astype(np.float32) / 2.0
    return img, lab


def test_segmentation_dataset_returns_channel_first_float_and_long_label():
    img, lab = _square()
    ds = SegmentationSliceDataset(np.stack([img, img]), np.stack([lab, lab]))
    assert len(ds) == 2
    x, y = ds[1]
    assert x.shape == (1, 32, 32) and x.dtype == torch.float32
    assert y.shape == (32, 32) and y.dtype == torch.int64
    assert torch.equal(y, torch.from_numpy(lab.astype(np.int64)))


def test_plane_dataset_scales_uint8_and_converts_rgb_to_grey():
    frames = np.full((3, 8, 10), 255, dtype=np.uint8)
    ds = PlaneFrameDataset(frames, np.array([0, 3, 13]))
    x, y = ds[2]
    assert x.shape == (1, 8, 10) and y == 13 and isinstance(y, int)
    assert torch.allclose(x, torch.ones_like(x))
    rgb = np.zeros((2, 8, 10, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    x, _ = PlaneFrameDataset(rgb, np.array([1, 2]))[0]
    assert x.shape == (1, 8, 10) and torch.allclose(x, torch.full_like(x, 0.299))


def test_normalize_gives_zero_mean_unit_std_and_handles_constant_images():
    x = torch.rand(1, 16, 16) * 5 + 3
    out = NormalizeImage()(x).image
    assert abs(float(out.mean())) < 1e-5 and abs(float(out.std(unbiased=False)) - 1) < 1e-4
    flat = NormalizeImage()(torch.full((1, 4, 4), 2.0)).image
    assert torch.all(flat == 0)


def test_affine_identity_keeps_image_and_label():
    img, lab = _square()
    x = torch.from_numpy(img)[None]
    y = torch.from_numpy(lab.astype(np.int64))
    out = affine_warp(x, y, 0.0, 1.0)
    assert torch.allclose(out.image, x, atol=1e-6)
    assert torch.equal(out.label, y)


def test_affine_rotates_image_and_label_together_and_labels_stay_integer_classes():
    img, lab = _square()
    x = torch.from_numpy(img)[None]
    y = torch.from_numpy(lab.astype(np.int64))
    out = affine_warp(x, y, math.pi / 2, 1.0)
    assert set(out.label.unique().tolist()) <= {0, 1, 2}
    # A quarter turn maps the label exactly onto a rotated copy (32 is even, centre between pixels).
    rot = torch.rot90(y, k=1, dims=(0, 1))
    rot_alt = torch.rot90(y, k=-1, dims=(0, 1))
    assert torch.equal(out.label, rot) or torch.equal(out.label, rot_alt)
    # The image's bright pixels sit on the warped label's foreground.
    assert float(out.image[0][out.label == 2].mean()) > 0.9


def test_random_affine_is_reproducible_with_a_generator_and_scales_areas():
    lab = np.zeros((64, 64), dtype=np.uint8)
    lab[26:38, 24:40] = 1
    x = torch.from_numpy(lab.astype(np.float32))[None]
    y = torch.from_numpy(lab.astype(np.int64))
    a = RandomAffine(generator=torch.Generator().manual_seed(0))(x, y)
    b = RandomAffine(generator=torch.Generator().manual_seed(0))(x, y)
    assert torch.equal(a.image, b.image) and torch.equal(a.label, b.label)
    zoomed = affine_warp(x, y, 0.0, 2.0)
    area, zoomed_area = int((y > 0).sum()), int((zoomed.label > 0).sum())
    assert 3.5 * area <= zoomed_area <= 4.5 * area


def test_random_affine_with_zero_probability_is_identity():
    x = torch.rand(1, 8, 8)
    out = RandomAffine(p=0.0)(x, None)
    assert out.image is x and out.label is None


def test_intensity_augmentation_keeps_labels_and_range_and_changes_contrast():
    x = torch.linspace(0, 1, 64).reshape(1, 8, 8)
    y = torch.zeros(8, 8, dtype=torch.int64)
    out = RandomIntensity(gamma_range=(2.0, 2.0), contrast_range=(1.0, 1.0))(x, y)
    assert out.label is y
    assert torch.allclose(out.image, x**2, atol=1e-6)


def test_compose_returns_a_sample_and_training_transform_runs_on_a_dataset():
    img, lab = _square()
    ds = SegmentationSliceDataset(
        img[None], lab[None], transform=training_transform(torch.Generator().manual_seed(1))
    )
    x, y = ds[0]
    assert x.shape == (1, 32, 32) and y.shape == (32, 32)
    assert abs(float(x.mean())) < 1e-4
    s = Compose([NormalizeImage()])(torch.rand(1, 4, 4), None)
    assert isinstance(s, Sample)
    assert isinstance(eval_transform()(torch.rand(1, 4, 4)), Sample)


def test_cine_to_slices_flattens_slices_and_phases():
    image = np.zeros((2, 3, 8, 8), dtype=np.float32)
    labels = np.zeros((2, 3, 8, 8), dtype=np.uint8)
    labels[1, 2, 0, 0] = 3
    im, lab = cine_to_slices(image, labels)
    assert im.shape == (6, 8, 8) and lab[5, 0, 0] == 3
