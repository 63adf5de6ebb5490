"""Baseline reconstructions: zero-filled, and compressed sensing with total variation (ADMM)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ml.reconstruction.fft import fft2c, ifft2c


def zero_filled(k0: torch.Tensor) -> torch.Tensor:
    """Inverse FFT of the zero-filled measured k-space. k0: complex (..., H, W) -> complex (..., H, W)."""
    return ifft2c(k0)


def _gradient(x: torch.Tensor) -> torch.Tensor:
    """Periodic forward differences. (..., H, W) -> (2, ..., H, W) (rows, columns)."""
    return torch.stack((torch.roll(x, -1, dims=-2) - x, torch.roll(x, -1, dims=-1) - x))


def _gradient_adjoint(g: torch.Tensor) -> torch.Tensor:
    """Adjoint of `_gradient`. (2, ..., H, W) -> (..., H, W)."""
    return (torch.roll(g[0], 1, dims=-2) - g[0]) + (torch.roll(g[1], 1, dims=-1) - g[1])


def _laplacian_eigenvalues(height: int, width: int, device: torch.device) -> torch.Tensor:
    """Eigenvalues of grad^T grad in the centred Fourier basis (periodic differences commute with the
    shifts of fft2c, so the usual DFT eigenvalues are just fftshift-ed). (H, W)"""
    ky = torch.fft.fftshift(2 - 2 * torch.cos(2 * math.pi * torch.arange(height, device=device) / height))
    kx = torch.fft.fftshift(2 - 2 * torch.cos(2 * math.pi * torch.arange(width, device=device) / width))
    return ky[:, None] + kx[None, :]


def cs_tv(
    k0: torch.Tensor,
    mask: torch.Tensor,
    lam: float = 0.002,
    rho: float | None = None,
    iterations: int = 100,
) -> torch.Tensor:
    """Compressed sensing with isotropic total variation, solved by ADMM.

    Minimises 0.5 ||M F x - k0||^2 + lam ||grad x||_{2,1} with periodic finite differences, so the
    x-update is an exact division in k-space (both M and grad^T grad are diagonal there).
    k0: complex (..., H, W) measured k-space; mask: (..., H, W) or broadcastable, in {0, 1}.
    Each 2D frame is solved on its own. Returns complex (..., H, W).
    """
    rho = 10 * lam if rho is None else rho
    mask = mask.to(k0.real.dtype).expand(k0.shape)
    laplacian = _laplacian_eigenvalues(k0.shape[-2], k0.shape[-1], k0.device)
    denominator = mask + rho * laplacian
    measured = mask * k0
    x = ifft2c(measured)
    z = _gradient(x)
    u = torch.zeros_like(z)
    for _ in range(iterations):
        rhs = measured + rho * fft2c(_gradient_adjoint(z - u))
        # The k-space centre is always sampled, so the denominator is never zero; clamp for safety.
        x = ifft2c(rhs / denominator.clamp(min=1e-8))
        grad = _gradient(x)
        v = grad + u
        norm = torch.sqrt((v.abs() ** 2).sum(dim=0, keepdim=True))
        z = v * torch.clamp(1 - (lam / rho) / norm.clamp(min=1e-12), min=0)
        u = v - z
    return x


def tune_cs_lambda(
    target: torch.Tensor,
    k0: torch.Tensor,
    mask: torch.Tensor,
    candidates: Sequence[float] = (3e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2),
    iterations: int = 100,
) -> float:
    """Pick the TV weight with the lowest magnitude MSE on a validation set.
    target: complex (..., H, W) fully sampled images; k0 and mask as for `cs_tv`."""
    errors = []
    for lam in candidates:
        recon = cs_tv(k0, mask, lam=lam, iterations=iterations)
        errors.append(float(((recon.abs() - target.abs()) ** 2).mean()))
    return float(candidates[min(range(len(candidates)), key=errors.__getitem__)])
