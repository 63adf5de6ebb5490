import numpy as np
import pytest
import torch

from ml.reconstruction.fft import complex_to_real, fft2c, ifft2c, magnitude, real_to_complex


def _random_complex(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 4, 15, 20)])
def test_fft2c_matches_numpy_centred_orthonormal_fft(shape: tuple[int, ...]) -> None:
    x = _random_complex(shape)
    expected = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(fft2c(torch.from_numpy(x)).numpy(), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape", [(3, 16, 16), (2, 4, 15, 20)])
def test_ifft2c_matches_numpy_centred_orthonormal_inverse_fft(shape: tuple[int, ...]) -> None:
    k = _random_complex(shape, seed=1)
    expected = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(ifft2c(torch.from_numpy(k)).numpy(), expected, rtol=1e-4, atol=1e-5)


def test_fft2c_is_orthonormal_and_inverted_by_ifft2c() -> None:
    x = torch.from_numpy(_random_complex((2, 32, 24), seed=2))
    k = fft2c(x)
    assert torch.allclose(torch.linalg.vector_norm(k), torch.linalg.vector_norm(x), rtol=1e-5)
    assert torch.allclose(ifft2c(k), x, atol=1e-5)


def test_fft2c_puts_the_dc_component_at_the_centre() -> None:
    k = fft2c(torch.ones(1, 8, 10, dtype=torch.complex64))
    assert k[0, 4, 5].real == pytest.approx(np.sqrt(80), rel=1e-5)
    assert float(k.abs().sum() - k[0, 4, 5].abs()) < 1e-4


def test_real_complex_layout_round_trips() -> None:
    x = torch.randn(2, 2, 3, 8, 8)
    z = real_to_complex(x)
    assert z.shape == (2, 3, 8, 8) and z.is_complex()
    assert torch.equal(complex_to_real(z), x)
    assert torch.allclose(magnitude(x), z.abs())


def test_real_to_complex_rejects_a_layout_without_two_channels() -> None:
    with pytest.raises(ValueError):
        real_to_complex(torch.randn(2, 3, 8, 8))
