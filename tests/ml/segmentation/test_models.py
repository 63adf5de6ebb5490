import numpy as np
import pytest
import torch

from ml.segmentation import fcn, unet
from ml.segmentation.infer import segment_cine
from ml.training.inference import fuse_batchnorm


@pytest.mark.parametrize("make", [lambda: fcn.FCN(fcn.tiny()), lambda: unet.UNet(unet.tiny())])
def test_segmenters_map_images_to_four_class_logits_at_full_resolution(make) -> None:
    model = make().eval()
    out = model(torch.randn(2, 1, 48, 64))
    assert out.shape == (2, 4, 48, 64)


def test_fcn_rejects_sizes_that_are_not_multiples_of_16() -> None:
    with pytest.raises(ValueError):
        fcn.FCN(fcn.tiny())(torch.randn(1, 1, 40, 48))


def test_fcn_default_follows_the_paper_layout() -> None:
    model = fcn.FCN()
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 13
    assert [m.out_channels for m in model.encoder[-1].modules() if isinstance(m, torch.nn.Conv2d)] == [
        256
    ] * 3
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules()) == 4


def test_folding_batchnorm_does_not_change_the_output() -> None:
    torch.manual_seed(0)
    model = fcn.FCN(fcn.tiny())
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
    model.eval()
    x = torch.randn(2, 1, 32, 32)
    fused = fuse_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    assert torch.allclose(model(x), fused(x), atol=1e-5)


def test_segment_cine_pads_to_a_multiple_of_16_and_returns_the_input_shape() -> None:
    torch.manual_seed(0)
    model = fcn.FCN(fcn.tiny())
    cine = np.random.default_rng(0).random((2, 3, 40, 50), dtype=np.float32)
    labels = segment_cine(model, cine, torch.device("cpu"), batch_size=4)
    assert labels.shape == (2, 3, 40, 50)
    assert labels.dtype == np.uint8
    assert labels.max() <= 3


@pytest.mark.parametrize("factor", [2, 4, 16])
def test_patch_upsample_equals_the_transposed_convolution(factor) -> None:
    fast = fcn.PatchUpsample(6, 3, factor)
    reference = torch.nn.ConvTranspose2d(6, 3, factor, stride=factor)
    reference.load_state_dict(fast.state_dict())
    x = torch.randn(2, 6, 5, 7)
    assert torch.allclose(fast(x), reference(x), atol=1e-6)
