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


def test_the_cascade_trains_on_the_shared_trainer_and_resumes_with_the_same_mask_draws(tmp_path) -> None:
    from ml.reconstruction.train import fit_cascade

    torch.set_num_threads(1)
    images = _smooth_images((6, 24, 24), seed=2)
    common = dict(acceleration=4.0, centre_lines=4, steps=6, batch_size=2, lr=3e-3, device="cpu", seed=5,
                  max_seconds=1e6)  # fmt: skip
    torch.manual_seed(0)
    full, full_history, _ = fit_cascade(images, model=DeepCascade.tiny("2d"), **common)  # type: ignore[arg-type]
    assert full_history.step == 6 and full_history.resumed_from_step is None

    calls = iter(range(100))
    torch.manual_seed(0)
    _, first, _ = fit_cascade(
        images, model=DeepCascade.tiny("2d"), should_stop=lambda: next(calls) >= 2,
        checkpoint_path=tmp_path / "cascade.pt", checkpoint_every=3, **common,  # type: ignore[arg-type]
    )  # fmt: skip
    assert first.step == 3 and first.stopped == "cancelled"
    resumed, history, log = fit_cascade(
        images, model=DeepCascade.tiny("2d"), resume_from=tmp_path / "cascade.pt", log_every=1, **common,  # type: ignore[arg-type]
    )  # fmt: skip
    assert history.resumed_from_step == 3 and history.step == 6
    assert [entry["step"] for entry in log] == [4, 5, 6]
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.allclose(a, b, atol=1e-5)


def test_with_validation_images_the_lowest_validation_loss_weights_are_returned() -> None:
    from ml.reconstruction.train import fit_cascade

    images = _smooth_images((6, 24, 24), seed=3)
    model, history, _ = fit_cascade(
        images[:4], val_images=images[4:], model=DeepCascade.tiny("2d"), acceleration=4.0, centre_lines=4,
        steps=6, batch_size=2, eval_every=2, device="cpu",
    )  # fmt: skip
    assert [step for step, _ in history.evals] == [2, 4, 6]
    best = min(metrics["val_loss"] for _, metrics in history.evals)
    assert history.best_metric == best and not model.training


def test_a_training_sample_is_a_simulated_acquisition_of_its_image() -> None:
    from ml.reconstruction.fft import complex_to_real, fft2c, ifft2c
    from ml.reconstruction.masks import cartesian_mask
    from ml.reconstruction.train import UndersampledImages

    images = _smooth_images((3, 16, 16), seed=4)
    (x_zf, k0, mask), target = UndersampledImages(images, 4.0, 4, mask_seed=7)[1]
    np.testing.assert_array_equal(mask.numpy(), cartesian_mask((16, 16), 4.0, 4, 8))
    assert torch.equal(target, torch.stack((torch.from_numpy(images[1]), torch.zeros(16, 16))))
    expected_k = fft2c(torch.from_numpy(images[1]).to(torch.complex64)) * mask
    assert torch.allclose(k0, expected_k, atol=1e-6)
    assert torch.allclose(x_zf, complex_to_real(ifft2c(expected_k)[None])[0], atol=1e-6)
