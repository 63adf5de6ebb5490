"""Centred orthonormal 2D Fourier transforms and real/complex layout helpers.

"Centred" means the k-space origin sits at index (H // 2, W // 2), as on a scanner: the transforms shift
with `ifftshift` before and `fftshift` after, like NumPy's `fftshift(fft2(ifftshift(x)))`.
"""

from __future__ import annotations

import torch

_DIMS = (-2, -1)


def fft2c(x: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2D FFT over the last two dims. x: complex (..., H, W)."""
    x = torch.fft.ifftshift(x, dim=_DIMS)
    x = torch.fft.fft2(x, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(x, dim=_DIMS)


def ifft2c(k: torch.Tensor) -> torch.Tensor:
    """Centred orthonormal 2D inverse FFT over the last two dims. k: complex (..., H, W)."""
    k = torch.fft.ifftshift(k, dim=_DIMS)
    k = torch.fft.ifft2(k, dim=_DIMS, norm="ortho")
    return torch.fft.fftshift(k, dim=_DIMS)


def real_to_complex(x: torch.Tensor) -> torch.Tensor:
    """(N, 2, ...) real/imag channels -> complex (N, ...)."""
    if x.shape[1] != 2:
        raise ValueError(f"expected 2 real/imag channels in dim 1, got shape {tuple(x.shape)}")
    return torch.complex(x[:, 0], x[:, 1])


def complex_to_real(z: torch.Tensor) -> torch.Tensor:
    """Complex (N, ...) -> (N, 2, ...) real/imag channels."""
    return torch.stack((z.real, z.imag), dim=1)


def magnitude(x: torch.Tensor) -> torch.Tensor:
    """(N, 2, ...) real/imag channels -> magnitude (N, ...)."""
    return torch.sqrt(x[:, 0] ** 2 + x[:, 1] ** 2)
