import numpy as np
import torch
from scipy.ndimage import gaussian_filter

from ml.reconstruction.cascade import DeepCascade
from ml.reconstruction.train import evaluate, train_cascade


def _smooth_images(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    images = gaussian_filter(rng.random(shape), sigma=(0,) * (len(shape) - 2) + (2, 2))
    images -= images.min(axis=(-2, -1), keepdims=True)
    return (images / images.max(axis=(-2, -1), keepdims=True)).astype(np.float32)


def test_a_short_training_run_decreases_the_loss() -> None:
    torch.manual_seed(0)
    images = _smooth_images((16, 32, 32))
    events: list[dict] = []
    model, history = train_cascade(
        images,
        acceleration=4.0,
        centre_lines=4,
        model=DeepCascade.tiny("2d"),
        steps=60,
        batch_size=4,
        lr=3e-3,
        device="cpu",
        progress=events.append,
        log_every=5,
    )
    assert not model.training
    losses = [entry["loss"] for entry in history]
    assert len(events) == len(history) and events[-1]["step"] == 60
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2])


def test_a_2d_plus_t_cascade_trains_on_cines() -> None:
    images = _smooth_images((4, 4, 24, 24))
    model, history = train_cascade(
        images, acceleration=4.0, centre_lines=4, model=DeepCascade.tiny("2d+t"), steps=3, batch_size=2
    )
    assert model.dims == "2d+t" and history[-1]["step"] == 3


def test_evaluate_reports_every_metric_for_every_method_per_volume() -> None:
    images = _smooth_images((2, 3, 32, 32), seed=1)
    result = evaluate(
        DeepCascade.tiny("2d"), images, acceleration=4.0, seed=0, centre_lines=4, cs_iterations=10
    )
    assert result["n_volumes"] == 2
    for method in ("zero_filled", "cs", "cascade"):
        assert np.isfinite(result[f"psnr_db_{method}"])
        assert 0 < result[f"ssim_{method}"] <= 1
        assert result[f"nmse_{method}"] >= 0
    # Noiseless data consistency alone already improves on zero filling.
    assert result["psnr_db_cascade"] > result["psnr_db_zero_filled"] - 1.0
