import pytest
import torch

from ml.classification.sononet import SonoNet
from ml.classification.sononet import tiny as sono_tiny
from ml.domain_adaptation.discriminator import (
    DiscriminatorConfig,
    MultiLayerDiscriminator,
    domain_accuracy,
    domain_loss,
)
from ml.domain_adaptation.measures import feature_gap
from ml.domain_adaptation.taps import FeatureTaps, channels_of, default_taps
from ml.segmentation.deepmedic import DeepMedic
from ml.segmentation.deepmedic import tiny as dm_tiny
from ml.segmentation.fcn import FCN, tiny


def test_taps_capture_the_named_layers_with_their_shapes_and_gradients():
    model = FCN(tiny())
    names = default_taps(model)
    assert names == ("encoder.1", "encoder.3", "fuse")
    x = torch.randn(2, 1, 32, 32)
    with FeatureTaps(model, names) as taps:
        model(x)
        shapes = [tuple(f.shape) for f in taps.features]
        assert all(f.requires_grad for f in taps.features)
    assert shapes == [(2, 8, 16, 16), (2, 32, 4, 4), (2, 16, 32, 32)]
    assert channels_of(model, names, x) == [8, 32, 16]
    with pytest.raises(ValueError):
        FeatureTaps(model, ["nope"])


def test_hooks_are_removed_when_closed():
    model = FCN(tiny())
    with FeatureTaps(model, ["fuse"]):
        pass
    assert all(not m._forward_hooks for m in model.modules())


def test_discriminator_resizes_and_concatenates_maps_of_different_sizes():
    feats = [torch.randn(3, 8, 16, 16), torch.randn(3, 32, 4, 4), torch.randn(3, 16, 32, 32)]
    d = MultiLayerDiscriminator([8, 32, 16], DiscriminatorConfig(width=8, reduce=4, n_layers=3))
    out = d(feats)
    assert out.shape == (3, 1, 4, 4)  # 16 -> stride 2 twice
    d2 = MultiLayerDiscriminator([8, 32, 16], DiscriminatorConfig(width=8, reduce=4, n_layers=1), size=(8, 8))
    assert d2(feats).shape == (3, 1, 8, 8)
    with pytest.raises(ValueError):
        d(feats[:2])


def test_volumetric_discriminator_on_deepmedic_and_sononet_taps():
    dm = DeepMedic(dm_tiny())
    x = torch.randn(2, 1, *dm.input_size((2, 6, 6)))
    names = default_taps(dm)
    chans = channels_of(dm, names, x)
    d = MultiLayerDiscriminator(chans, DiscriminatorConfig(width=4, reduce=2, n_layers=2, dims=3))
    with FeatureTaps(dm, names) as taps:
        dm(x)
        assert d(taps.features).shape[:2] == (2, 1)
    sono = SonoNet(sono_tiny())
    assert default_taps(sono) == ("features.1", "features.3", "adaptation.3")


def test_domain_loss_and_accuracy_by_hand():
    logits = torch.tensor([[[[2.0]]], [[[-1.0]]], [[[0.5]]]])
    is_target = torch.tensor([1.0, 0.0, 0.0])
    assert domain_accuracy(logits, is_target) == pytest.approx(2 / 3)
    expected = (
        torch.nn.functional.softplus(torch.tensor(-2.0))
        + torch.nn.functional.softplus(torch.tensor(-1.0))
        + torch.nn.functional.softplus(torch.tensor(0.5))
    ) / 3
    assert float(domain_loss(logits, is_target)) == pytest.approx(float(expected))


def test_feature_gap_is_the_mean_effect_size():
    s = torch.tensor([[0.0, 1.0], [2.0, 3.0]])  # means (1, 2), population variances (1, 1)
    t = torch.tensor([[1.0, 5.0], [3.0, 7.0]])  # means (2, 6), population variances (1, 1)
    # channel 0: |1 - 2| / 1 = 1; channel 1: |2 - 6| / 1 = 4; mean 2.5
    assert feature_gap(s, t) == pytest.approx(2.5, rel=1e-5)
    assert feature_gap(s, s) == 0.0
