"""Device selection, deterministic seeding and mixed precision, shared by every model family."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Iterator

import numpy as np
import torch


def pick_device(prefer: str | None = None) -> torch.device:
    """The device to train or infer on: `prefer` when given and usable ("cpu", "cuda", "cuda:1", "mps"),
    otherwise cuda, then mps, then cpu."""
    if prefer is not None:
        kind = prefer.split(":")[0]
        if kind == "cpu":
            return torch.device("cpu")
        if kind == "cuda" and torch.cuda.is_available():
            return torch.device(prefer)
        if kind == "mps" and _mps_available():
            return torch.device("mps")
        if kind not in {"cuda", "mps"}:
            raise ValueError(f"unknown device {prefer!r}")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices). `deterministic` also asks cuDNN/torch for
    deterministic kernels, which is slower on GPU."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    if deterministic:
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)


def rng_state() -> dict[str, object]:
    """Every random generator's state, so a resumed run draws the same numbers as an uninterrupted one."""
    state: dict[str, object] = {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, object]) -> None:
    """Restore what `rng_state` returned."""
    random.setstate(state["python"])  # type: ignore[arg-type]
    np.random.set_state(state["numpy"])  # type: ignore[arg-type]
    torch.set_rng_state(state["torch"])  # type: ignore[arg-type]
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])  # type: ignore[arg-type]


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The autocast dtype for mixed precision on `device`, or None where it is not worth it (CPU, MPS)."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, enabled: bool = True) -> Iterator[None]:
    """Mixed precision on GPU; a no-op elsewhere."""
    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield
