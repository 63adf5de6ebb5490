from pathlib import Path

import numpy as np
import pytest
import torch

from ml.reconstruction.cascade import DataSharing, DeepCascade
from ml.reconstruction.fft import fft2c, real_to_complex
from ml.reconstruction.masks import cartesian_mask
from ml.reconstruction.simulate import undersample


def _batch(shape: tuple[int, ...], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(seed)
    image = torch.rand(shape).to(torch.complex64)
    mask = torch.from_numpy(np.stack([cartesian_mask(shape[1:], 4.0, 4, seed=i) for i in range(shape[0])]))
    x_zf, k0 = undersample(image, mask)
    return x_zf, k0, mask


def test_2d_cascade_keeps_the_input_shape() -> None:
    x_zf, k0, mask = _batch((3, 32, 24))
    out = DeepCascade.tiny("2d")(x_zf, k0, mask)
    assert out.shape == (3, 2, 32, 24)


def test_2d_plus_t_cascade_keeps_the_input_shape() -> None:
    x_zf, k0, mask = _batch((2, 6, 24, 24))
    out = DeepCascade.tiny("2d+t")(x_zf, k0, mask)
    assert out.shape == (2, 2, 6, 24, 24)


def test_cascade_output_is_consistent_with_the_measured_kspace() -> None:
    for dims, shape in (("2d", (2, 16, 16)), ("2d+t", (1, 4, 16, 16))):
        x_zf, k0, mask = _batch(shape)
        with torch.no_grad():
            out = DeepCascade.tiny(dims)(x_zf, k0, mask)  # type: ignore[arg-type]
        k_out = fft2c(real_to_complex(out))
        assert torch.allclose(k_out[mask.bool()], k0[mask.bool()], atol=1e-5)


def test_cascade_rejects_an_input_of_the_wrong_rank() -> None:
    x_zf, k0, mask = _batch((1, 4, 16, 16))
    with pytest.raises(ValueError):
        DeepCascade.tiny("2d")(x_zf, k0, mask)


def test_default_cascade_is_d5c5_with_64_filters() -> None:
    model = DeepCascade()
    assert len(model.cnns) == 5
    convs = [m for m in model.cnns[0].modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5 and convs[0].out_channels == 64 and convs[-1].out_channels == 2


def test_data_sharing_averages_the_samples_of_neighbouring_frames() -> None:
    k0 = torch.zeros(1, 5, 4, 2, dtype=torch.complex64)
    mask = torch.zeros(1, 5, 4, 2)
    # Line 1 is sampled in frames 0 (value 2) and 1 (value 4); line 3 only in frame 4 (value 6).
    k0[0, 0, 1], mask[0, 0, 1] = 2, 1
    k0[0, 1, 1], mask[0, 1, 1] = 4, 1
    k0[0, 4, 3], mask[0, 4, 3] = 6, 1
    mean_k, count = DataSharing(window=1).shared(k0, mask)
    assert torch.allclose(mean_k[0, 0, 1].real, torch.tensor(3.0))  # frames 4, 0, 1
    assert torch.allclose(mean_k[0, 2, 1].real, torch.tensor(4.0))  # frames 1, 2, 3
    assert torch.allclose(mean_k[0, 0, 3].real, torch.tensor(6.0))  # frame 4 wraps around to frame 0
    assert torch.all(count[0, 2, 3] == 0) and torch.all(count[0, 3, 3] == 1)


def test_checkpoint_round_trip_gives_identical_outputs(tmp_path: Path) -> None:
    x_zf, k0, mask = _batch((2, 1, 16, 16))
    torch.manual_seed(3)
    model = DeepCascade.tiny("2d+t", noise_lambda=0.1).eval()
    torch.save({"config": model.config, "state_dict": model.state_dict()}, tmp_path / "cascade.pt")
    saved = torch.load(tmp_path / "cascade.pt")
    restored = DeepCascade(**saved["config"])
    restored.load_state_dict(saved["state_dict"])
    restored.eval()
    with torch.no_grad():
        assert torch.equal(model(x_zf, k0, mask), restored(x_zf, k0, mask))
