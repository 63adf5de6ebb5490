"""Data-consistency layer: put the measured k-space back into a CNN's estimate."""

from __future__ import annotations

import math

import torch
from torch import nn

from ml.reconstruction.fft import complex_to_real, fft2c, ifft2c, real_to_complex


def data_consistency_kspace(
    k_pred: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor, noise_lambda: torch.Tensor | float | None
) -> torch.Tensor:
    """Blend a predicted k-space with the measured one. All (N, [T,] H, W); k complex, mask real in {0, 1}.

    noise_lambda None: noiseless, k = (1 - m) k_pred + m k0 (sampled entries replaced exactly).
    noise_lambda λ: noisy, k = (1 - m) k_pred + m (k_pred + λ k0) / (1 + λ).
    """
    if noise_lambda is None:
        return (1 - mask) * k_pred + mask * k0
    return (1 - mask) * k_pred + mask * (k_pred + noise_lambda * k0) / (1 + noise_lambda)


class DataConsistency(nn.Module):
    """Image-domain data consistency. forward(x: (N, 2, [T,] H, W), k0: complex (N, [T,] H, W),
    mask: (N, [T,] H, W)) -> (N, 2, [T,] H, W).

    noise_lambda None gives the noiseless form; a value gives the noisy form, with λ learnable when
    `learnable` (kept non-negative by a softplus).
    """

    def __init__(self, noise_lambda: float | None = None, learnable: bool = False) -> None:
        super().__init__()
        self.noiseless = noise_lambda is None
        if noise_lambda is not None and noise_lambda < 0:
            raise ValueError(f"noise_lambda must be >= 0, got {noise_lambda}")
        if learnable and self.noiseless:
            raise ValueError("a learnable λ needs an initial noise_lambda")
        init = 0.0 if noise_lambda is None else float(noise_lambda)
        self.learnable = learnable
        if learnable:
            # Stored as softplus^-1(λ) so that gradient steps keep λ positive.
            self.raw_lambda = nn.Parameter(torch.tensor(math.log(math.expm1(max(init, 1e-6)))))
        else:
            self.register_buffer("raw_lambda", torch.tensor(init))

    @property
    def noise_lambda(self) -> torch.Tensor | None:
        """λ as a tensor, or None for the noiseless form."""
        if self.noiseless:
            return None
        return nn.functional.softplus(self.raw_lambda) if self.learnable else self.raw_lambda

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        k_pred = fft2c(real_to_complex(x))
        k = data_consistency_kspace(k_pred, k0, mask.to(x.dtype), self.noise_lambda)
        return complex_to_real(ifft2c(k))
