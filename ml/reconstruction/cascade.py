"""Deep Cascade of CNNs (Schlemper et al. 2017): n cascades of a small residual CNN followed by
data consistency, in 2D and in 2D+t (3D convolutions with k-space data sharing across frames)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ml.reconstruction.data_consistency import DataConsistency
from ml.reconstruction.fft import complex_to_real, fft2c, ifft2c, real_to_complex

Dims = Literal["2d", "2d+t"]


class CascadeCNN(nn.Module):
    """n_convs convolutions (conv-ReLU x (n_convs - 1), then a conv to 2 channels).
    (N, in_channels, [T,] H, W) -> (N, 2, [T,] H, W), the residual to add to the estimate."""

    def __init__(self, in_channels: int, n_convs: int, n_filters: int, dims: Dims) -> None:
        super().__init__()
        if n_convs < 2:
            raise ValueError(f"n_convs must be >= 2, got {n_convs}")
        conv = nn.Conv2d if dims == "2d" else nn.Conv3d
        layers: list[nn.Module] = []
        channels = in_channels
        for _ in range(n_convs - 1):
            layers += [conv(channels, n_filters, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = n_filters
        layers.append(conv(channels, 2, kernel_size=3, padding=1))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class DataSharing(nn.Module):
    """k-space data sharing across neighbouring frames of a cine.

    For frame t, each k-space entry becomes the mask-weighted mean of the measured samples of frames
    t - window .. t + window (circularly: a cardiac cine is periodic); entries that no frame in the window
    sampled keep the current estimate. Returns that k-space as an image, an extra input channel set.
    """

    def __init__(self, window: int = 2) -> None:
        super().__init__()
        if window < 0:
            raise ValueError(f"window must be >= 0, got {window}")
        self.window = window

    def shared(self, k0: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """k0 complex, mask (N, T, H, W) -> (mean of sampled k-space, sample count), both (N, T, H, W)."""
        total = torch.zeros_like(k0)
        count = torch.zeros_like(mask)
        for offset in range(-self.window, self.window + 1):
            total = total + torch.roll(k0 * mask, offset, dims=1)
            count = count + torch.roll(mask, offset, dims=1)
        return total / count.clamp(min=1), count

    def forward(self, x: torch.Tensor, mean_k: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        """x: (N, 2, T, H, W) current estimate -> (N, 2, T, H, W) data-shared image."""
        k_pred = fft2c(real_to_complex(x))
        return complex_to_real(ifft2c(torch.where(count > 0, mean_k, k_pred)))


class DeepCascade(nn.Module):
    """DnCn reconstruction network.

    forward(x, k0, mask):
      x: (N, 2, H, W) for "2d", (N, 2, T, H, W) for "2d+t": zero-filled image, real/imag channels;
      k0: complex (N, [T,] H, W), measured k-space (zero where not sampled);
      mask: (N, [T,] H, W) in {0, 1}.
    Returns the reconstruction with the shape of x.
    noise_lambda None uses noiseless data consistency; a value uses the noisy form with a learnable λ.
    """

    def __init__(
        self,
        n_cascades: int = 5,
        n_convs: int = 5,
        n_filters: int = 64,
        dims: Dims = "2d",
        noise_lambda: float | None = None,
        share_window: int = 2,
    ) -> None:
        super().__init__()
        if dims not in ("2d", "2d+t"):
            raise ValueError(f"dims must be '2d' or '2d+t', got {dims!r}")
        self.config = {
            "n_cascades": n_cascades,
            "n_convs": n_convs,
            "n_filters": n_filters,
            "dims": dims,
            "noise_lambda": noise_lambda,
            "share_window": share_window,
        }
        self.dims: Dims = dims
        in_channels = 2 if dims == "2d" else 4
        self.cnns = nn.ModuleList(
            CascadeCNN(in_channels, n_convs, n_filters, dims) for _ in range(n_cascades)
        )
        self.dcs = nn.ModuleList(
            DataConsistency(noise_lambda, learnable=noise_lambda is not None) for _ in range(n_cascades)
        )
        self.sharing = DataSharing(share_window) if dims == "2d+t" else None

    @classmethod
    def tiny(cls, dims: Dims = "2d", noise_lambda: float | None = None) -> DeepCascade:
        """2 cascades of 8 filters: for tests on CPU."""
        return cls(n_cascades=2, n_convs=5, n_filters=8, dims=dims, noise_lambda=noise_lambda)

    def forward(self, x: torch.Tensor, k0: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        expected = 4 if self.dims == "2d" else 5
        if x.ndim != expected or x.shape[1] != 2:
            raise ValueError(f"{self.dims} cascade expects (N, 2, {'' if expected == 4 else 'T, '}H, W)")
        mask = mask.to(x.dtype)
        shared = self.sharing.shared(k0, mask) if self.sharing is not None else None
        for cnn, dc in zip(self.cnns, self.dcs, strict=True):
            inputs = x
            if self.sharing is not None and shared is not None:
                inputs = torch.cat((x, self.sharing(x, *shared)), dim=1)
            x = dc(x + cnn(inputs), k0, mask)
        return x
