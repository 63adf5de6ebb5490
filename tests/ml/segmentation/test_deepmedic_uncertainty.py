"""Per-slice MC-dropout and TTA uncertainty of a DeepMedic over one volume."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from ml.segmentation.deepmedic import DeepMedic, padded_input, tiny, volume_probabilities
from ml.segmentation.deepmedic_uncertainty import slice_uncertainty
from ml.training.uncertainty import Augmentation


def _volume(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((4, 10, 11)).astype(np.float32)


def test_without_dropout_every_sample_agrees_and_the_scores_are_zero():
    torch.manual_seed(0)
    model = DeepMedic(tiny()).eval()
    for kind in ("bald", "mc_variance"):
        scores = slice_uncertainty(model, _volume(), kind, n=3)  # type: ignore[arg-type]
        assert scores.shape == (4,) and np.allclose(scores, 0.0, atol=1e-7)


def test_dropout_gives_positive_per_slice_scores_and_leaves_the_mode_alone():
    torch.manual_seed(0)
    model = DeepMedic(replace(tiny(), dropout=0.5)).train()
    scores = slice_uncertainty(model, _volume(), "mc_variance", n=6)
    assert scores.shape == (4,) and (scores > 0).all()
    assert model.training  # restored


def test_tta_with_only_the_identity_has_no_spread():
    torch.manual_seed(0)
    model = DeepMedic(tiny()).eval()
    zero = slice_uncertainty(model, _volume(1), "tta_variance", augmentations=[Augmentation()])
    assert zero.shape == (4,) and np.allclose(zero, 0.0, atol=1e-7)
    tta = slice_uncertainty(model, _volume(1), "tta_variance")
    assert (tta > 0).all()  # flips and shifts do change an untrained model's output


def test_a_flipped_pass_maps_back_onto_the_volumes_voxels():
    torch.manual_seed(0)
    model = DeepMedic(tiny()).eval()
    # (4, 9, 12) lies on the pooling grid (1, 3, 3), so the padded input is symmetric and the flipped
    # pass must equal the prediction for the flipped volume, flipped back.
    volume = np.random.default_rng(2).random((4, 9, 12)).astype(np.float32)
    x, _, _ = padded_input(model, volume)
    with torch.no_grad():
        back = Augmentation(flip_w=True).invert(torch.softmax(model(torch.flip(x, [-1])), 1))[0]
    expected = np.flip(volume_probabilities(model, volume[..., ::-1].copy()), -1)
    assert np.allclose(back.numpy(), expected, atol=1e-5)


def test_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown uncertainty"):
        slice_uncertainty(DeepMedic(tiny()), _volume(), "entropy")  # type: ignore[arg-type]
