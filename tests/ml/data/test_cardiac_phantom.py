import numpy as np
import pytest

from ml.data.cardiac_phantom import (
    LABEL_LV,
    LABEL_MYO,
    LABEL_RV,
    cardiac_kspace,
    kspace_to_image,
    make_cardiac_cine,
    volume_fraction,
)


@pytest.fixture(scope="module")
def cine():
    return make_cardiac_cine(3)


def test_same_seed_gives_identical_cine_and_different_seed_differs():
    a = make_cardiac_cine(7, n_slices=3, n_phases=6, size=64)
    b = make_cardiac_cine(7, n_slices=3, n_phases=6, size=64)
    c = make_cardiac_cine(8, n_slices=3, n_phases=6, size=64)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.labels, c.labels)


def test_cine_has_requested_shapes_dtypes_and_range(cine):
    assert cine.image.shape == (10, 25, 128, 128) and cine.image.dtype == np.float32
    assert cine.labels.shape == cine.image.shape and cine.labels.dtype == np.uint8
    assert 0.0 <= cine.image.min() and cine.image.max() <= 1.0
    assert cine.trigger_times_ms.shape == (25,) and cine.trigger_times_ms[0] == 0.0
    assert np.all(np.diff(cine.trigger_times_ms) > 0) and cine.trigger_times_ms[-1] < 1000.0
    assert set(np.unique(cine.labels)) == {0, 1, 2, 3}


def test_every_lv_pixel_is_surrounded_by_lv_or_myocardium(cine):
    lab = cine.labels
    lv = lab == LABEL_LV
    padded = np.pad(lab, ((0, 0), (0, 0), (1, 1), (1, 1)))
    h, w = lab.shape[-2:]
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        nb = padded[:, :, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
        assert np.all(np.isin(nb[lv], (LABEL_LV, LABEL_MYO)))


def test_every_slice_has_lv_and_myocardium_and_apex_has_no_rv(cine):
    lab = cine.labels
    assert np.all((lab == LABEL_LV).sum(axis=(2, 3)) > 0)
    assert np.all((lab == LABEL_MYO).sum(axis=(2, 3)) > 0)
    assert np.all((lab[0] == LABEL_RV).sum(axis=(1, 2)) > 0)
    assert (lab[-1] == LABEL_RV).sum() == 0


def test_slice_areas_shrink_from_base_to_apex(cine):
    area = (cine.labels[:, cine.ed_phase] == LABEL_LV).sum(axis=(1, 2))
    assert np.all(np.diff(area) <= 0)


def test_lv_volume_curve_peaks_at_ed_and_bottoms_at_es_with_realistic_ef():
    for seed in range(4):
        c = make_cardiac_cine(seed, n_phases=20)
        v = c.volume_curve_ml(LABEL_LV)
        assert c.ed_phase == 0 == int(np.argmax(v))
        assert c.es_phase == int(np.argmin(v))
        assert 0.3 <= c.es_phase / 20 <= 0.45
        edv, esv = v[c.ed_phase], v[c.es_phase]
        assert 100.0 <= edv <= 180.0
        assert 0.48 <= (edv - esv) / edv <= 0.67
        rv = c.volume_curve_ml(LABEL_RV)
        assert rv[c.es_phase] < rv[c.ed_phase]


def test_myocardium_thickens_at_systole_and_keeps_its_volume(cine):
    myo = cine.volume_curve_ml(LABEL_MYO)
    assert abs(myo[cine.es_phase] - myo[cine.ed_phase]) / myo[cine.ed_phase] < 0.1
    lv = cine.labels[:, :, :, :] == LABEL_LV
    # Wall thickness ~ myocardial area / perimeter; at ES the cavity shrinks with the same myocardial area.
    mid = cine.labels.shape[0] // 2
    ed_cav = lv[mid, cine.ed_phase].sum()
    es_cav = lv[mid, cine.es_phase].sum()
    assert es_cav < 0.8 * ed_cav


def test_volumes_do_not_depend_on_matrix_size_or_slice_count():
    a = make_cardiac_cine(11, n_slices=10, n_phases=5, size=128).volume_curve_ml(LABEL_LV)[0]
    b = make_cardiac_cine(11, n_slices=12, n_phases=5, size=160).volume_curve_ml(LABEL_LV)[0]
    assert abs(a - b) / a < 0.08


def test_blood_is_bright_and_myocardium_dark_in_the_image(cine):
    img, lab = cine.image, cine.labels
    assert img[lab == LABEL_LV].mean() > 2.0 * img[lab == LABEL_MYO].mean()
    assert img[lab == LABEL_RV].mean() > 2.0 * img[lab == LABEL_MYO].mean()


def test_volume_fraction_is_one_at_ed_zero_at_es_and_continuous():
    tau = np.linspace(0, 1, 1001)[:-1]
    f = volume_fraction(tau, 0.375)
    assert f[0] == pytest.approx(1.0) and f.min() == pytest.approx(0.0, abs=1e-6)
    assert tau[np.argmin(f)] == pytest.approx(0.375, abs=1e-3)
    assert np.max(np.abs(np.diff(f))) < 0.02
    assert volume_fraction(np.array([0.9999]), 0.375)[0] == pytest.approx(1.0, abs=1e-3)


def test_kspace_round_trip_restores_the_image():
    img = make_cardiac_cine(1, n_slices=2, n_phases=4, size=64).image
    k = cardiac_kspace(img)
    assert k.dtype == np.complex64 and k.shape == img.shape
    back = kspace_to_image(k)
    np.testing.assert_allclose(back.real, img, atol=1e-5)
    np.testing.assert_allclose(back.imag, 0.0, atol=1e-5)


def test_kspace_is_orthonormal_and_centred():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 32, 48)) + 1j * rng.standard_normal((3, 32, 48))).astype(np.complex64)
    k = cardiac_kspace(x)
    np.testing.assert_allclose(np.sum(np.abs(k) ** 2), np.sum(np.abs(x) ** 2), rtol=1e-4)
    # A constant image puts all its energy at the centre index (H // 2, W // 2).
    k1 = cardiac_kspace(np.ones((32, 48), dtype=np.float32))
    assert np.unravel_index(np.argmax(np.abs(k1)), k1.shape) == (16, 24)
    assert abs(k1[16, 24]) == pytest.approx(np.sqrt(32 * 48), rel=1e-5)
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(k, ref, atol=1e-4)
