"""The adapted segmenter as deployed: a normaliser in front, the shape prior's restoration behind."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from ml.domain_adaptation.restoration import (
    PriorRestoredSegmenter,
    base_segmenter,
    restoration_config,
    restored_segmenter,
    restored_segmenter_skeleton,
)
from ml.domain_adaptation.shape_prior import IntensityNormaliser, shape_prior_network
from ml.metrics.overlap import dice
from ml.segmentation.fcn import FCN, tiny
from ml.segmentation.infer import segment_images, segment_probabilities
from ml.segmentation.unet import UNet, UNetConfig
from tests.ml.domain_adaptation.test_shape_prior import reversed_disc_setup


class Scale(nn.Module):
    """A 'segmenter' with K=2 outputs: (a * x, -a * x), so softmax class 1 is sigmoid(-2 a x)."""

    multiple = 8

    def __init__(self, a: float) -> None:
        super().__init__()
        self.a = a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a * x, -self.a * x], dim=1)


class Swap(nn.Module):
    """A 'prior' that returns the log of its probabilities with the two classes swapped."""

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        return torch.log(p.flip(1))


def test_forward_by_hand() -> None:
    x = torch.tensor([[[[0.0, 1.0], [-1.0, 2.0]]]])
    model = PriorRestoredSegmenter(Scale(1.0), Swap())
    # softmax of (x, -x): class 0 is sigmoid(2x); swapped, class 0 becomes sigmoid(-2x)
    out = torch.softmax(model(x), dim=1)
    torch.testing.assert_close(out[:, 0], torch.sigmoid(-2 * x[:, 0]))
    torch.testing.assert_close(out[:, 1], torch.sigmoid(2 * x[:, 0]))
    # a normaliser in front: x -> 3x here
    scaled = PriorRestoredSegmenter(Scale(1.0), Swap(), normaliser=_Times(3.0))
    torch.testing.assert_close(torch.softmax(scaled(x), 1)[:, 0], torch.sigmoid(-6 * x[:, 0]))


class _Times(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.k * x


def test_multiple_serves_the_segmenter_and_the_prior() -> None:
    assert PriorRestoredSegmenter(Scale(1.0), shape_prior_network(2)).multiple == 16  # lcm(8, 16)
    unet = UNet(UNetConfig(depth=5, width=4))
    assert PriorRestoredSegmenter(unet, shape_prior_network(4)).multiple == 32
    assert base_segmenter(PriorRestoredSegmenter(unet, Swap())) is unet
    assert base_segmenter(unet) is unet


@pytest.fixture(scope="module")
def reversed_contrast() -> dict[str, object]:
    """A segmenter of bright discs, a shape prior of the disc label maps, and target images with the
    contrast reversed (the segmenter's labels of them are wrong)."""
    seg, prior, target, labels = reversed_disc_setup()
    return {"seg": seg, "prior": prior, "target": target, "labels": labels}


def _mean_dice(model: nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    pred = segment_images(model, images, torch.device("cpu"))
    return float(np.mean([dice(pred == k, labels == k) for k in (1, 2)]))


def test_restoring_the_reversed_target_beats_the_plain_segmenter(reversed_contrast: dict) -> None:
    seg, prior, target, labels = (reversed_contrast[k] for k in ("seg", "prior", "target", "labels"))
    before = {k: v.clone() for k, v in seg.state_dict().items()}
    model, fitted = restored_segmenter(seg, prior, target, steps=100, lr=1e-2, seed=0)
    for k, v in seg.state_dict().items():  # the segmenter given is left as it was
        torch.testing.assert_close(v, before[k])
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert fitted.prior_loss[-1][1] < fitted.prior_loss[0][1]
    assert _mean_dice(model, target, labels) > _mean_dice(seg, target, labels) + 0.2


def test_the_wrapper_is_the_prior_applied_to_the_segmenters_probabilities(reversed_contrast: dict) -> None:
    """An independent route: the normalised segmenter's probabilities from inference, then the prior."""
    seg, prior, target = (reversed_contrast[k] for k in ("seg", "prior", "target"))
    model, fitted = restored_segmenter(seg, prior, target, steps=20, lr=1e-2, seed=0)
    probs = torch.from_numpy(segment_probabilities(fitted.model, target, torch.device("cpu"))).float()
    with torch.no_grad():
        by_hand = prior(probs).argmax(1).numpy()
    np.testing.assert_array_equal(segment_images(model, target, torch.device("cpu")), by_hand)


def test_a_saved_state_dict_loads_into_the_skeleton(reversed_contrast: dict) -> None:
    seg, prior, target = (reversed_contrast[k] for k in ("seg", "prior", "target"))
    model, _ = restored_segmenter(seg, prior, target, steps=5, lr=1e-2, seed=0)
    state = model.state_dict()
    assert {k.split(".")[0] for k in state} == {"normaliser", "segmenter", "prior"}
    assert restoration_config(model) == {"normaliser_channels": 16, "prior_classes": 4}
    fresh = restored_segmenter_skeleton(FCN(tiny()), **restoration_config(model)).eval()
    assert isinstance(fresh.normaliser, IntensityNormaliser)
    fresh.load_state_dict(state)
    x = torch.from_numpy(target[:2, None])
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x))
