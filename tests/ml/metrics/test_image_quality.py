import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ml.metrics.image_quality import nmse, psnr, ssim, volume_metrics


def test_psnr_and_nmse_hand_computed():
    gt = np.array([0.0, 2.0, 2.0, 0.0])
    pred = np.array([0.0, 2.0, 2.0, 1.0])
    # MSE = 1/4, data range = max(gt) = 2: 10 log10(4 / 0.25) = 10 log10(16)
    assert psnr(gt, pred) == pytest.approx(10 * np.log10(16))
    # ||gt - pred||^2 / ||gt||^2 = 1 / 8
    assert nmse(gt, pred) == pytest.approx(0.125)
    assert psnr(gt, gt) == float("inf") and nmse(gt, gt) == 0.0


def test_ssim_of_two_constant_images_hand_computed():
    gt = np.full((9, 9), 0.5)
    pred = np.full((9, 9), 0.25)
    # Zero variances leave the luminance term: (2*0.5*0.25 + C1) / (0.25 + 0.0625 + C1), C1 = (0.01 * 1)^2
    c1 = 1e-4
    assert ssim(gt, pred, data_range=1.0) == pytest.approx((0.25 + c1) / (0.3125 + c1))
    assert ssim(gt, gt, data_range=1.0) == pytest.approx(1.0)


def test_psnr_and_ssim_match_scikit_image():
    rng = np.random.default_rng(0)
    for _ in range(3):
        gt = rng.random((40, 52))
        gt = gt * (gt > 0.2)
        pred = np.clip(gt + rng.normal(0, 0.1, gt.shape), 0, None)
        dr = gt.max()
        assert psnr(gt, pred) == pytest.approx(peak_signal_noise_ratio(gt, pred, data_range=dr))
        assert ssim(gt, pred) == pytest.approx(structural_similarity(gt, pred, data_range=dr), rel=1e-6)
        assert psnr(gt, pred, data_range=2.0) == pytest.approx(
            peak_signal_noise_ratio(gt, pred, data_range=2.0)
        )


def test_volume_ssim_averages_slices_with_the_volume_range_as_fastmri():
    rng = np.random.default_rng(1)
    vol = rng.random((4, 20, 24))
    pred = vol + rng.normal(0, 0.05, vol.shape)
    dr = vol.max()
    expected = np.mean([structural_similarity(vol[i], pred[i], data_range=dr) for i in range(4)])
    assert ssim(vol, pred) == pytest.approx(expected, rel=1e-6)


def test_volume_metrics_average_per_volume_values():
    rng = np.random.default_rng(2)
    gts = [rng.random((3, 16, 16)) for _ in range(3)]
    preds = [g + rng.normal(0, s, g.shape) for g, s in zip(gts, (0.01, 0.05, 0.1), strict=True)]
    vm = volume_metrics(gts, preds)
    per = [psnr(g, p) for g, p in zip(gts, preds, strict=True)]
    assert vm.n == 3
    assert vm.psnr == pytest.approx(np.mean(per)) and vm.psnr_sd == pytest.approx(np.std(per))
    assert vm.ssim == pytest.approx(np.mean([ssim(g, p) for g, p in zip(gts, preds, strict=True)]))
    assert vm.nmse == pytest.approx(np.mean([nmse(g, p) for g, p in zip(gts, preds, strict=True)]))
    with pytest.raises(ValueError):
        volume_metrics(gts, preds[:2])


def test_better_reconstruction_scores_better_on_every_metric():
    rng = np.random.default_rng(3)
    gt = rng.random((32, 32))
    close, far = gt + rng.normal(0, 0.02, gt.shape), gt + rng.normal(0, 0.2, gt.shape)
    assert psnr(gt, close) > psnr(gt, far)
    assert ssim(gt, close) > ssim(gt, far)
    assert nmse(gt, close) < nmse(gt, far)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError):
        ssim(np.ones((5, 5)), np.ones((5, 5)))
