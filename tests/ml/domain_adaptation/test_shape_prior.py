"""The shape prior (a denoising autoencoder of label maps) and the intensity normaliser fitted against it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml.domain_adaptation.self_training import pseudo_labels
from ml.domain_adaptation.shape_prior import (
    IntensityNormaliser,
    MeanProbabilities,
    NormalisedSegmenter,
    corrupt_labels,
    fit_normaliser,
    soft_dice_loss,
    soften,
    train_shape_prior,
)
from ml.segmentation.fcn import FCN, tiny


def disc_labels(n: int = 6, size: int = 32) -> np.ndarray:
    """Label maps of a centred disc (1) in a ring (2), radius varying per map."""
    yy, xx = np.mgrid[:size, :size]
    r = np.hypot(yy - size / 2, xx - size / 2)
    out = np.zeros((n, size, size), dtype=np.uint8)
    for i in range(n):
        inner = 5 + i % 3
        out[i][r < inner + 3] = 2
        out[i][r < inner] = 1
    return out


def test_corrupt_labels_changes_a_copy_within_the_classes_and_is_reproducible() -> None:
    labels = disc_labels()
    before = labels.copy()
    a = corrupt_labels(labels, 4, np.random.default_rng(1))
    b = corrupt_labels(labels, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(labels, before)
    np.testing.assert_array_equal(a, b)
    assert a.shape == labels.shape and a.dtype == labels.dtype
    assert a.min() >= 0 and a.max() <= 3
    changed = (a != labels).reshape(len(labels), -1).any(axis=1)
    assert changed.sum() >= len(labels) // 2  # most maps get a visible corruption


def test_soften_gives_probabilities_that_keep_an_unblurred_one_hot_argmax() -> None:
    labels = torch.from_numpy(disc_labels(2).astype(np.int64))
    onehot = torch.nn.functional.one_hot(labels, 4).permute(0, 3, 1, 2).float()
    for seed in range(6):
        p = soften(onehot, np.random.default_rng(seed))
        torch.testing.assert_close(p.sum(dim=1), torch.ones(2, 32, 32))
        assert (p >= 0).all()
        # a 3x3 mean of a one-hot map never changes the majority class away from the pixel's own in the
        # interior of a region; at least the region cores keep their class
        core = p.argmax(dim=1) == labels
        assert core.float().mean() > 0.9


def test_soft_dice_loss_by_hand() -> None:
    # two pixels, classes (bg, fg): p = fg 1 and 0; q = fg 1 and 1 -> fg dice 2*1 / (1 + 2) = 2/3
    p = torch.tensor([[0.0, 1.0], [1.0, 0.0]]).T.reshape(1, 2, 1, 2)
    q = torch.tensor([[0.0, 1.0], [0.0, 1.0]]).T.reshape(1, 2, 1, 2)
    assert float(soft_dice_loss(p, q)) == pytest.approx(1 - 2 / 3)
    assert float(soft_dice_loss(q, q)) == pytest.approx(0.0)


def test_normaliser_starts_as_the_identity_and_wraps_the_segmenter() -> None:
    norm = IntensityNormaliser()
    x = torch.randn(3, 1, 16, 16)
    torch.testing.assert_close(norm(x), x)
    seg = FCN(tiny()).eval()
    both = NormalisedSegmenter(norm, seg).eval()
    torch.testing.assert_close(both(x), seg(x))
    assert both.multiple == 16


def test_mean_probabilities_softmax_is_the_mean_of_the_members() -> None:
    class Constant(nn.Module):
        def __init__(self, logits: list[float]) -> None:
            super().__init__()
            self.logits = torch.tensor(logits).view(1, -1, 1, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.logits.expand(len(x), -1, *x.shape[2:])

    a, b = Constant([0.0, 0.0]), Constant([np.log(3.0), 0.0])  # softmax (0.5, 0.5) and (0.75, 0.25)
    out = torch.softmax(MeanProbabilities(a, b)(torch.zeros(2, 1, 4, 4)), dim=1)
    torch.testing.assert_close(out[:, 0], torch.full((2, 4, 4), 0.625))
    with pytest.raises(ValueError):
        MeanProbabilities()


def reversed_disc_setup() -> tuple[nn.Module, nn.Module, np.ndarray, np.ndarray]:
    """A segmenter trained on bright discs in rings on a dark background, a shape prior of those label maps,
    and target images with the contrast reversed (a dark disc on a bright background), with their labels."""
    from ml.segmentation.train import train_segmenter

    torch.manual_seed(0)
    labels = disc_labels(8)
    images = np.where(labels > 0, 0.8, 0.2).astype(np.float32)
    seg, _ = train_segmenter(
        images, labels, config=tiny(), max_steps=120, max_seconds=None, eval_every=None, patience=None,
        batch_size=8, lr=1e-2, seed=0, device="cpu", restore_best=False, augment=False,
    )  # fmt: skip
    prior, _ = train_shape_prior(labels, steps=150, batch_size=8, max_shift=2, seed=0)
    return seg, prior, (1.0 - images).astype(np.float32), labels


def test_shape_prior_learns_to_restore_corrupted_maps() -> None:
    labels = disc_labels(8)
    prior, losses = train_shape_prior(labels, steps=150, batch_size=8, max_shift=2, seed=0)
    assert losses[-1] < 0.5 * losses[0]
    assert not any(p.requires_grad for p in prior.parameters())
    noisy = corrupt_labels(labels, 4, np.random.default_rng(7))
    onehot = torch.nn.functional.one_hot(torch.from_numpy(noisy.astype(np.int64)), 4).permute(0, 3, 1, 2)
    restored = prior(onehot.float()).argmax(dim=1).numpy()
    assert (restored == labels).mean() > (noisy == labels).mean()


@pytest.mark.parametrize("bad", [np.zeros((0, 16, 16), np.uint8), np.full((2, 16, 16), 4, np.uint8)])
def test_shape_prior_refuses_empty_or_out_of_range_labels(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        train_shape_prior(bad, steps=1)


def test_fitting_the_normaliser_lowers_the_prior_loss_and_leaves_the_segmenter_alone() -> None:
    """A segmenter that sees a bright disc on a dark background, fitted on images with the contrast
    reversed (a dark disc on a bright background): the normaliser must remap intensities so its
    segmentations look like the prior's discs again."""
    seg, prior, target, _ = reversed_disc_setup()
    before = {k: v.clone() for k, v in seg.state_dict().items()}
    target_before = target.copy()
    fitted = fit_normaliser(seg, prior, target, steps=100, lr=1e-2, batch_size=8, seed=0)
    for k, v in seg.state_dict().items():
        torch.testing.assert_close(v, before[k])
    np.testing.assert_array_equal(target, target_before)
    losses = [loss for _, loss in fitted.prior_loss]
    assert losses[-1] < losses[0]
    assert [s for s, _ in fitted.prior_loss][-1] == 100
    # the fitted network labels the target images (as pseudo-labelling does) without error
    assert pseudo_labels(fitted.model, target, statistics="own").shape == target.shape


def test_fit_normaliser_refuses_images_that_are_not_a_stack() -> None:
    seg = FCN(tiny())
    prior = FCN(tiny())
    with pytest.raises(ValueError):
        fit_normaliser(seg, prior, np.zeros((16, 16), np.float32), steps=1)
