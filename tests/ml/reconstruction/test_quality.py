import numpy as np
import pytest

from ml.reconstruction.quality import nmse, psnr, ssim, ssim_2d


def test_psnr_uses_the_ground_truth_maximum_as_the_peak() -> None:
    gt = np.zeros((2, 4, 4))
    gt[0, 0, 0] = 2.0
    pred = gt + 0.1  # MSE = 0.01
    assert psnr(gt, pred) == pytest.approx(10 * np.log10(4.0 / 0.01))
    assert psnr(gt, pred, maxval=1.0) == pytest.approx(20.0)


def test_psnr_of_a_perfect_reconstruction_is_infinite() -> None:
    gt = np.ones((4, 4))
    assert psnr(gt, gt) == float("inf")


def test_nmse_matches_a_hand_computed_value() -> None:
    gt = np.array([[3.0, 4.0]])
    pred = np.array([[3.0, 2.0]])
    assert nmse(gt, pred) == pytest.approx(4.0 / 25.0)


def test_ssim_is_one_for_identical_images_and_lower_for_noisy_ones() -> None:
    rng = np.random.default_rng(0)
    gt = rng.random((2, 32, 32))
    assert ssim(gt, gt) == pytest.approx(1.0)
    assert ssim(gt, gt + 0.2 * rng.standard_normal(gt.shape)) < 0.9


def test_ssim_of_constant_images_matches_the_formula() -> None:
    # Constant images: variances vanish, so SSIM = (2 a b + c1) / (a^2 + b^2 + c1).
    a, b, peak = 0.5, 0.3, 1.0
    c1 = (0.01 * peak) ** 2
    value = ssim_2d(np.full((16, 16), a), np.full((16, 16), b), data_range=peak)
    assert value == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))
