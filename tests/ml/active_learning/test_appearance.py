"""Appearance statistics: histograms sum to one, texture figures respond to what a scanner changes."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from ml.active_learning.appearance import (
    appearance_blocks,
    appearance_features,
    intensity_histogram,
    joint_embedding,
    standardise,
    texture_statistics,
)
from ml.active_learning.ranking import select_batch
from ml.active_learning.strategies import PoolPrediction, case_scores, coreset_embedding


def test_histogram_counts_the_fraction_of_pixels_per_bin_after_robust_scaling() -> None:
    image = np.zeros((1, 10, 10))
    image[0, :5] = 1.0  # half dark, half bright
    h = intensity_histogram(image, bins=4)
    np.testing.assert_allclose(h, [[0.5, 0.0, 0.0, 0.5]])
    # Scaling and offset of the intensities do not change it.
    np.testing.assert_allclose(intensity_histogram(3.0 * image + 7.0, bins=4), h)


def test_texture_sees_correlated_noise_and_blur() -> None:
    rng = np.random.default_rng(0)
    white = rng.standard_normal((1, 48, 48))
    smooth = ndimage.gaussian_filter(white[0], 1.0)[None]
    t_white, t_smooth = texture_statistics(white), texture_statistics(smooth)
    assert t_white[0, 1] < 0.1 < 0.5 < t_smooth[0, 1]  # lag-1 correlation of the residual
    assert t_white[0, 0] > t_smooth[0, 0]  # relative residual size


def test_texture_sees_noise_that_grows_with_intensity() -> None:
    rng = np.random.default_rng(1)
    ramp = np.tile(np.linspace(0.1, 1.0, 48), (48, 1))
    multiplicative = ramp * (1 + 0.2 * rng.standard_normal(ramp.shape))
    additive = ramp + 0.1 * rng.standard_normal(ramp.shape)
    t = texture_statistics(np.stack([multiplicative, additive]))
    assert t[0, 2] > t[1, 2] + 0.1


def test_features_and_blocks_have_the_documented_shapes() -> None:
    f = appearance_features(np.random.default_rng(0).random((3, 16, 16)), bins=8)
    hist, tex = appearance_blocks(f)
    assert f.shape == (3, 12) and hist.shape == (3, 8) and tex.shape == (3, 4)
    np.testing.assert_allclose(hist.sum(axis=1), 1.0)
    with pytest.raises(ValueError):
        appearance_features(np.zeros((16, 16)))


def test_standardised_blocks_weigh_equally_whatever_their_width() -> None:
    rng = np.random.default_rng(2)
    wide, narrow = 100.0 * rng.standard_normal((200, 50)), rng.standard_normal((200, 2))
    z = joint_embedding(wide, narrow)
    assert z.shape == (200, 52)
    np.testing.assert_allclose((z[:, :50] ** 2).sum(1).mean(), 1.0, rtol=1e-9)
    np.testing.assert_allclose((z[:, 50:] ** 2).sum(1).mean(), 1.0, rtol=1e-9)
    assert np.all(standardise(np.ones((4, 3))) == 0.0)


def _two_site_prediction(n_cases: int = 30, rare_from: int = 27) -> tuple[np.ndarray, PoolPrediction]:
    """2 items per case. The model embeddings spread the cases along one axis, but put the rare site's
    cases where case 0 is (a model that has seen one site does not tell the other apart); the appearance
    statistics are the same for every case except the rare site's noise texture."""
    case_ids = np.repeat(np.arange(n_cases), 2)
    position = np.random.default_rng(0).random(n_cases)
    position[rare_from:] = position[0]
    emb = np.zeros((2 * n_cases, 4))
    emb[:, 0] = position[case_ids]
    appearance = np.full((2 * n_cases, 20), 0.5)
    appearance[case_ids >= rare_from, -4:] += 3.0
    return case_ids, PoolPrediction(embeddings=emb, appearance=appearance)


def test_coreset_with_appearance_picks_the_site_the_model_cannot_see_first() -> None:
    case_ids, prediction = _two_site_prediction()
    picked = select_batch("coreset", prediction, 1, case_ids=case_ids, labelled_cases=np.array([0, 1]))
    assert int(picked[0]) >= 27
    # Without the appearance statistics it has no reason to: the pick is one of the majority.
    blind = PoolPrediction(embeddings=prediction.embeddings)
    assert int(select_batch("coreset", blind, 1, case_ids=case_ids, labelled_cases=np.array([0, 1]))[0]) < 27


def test_coreset_with_appearance_counts_labelled_cases_of_the_rare_site_and_never_repicks_them() -> None:
    case_ids, prediction = _two_site_prediction()
    labelled = np.array([0, 27, 28])
    scores = case_scores("coreset", prediction, case_ids=case_ids, labelled_cases=labelled)
    assert not set(scores.cases.tolist()) & set(labelled.tolist())
    picked = select_batch("coreset", prediction, 2, case_ids=case_ids, labelled_cases=labelled)
    # The rare site's last case (29) looks like two labelled ones and sits where case 0 does: k-centre,
    # seeded by every labelled case, spreads over the majority instead.
    assert len(picked) == 2 and all(int(p) < 27 for p in picked)


def test_coreset_embedding_weighs_model_histogram_and_texture_blocks_equally() -> None:
    case_ids, prediction = _two_site_prediction()
    cases, emb = coreset_embedding(prediction, case_ids)
    assert cases.tolist() == list(range(30)) and emb.shape == (30, 4 + 16 + 4)
    # Model block: one varying column of four; histogram block: constant; texture block: four columns.
    np.testing.assert_allclose((emb[:, :4] ** 2).sum(1).mean(), 1.0 / 4, rtol=1e-9)
    assert np.all(emb[:, 4:20] == 0.0)
    np.testing.assert_allclose((emb[:, 20:] ** 2).sum(1).mean(), 1.0, rtol=1e-9)
