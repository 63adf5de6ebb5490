"""Checkpoints (model, optimizer, counters, RNG state) and the model card saved beside each one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import platform as _stdlib_platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ml.training.devices import rng_state, set_rng_state


@dataclass
class CheckpointState:
    """Counters restored from a checkpoint. `batch_in_epoch` is how many batches of `epoch` were done."""

    step: int
    epoch: int
    batch_in_epoch: int
    best_metric: float | None
    extra: dict[str, Any] = field(default_factory=dict)
    rng: dict[str, object] | None = None


@dataclass
class ModelCard:
    """What a trained model is: its config, the data it saw (a hash), its metrics, when and with what."""

    config: dict[str, Any]
    training_data_hash: str
    metrics: dict[str, float]
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    torch_version: str = torch.__version__
    python_version: str = _stdlib_platform.python_version()
    step: int | None = None
    notes: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        return cls(**json.loads(text))


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (torch.device, Path)):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def training_data_hash(
    arrays: Iterable[np.ndarray | torch.Tensor] | None = None,
    annotation_ids: Iterable[int | str] | None = None,
) -> str:
    """sha256 over the training arrays' bytes (with dtype and shape, so a reshaped copy differs), or over
    the given annotation ids in sorted order. Returns the hex digest."""
    if (arrays is None) == (annotation_ids is None):
        raise ValueError("give exactly one of arrays or annotation_ids")
    digest = hashlib.sha256()
    if arrays is not None:
        for array in arrays:
            a = array.detach().cpu().numpy() if isinstance(array, torch.Tensor) else np.asarray(array)
            a = np.ascontiguousarray(a)
            digest.update(f"{a.dtype.str}{a.shape}".encode())
            digest.update(a.tobytes())
    else:
        assert annotation_ids is not None
        for ident in sorted(str(i) for i in annotation_ids):
            digest.update(ident.encode())
            digest.update(b"\0")
    return digest.hexdigest()


def card_path(checkpoint_path: str | Path) -> Path:
    """Where the model card of a checkpoint lives: `model.pt` -> `model.card.json`."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + ".card.json")


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    step: int,
    epoch: int,
    batch_in_epoch: int = 0,
    best_metric: float | None = None,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    extra: dict[str, Any] | None = None,
    card: ModelCard | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file then rename), and its model card when given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict() if scaler is not None else None,
        "step": step,
        "epoch": epoch,
        "batch_in_epoch": batch_in_epoch,
        "best_metric": best_metric,
        "rng": rng_state(),
        "extra": extra or {},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    if card is not None:
        card.step = step
        card_path(path).write_text(card.to_json())
    return path


def load_checkpoint(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    scheduler: Any | None = None,
    scaler: torch.amp.GradScaler | None = None,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = True,
) -> CheckpointState:
    """Load weights (and optimizer/scheduler/scaler state when given) into the objects passed in;
    restore the RNG state so the next step matches the uninterrupted run."""
    payload = torch.load(Path(path), map_location=map_location, weights_only=False)
    model.load_state_dict(payload["model"])
    if optimizer is not None and payload.get("optimizer") is not None:
        optimizer.load_state_dict(payload["optimizer"])
    if scheduler is not None and payload.get("scheduler") is not None:
        scheduler.load_state_dict(payload["scheduler"])
    if scaler is not None and payload.get("scaler") is not None:
        scaler.load_state_dict(payload["scaler"])
    if restore_rng and payload.get("rng") is not None:
        set_rng_state(payload["rng"])
    return CheckpointState(
        step=int(payload["step"]),
        epoch=int(payload["epoch"]),
        batch_in_epoch=int(payload.get("batch_in_epoch", 0)),
        best_metric=payload.get("best_metric"),
        extra=dict(payload.get("extra", {})),
        rng=payload.get("rng"),
    )


def read_model_card(checkpoint_path: str | Path) -> ModelCard:
    return ModelCard.from_json(card_path(checkpoint_path).read_text())


def checkpoint_step(path: str | Path) -> int:
    """The step a checkpoint was written at (loads it on the CPU)."""
    return int(torch.load(Path(path), map_location="cpu", weights_only=False)["step"])
