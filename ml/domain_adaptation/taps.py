"""Read the outputs of named layers of a network during its forward pass (forward hooks), for the domain
discriminator. The tapped tensors keep their autograd history, so gradients flow back into the network."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle


def default_taps(model: nn.Module) -> tuple[str, ...]:
    """Layers to tap for the models in ml/: an early, a deep and the last feature layer (Kamnitsas et al.
    tapped low, middle and high layers of the segmenter)."""
    names = {name for name, _ in model.named_modules()}
    for candidate in (
        ("encoder.1", "encoder.3", "fuse"),  # FCN
        ("down.1", "down.3", "dec.3"),  # U-Net
        ("features.1", "features.3", "adaptation.3"),  # SonoNet
        ("normal.1", "context.0", "fc"),  # DeepMedic
    ):
        if all(c in names for c in candidate):
            return candidate
    raise ValueError(f"no default taps for {type(model).__name__}; pass layer names")


class FeatureTaps:
    """Context manager: while open, `features` holds the latest outputs of `names` (in that order).

    model: any nn.Module; names: dotted submodule names as in `model.named_modules()`.
    """

    def __init__(self, model: nn.Module, names: Sequence[str]) -> None:
        modules = dict(model.named_modules())
        missing = [n for n in names if n not in modules]
        if missing:
            raise ValueError(f"no layers named {missing} in {type(model).__name__}")
        self.names = tuple(names)
        self._outputs: dict[str, torch.Tensor] = {}
        self._handles: list[RemovableHandle] = []
        for name in self.names:
            self._handles.append(modules[name].register_forward_hook(self._hook(name)))

    def _hook(self, name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            self._outputs[name] = output

        return hook

    @property
    def features(self) -> list[torch.Tensor]:
        missing = [n for n in self.names if n not in self._outputs]
        if missing:
            raise RuntimeError(f"layers {missing} did not run; call the model first")
        return [self._outputs[n] for n in self.names]

    def clear(self) -> None:
        self._outputs.clear()

    def close(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        self._outputs.clear()

    def __enter__(self) -> FeatureTaps:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def channels_of(model: nn.Module, names: Sequence[str], example: torch.Tensor) -> list[int]:
    """Channel counts of the tapped layers, found by one forward pass on `example` (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    try:
        with FeatureTaps(model, names) as taps, torch.no_grad():
            model(example)
            return [int(f.shape[1]) for f in taps.features]
    finally:
        model.train(was_training)
