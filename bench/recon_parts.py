"""Reconstruction part of the model benchmark: deep cascade vs zero-filled and CS-TV at 6x.

Trains a 2D deep cascade on synthetic cardiac cine frames within a time limit, evaluates it with the
baselines on held-out subjects (per-volume PSNR / SSIM / NMSE, fastMRI style), and times the cascade on
256x256 frames. `run_reconstruction_bench` is imported by bench/models.py; run this file alone with
`python bench/recon_parts.py [--quick] [--device cpu|cuda]` to print one JSON object last.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ml.data.cardiac_phantom import make_cardiac_cine
from ml.reconstruction.cascade import DeepCascade
from ml.reconstruction.masks import cartesian_mask
from ml.reconstruction.simulate import undersample
from ml.reconstruction.train import evaluate, train_cascade, tune_cs_on_images

ACCELERATION = 6.0
CENTRE_LINES = 8
# Settings per mode: image size, subjects (train / validation / test), training seconds, model width.
# D5C5 with 16 filters makes ~4x more Adam steps than 32 filters in the same CPU time, which wins within
# 5 minutes (the D5C5 x64 model of the paper is for GPUs).
FULL = {
    "size": 96,
    "train": 48,
    "val": 2,
    "test": 6,
    "seconds": 270.0,
    "cascades": 5,
    "filters": 16,
    "batch": 4,
}
QUICK = {
    "size": 64,
    "train": 8,
    "val": 1,
    "test": 2,
    "seconds": 15.0,
    "cascades": 3,
    "filters": 16,
    "batch": 4,
}
LEARNING_RATE = 3e-3
# Subject seeds of the three splits never overlap.
TRAIN_SEED, VAL_SEED, TEST_SEED = 0, 100_000, 200_000


def cine_frames(
    first_seed: int, n_subjects: int, size: int, n_slices: int = 6, n_phases: int = 10
) -> np.ndarray:
    """Magnitude frames of synthetic subjects, one volume per subject: (n_subjects, S * P, size, size)."""
    cines = [
        make_cardiac_cine(first_seed + i, n_slices=n_slices, n_phases=n_phases, size=size).image
        for i in range(n_subjects)
    ]
    return np.stack([c.reshape(-1, size, size) for c in cines]).astype(np.float32)


@torch.no_grad()
def time_cascade_ms_per_frame(
    model: DeepCascade, device: torch.device, size: int = 256, repeats: int = 5
) -> float:
    """Median wall time of one 2D cascade pass over a (1, 2, size, size) frame, in ms."""
    model = model.to(device).eval()
    image = torch.rand(1, size, size, device=device).to(torch.complex64)
    mask = torch.from_numpy(cartesian_mask((1, size, size), ACCELERATION, CENTRE_LINES, seed=0)).to(device)
    x_zf, k0 = undersample(image, mask)
    model(x_zf, k0, mask)  # warm-up (allocations, cuDNN autotuning)
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        model(x_zf, k0, mask)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def run_reconstruction_bench(quick: bool, device: torch.device | str | None = None) -> dict[str, Any]:
    """Train, evaluate and time the deep cascade. Returns the recon_* / cascade_* figures of bench/models.py."""
    settings = QUICK if quick else FULL
    device = (
        torch.device(device)
        if device is not None
        else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    )
    size = int(settings["size"])
    train = cine_frames(TRAIN_SEED, int(settings["train"]), size).reshape(-1, size, size)
    val = cine_frames(VAL_SEED, int(settings["val"]), size).reshape(-1, size, size)
    test = cine_frames(TEST_SEED, int(settings["test"]), size)

    start = time.perf_counter()
    cs_lambda = tune_cs_on_images(val[::8], ACCELERATION, CENTRE_LINES)
    tune_seconds = time.perf_counter() - start

    model = DeepCascade(n_cascades=int(settings["cascades"]), n_convs=5, n_filters=int(settings["filters"]))
    start = time.perf_counter()
    model, history = train_cascade(
        train,
        acceleration=ACCELERATION,
        centre_lines=CENTRE_LINES,
        model=model,
        batch_size=int(settings["batch"]),
        lr=LEARNING_RATE,
        loss="l1",
        max_seconds=float(settings["seconds"]),
        device=device,
        seed=0,
    )
    train_seconds = time.perf_counter() - start

    scores = evaluate(
        model,
        test,
        ACCELERATION,
        seed=TEST_SEED,
        centre_lines=CENTRE_LINES,
        cs_lambda=cs_lambda,
        batch_size=16,
    )
    ms = time_cascade_ms_per_frame(model, device)
    full_ms = time_cascade_ms_per_frame(DeepCascade(), device, repeats=1 if quick else 3)
    return {
        "recon_psnr_zero_filled_db": round(scores["psnr_db_zero_filled"], 2),
        "recon_psnr_cs_db": round(scores["psnr_db_cs"], 2),
        "recon_psnr_cascade_db": round(scores["psnr_db_cascade"], 2),
        "recon_ssim_zero_filled": round(scores["ssim_zero_filled"], 4),
        "recon_ssim_cs": round(scores["ssim_cs"], 4),
        "recon_ssim_cascade": round(scores["ssim_cascade"], 4),
        "recon_nmse_zero_filled": round(scores["nmse_zero_filled"], 5),
        "recon_nmse_cs": round(scores["nmse_cs"], 5),
        "recon_nmse_cascade": round(scores["nmse_cascade"], 5),
        "recon_gain_over_zero_filled_db": round(scores["psnr_db_cascade"] - scores["psnr_db_zero_filled"], 2),
        "recon_gain_over_cs_db": round(scores["psnr_db_cascade"] - scores["psnr_db_cs"], 2),
        "recon_threshold_gain_over_zero_filled_db": 6.0,
        "recon_acceleration": ACCELERATION,
        "recon_cs_lambda": cs_lambda,
        "recon_cs_tune_seconds": round(tune_seconds, 1),
        "recon_train_seconds": round(train_seconds, 1),
        "recon_train_steps": int(history[-1]["step"]),
        "recon_train_final_loss": round(history[-1]["loss"], 5),
        "recon_image_size": size,
        "recon_test_volumes": int(scores["n_volumes"]),
        "recon_test_frames": int(test.shape[0] * test.shape[1]),
        "cascade_config": f"D{settings['cascades']}C5 x{settings['filters']} filters",
        "cascade_ms_per_frame": round(ms, 2),
        "cascade_d5c5_64_ms_per_frame": round(full_ms, 2),
        "cascade_frame_size": 256,
        "recon_device": str(device),
        "recon_torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps(run_reconstruction_bench(args.quick, args.device)))


if __name__ == "__main__":
    main()
