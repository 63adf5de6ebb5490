import numpy as np
import pytest
import torch

from ml.domain_adaptation.confident_labels import confident_labels
from ml.segmentation.losses import IGNORE, SegmentationLoss, soft_dice_loss


def _probs() -> np.ndarray:
    # 1 image, 3 classes, 1 x 8 pixels: class 0 confident (0.9 .. 0.6), class 2 less so (0.5 .. 0.44).
    p0 = [0.9, 0.8, 0.7, 0.6, 0.25, 0.25, 0.25, 0.25]
    p2 = [0.05, 0.1, 0.15, 0.2, 0.5, 0.48, 0.46, 0.44]
    p1 = [1 - a - b for a, b in zip(p0, p2, strict=True)]
    return np.array([p0, p1, p2], dtype=np.float32)[None, :, None, :]


def test_keep_fraction_one_is_the_argmax():
    p = _probs()
    np.testing.assert_array_equal(confident_labels(p, 1.0), p.argmax(axis=1))


def test_each_class_keeps_its_own_most_confident_half():
    out = confident_labels(_probs(), 0.5)[0, 0]
    # Class 0's two most confident pixels and class 2's two, although every class-2 pixel is less
    # confident than every class-0 pixel.
    assert out.tolist() == [0, 0, IGNORE, IGNORE, 2, 2, IGNORE, IGNORE]


def test_keep_fraction_outside_zero_one_is_refused():
    with pytest.raises(ValueError):
        confident_labels(_probs(), 0.0)
    with pytest.raises(ValueError):
        confident_labels(_probs(), 1.5)


def test_ignored_pixels_give_no_loss_and_no_gradient():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 6, 6, requires_grad=True)
    target = torch.randint(0, 4, (2, 6, 6))
    target[0, :3] = IGNORE
    loss = SegmentationLoss(1.0)(logits, target)
    loss.backward()
    assert logits.grad is not None
    assert float(logits.grad[0, :, :3].abs().max()) == 0.0
    assert float(logits.grad[0, :, 3:].abs().max()) > 0.0
    # Changing the logits of ignored pixels changes nothing.
    other = logits.detach().clone()
    other[0, :, :3] = torch.randn(4, 3, 6) * 10
    assert torch.allclose(SegmentationLoss(1.0)(other, target), loss.detach())


def test_dice_loss_without_ignored_pixels_is_unchanged_by_the_mask():
    torch.manual_seed(1)
    logits, target = torch.randn(2, 4, 5, 5), torch.randint(0, 4, (2, 5, 5))
    probs = torch.softmax(logits, 1)
    onehot = torch.nn.functional.one_hot(target, 4).permute(0, 3, 1, 2).float()
    inter, denom = (probs * onehot).sum((0, 2, 3)), probs.sum((0, 2, 3)) + onehot.sum((0, 2, 3))
    expected = 1 - ((2 * inter + 1) / (denom + 1))[1:].mean()
    assert torch.allclose(soft_dice_loss(logits, target), expected)
