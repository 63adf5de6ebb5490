"""The gradient reversal layer (Ganin and Lempitsky 2015): identity forward, -lambda x gradient backward."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class _ReverseGradient(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, strength: float) -> torch.Tensor:
        ctx.strength = strength
        return x.view_as(x)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.strength * grad, None


def reverse_gradient(x: torch.Tensor, strength: float = 1.0) -> torch.Tensor:
    """x unchanged; the gradient flowing back through it is multiplied by -strength."""
    out: torch.Tensor = _ReverseGradient.apply(x, float(strength))
    return out


class GradientReversal(nn.Module):
    """Module form of `reverse_gradient`; `strength` may be changed between steps (a ramp)."""

    def __init__(self, strength: float = 1.0) -> None:
        super().__init__()
        self.strength = float(strength)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return reverse_gradient(x, self.strength)

    def extra_repr(self) -> str:
        return f"strength={self.strength}"
