import numpy as np
import torch

from ml.reconstruction.baselines import _gradient, _gradient_adjoint, cs_tv, tune_cs_lambda, zero_filled
from ml.reconstruction.fft import ifft2c
from ml.reconstruction.masks import cartesian_mask
from ml.reconstruction.simulate import undersample


def _discs(n: int, size: int = 48, seed: int = 0) -> torch.Tensor:
    """Piecewise-constant images of overlapping discs, complex (n, size, size)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    images = np.zeros((n, size, size), dtype=np.float32)
    for image in images:
        for _ in range(5):
            cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.08, 0.25)
            image[(xx - cx) ** 2 + (yy - cy) ** 2 < r * r] = rng.uniform(0.2, 1.0)
    return torch.from_numpy(images).to(torch.complex64)


def _mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.abs() - b.abs()) ** 2).mean())


def test_zero_filled_is_the_inverse_fft_of_the_measured_kspace() -> None:
    truth = _discs(2)
    mask = torch.from_numpy(cartesian_mask((2, 48, 48), 4.0, 6, seed=0))
    x_zf, k0 = undersample(truth, mask)
    assert torch.allclose(zero_filled(k0), ifft2c(k0))
    assert torch.allclose(torch.stack((zero_filled(k0).real, zero_filled(k0).imag), 1), x_zf)


def test_gradient_adjoint_satisfies_the_inner_product_identity() -> None:
    torch.manual_seed(0)
    x = torch.randn(3, 10, 12, dtype=torch.complex64)
    g = torch.randn(2, 3, 10, 12, dtype=torch.complex64)
    lhs = torch.vdot(_gradient(x).flatten(), g.flatten())
    rhs = torch.vdot(x.flatten(), _gradient_adjoint(g).flatten())
    assert torch.allclose(lhs, rhs, rtol=1e-4, atol=1e-3)


def test_tv_compressed_sensing_beats_zero_filling_on_piecewise_constant_images() -> None:
    truth = _discs(3)
    mask = torch.from_numpy(cartesian_mask((3, 48, 48), 4.0, 6, seed=1))
    _, k0 = undersample(truth, mask)
    recon = cs_tv(k0, mask, lam=1e-3, iterations=60)
    assert recon.shape == truth.shape
    assert _mse(recon, truth) < 0.25 * _mse(zero_filled(k0), truth)


def test_cs_with_a_tiny_weight_keeps_the_measured_kspace() -> None:
    truth = _discs(1)
    mask = torch.from_numpy(cartesian_mask((1, 48, 48), 4.0, 6, seed=2))
    _, k0 = undersample(truth, mask)
    recon = cs_tv(k0, mask, lam=1e-6, rho=1e-3, iterations=20)
    k = torch.fft.fftshift(
        torch.fft.fft2(torch.fft.ifftshift(recon, dim=(-2, -1)), norm="ortho"), dim=(-2, -1)
    )
    assert torch.allclose(k[mask.bool()], k0[mask.bool()], atol=1e-3)


def test_lambda_tuning_picks_the_candidate_with_the_lowest_error() -> None:
    truth = _discs(2, seed=4)
    mask = torch.from_numpy(cartesian_mask((2, 48, 48), 6.0, 6, seed=3))
    _, k0 = undersample(truth, mask)
    candidates = (1e-5, 1e-3, 1.0)
    chosen = tune_cs_lambda(truth, k0, mask, candidates=candidates, iterations=40)
    errors = [_mse(cs_tv(k0, mask, lam=lam, iterations=40), truth) for lam in candidates]
    assert chosen == candidates[int(np.argmin(errors))]
    assert chosen != 1.0
