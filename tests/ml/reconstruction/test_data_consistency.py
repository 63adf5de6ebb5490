import numpy as np
import torch

from ml.reconstruction.data_consistency import DataConsistency
from ml.reconstruction.fft import complex_to_real, fft2c, real_to_complex
from ml.reconstruction.masks import cartesian_mask


def _inputs(shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random prediction (N, 2, ...), measured k-space and mask for it."""
    torch.manual_seed(0)
    prediction = torch.randn(shape[0], 2, *shape[1:])
    truth = torch.randn(shape, dtype=torch.complex64)
    mask = torch.from_numpy(np.stack([cartesian_mask(shape[1:], 4.0, 4, seed=i) for i in range(shape[0])]))
    return prediction, fft2c(truth) * mask, mask


def test_data_consistency_keeps_sampled_kspace_exactly() -> None:
    for shape in [(3, 32, 24), (2, 4, 32, 32)]:
        prediction, k0, mask = _inputs(shape)
        out = DataConsistency()(prediction, k0, mask)
        k_out = fft2c(real_to_complex(out))
        sampled = mask.bool()
        assert torch.allclose(k_out[sampled], k0[sampled], rtol=1e-5, atol=1e-5)


def test_data_consistency_keeps_the_prediction_where_not_sampled() -> None:
    prediction, k0, mask = _inputs((3, 32, 24))
    k_out = fft2c(real_to_complex(DataConsistency()(prediction, k0, mask)))
    k_pred = fft2c(real_to_complex(prediction))
    unsampled = ~mask.bool()
    assert torch.allclose(k_out[unsampled], k_pred[unsampled], rtol=1e-5, atol=1e-5)


def test_noisy_data_consistency_blends_with_the_lambda_weight() -> None:
    prediction, k0, mask = _inputs((2, 16, 16))
    lam = 3.0
    k_out = fft2c(real_to_complex(DataConsistency(noise_lambda=lam)(prediction, k0, mask)))
    k_pred = fft2c(real_to_complex(prediction))
    sampled = mask.bool()
    expected = (k_pred[sampled] + lam * k0[sampled]) / (1 + lam)
    assert torch.allclose(k_out[sampled], expected, rtol=1e-4, atol=1e-5)
    assert torch.allclose(k_out[~sampled], k_pred[~sampled], rtol=1e-4, atol=1e-5)
    assert not torch.allclose(k_out[sampled], k0[sampled], atol=1e-3)


def test_learnable_lambda_starts_at_its_value_and_receives_gradients() -> None:
    prediction, k0, mask = _inputs((2, 16, 16))
    layer = DataConsistency(noise_lambda=0.5, learnable=True)
    lam = layer.noise_lambda
    assert lam is not None and abs(float(lam.detach()) - 0.5) < 1e-5
    layer(prediction, k0, mask).square().sum().backward()
    assert layer.raw_lambda.grad is not None and float(layer.raw_lambda.grad.abs()) > 0


def test_noiseless_data_consistency_of_a_perfect_prediction_changes_nothing() -> None:
    torch.manual_seed(1)
    truth = torch.randn(2, 16, 16, dtype=torch.complex64)
    mask = torch.from_numpy(cartesian_mask((2, 16, 16), 4.0, 2, seed=0))
    out = DataConsistency()(complex_to_real(truth), fft2c(truth) * mask, mask)
    assert torch.allclose(out, complex_to_real(truth), atol=1e-5)
