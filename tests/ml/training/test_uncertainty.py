import torch
from torch import nn

from ml.segmentation.fcn import FCN, FCNConfig
from ml.training.uncertainty import Augmentation, default_augmentations, mc_dropout_predict, tta_predict


def _seg_model(p: float) -> nn.Module:
    torch.manual_seed(0)
    return FCN(FCNConfig(width=4, convs_per_scale=(1, 1, 1, 1, 1), n_fuse=1, dropout=p))


def test_mc_dropout_gives_nonzero_variance_with_dropout_and_zero_without() -> None:
    x = torch.randn(2, 1, 32, 32)
    with_dropout = mc_dropout_predict(_seg_model(0.5), x, n=6)
    without = mc_dropout_predict(_seg_model(0.0), x, n=6)
    assert with_dropout.mean_probs.shape == (2, 4, 32, 32)
    assert (
        with_dropout.entropy.shape
        == with_dropout.variance.shape
        == with_dropout.mutual_info.shape
        == (2, 32, 32)
    )
    assert float(with_dropout.variance.max()) > 1e-6
    assert float(with_dropout.mutual_info.max()) > 1e-6
    assert float(without.variance.abs().max()) == 0.0
    assert float(without.mutual_info.max()) < 1e-5


def test_mc_dropout_keeps_batchnorm_frozen_and_restores_training_flags() -> None:
    model = _seg_model(0.5)
    model.train()
    running = [m.running_mean.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    mc_dropout_predict(model, torch.randn(2, 1, 32, 32) * 5 + 3, n=3)
    after = [m.running_mean for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(torch.equal(a, b) for a, b in zip(running, after, strict=True))
    assert all(m.training for m in model.modules())


def test_per_frame_uncertainty_has_one_value_per_frame() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 32), nn.Dropout(0.5), nn.Linear(32, 14))
    out = mc_dropout_predict(model, torch.randn(5, 1, 4, 4), n=8)
    assert out.mean_probs.shape == (5, 14)
    assert out.entropy.shape == out.variance.shape == (5,)
    assert torch.allclose(out.mean_probs.sum(dim=1), torch.ones(5), atol=1e-5)


def test_augmentations_invert_exactly() -> None:
    x = torch.randn(1, 3, 16, 20)
    for aug in [*default_augmentations(shift=3), Augmentation(flip_h=True, flip_w=True, dy=2, dx=-5)]:
        assert torch.equal(aug.invert(aug.apply(x)), x)


def test_tta_of_an_equivariant_model_has_zero_variance_and_of_a_positional_one_not() -> None:
    pointwise = nn.Conv2d(1, 4, 1)  # commutes with flips and circular shifts
    x = torch.randn(2, 1, 16, 16)
    assert float(tta_predict(pointwise, x).variance.abs().max()) < 1e-10

    class Positional(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            ramp = torch.linspace(-3, 3, x.shape[-1])
            return torch.cat([x + ramp, -x - ramp, x * 0, x * 0], dim=1)

    assert float(tta_predict(Positional(), x).variance.max()) > 1e-3
