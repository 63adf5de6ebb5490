"""The "distinct" vendor appearance used for domain-shift experiments; the standard one is unchanged."""

import numpy as np
import pytest

from ml.data.cardiac_phantom import LABEL_LV, LABEL_MYO, make_cardiac_cine
from ml.data.ultrasound_clip import make_ultrasound_clip
from ml.data.vendors import DISTINCT_VENDORS, VENDORS, apply_vendor, get_vendor, transfer


def test_transfer_curve_is_piecewise_linear_through_its_knots_by_hand():
    curve = ((0.0, 0.2), (0.5, 0.6), (1.0, 0.4))
    x = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)
    np.testing.assert_allclose(transfer(x, curve), [0.2, 0.4, 0.6, 0.5, 0.4], atol=1e-6)
    assert transfer(x, ()) is x
    with pytest.raises(ValueError):
        transfer(x, ((0.5, 0.0), (0.2, 1.0)))


def test_distinct_profiles_keep_names_and_spacing_and_add_their_own_noise_and_curve():
    for key, prof in DISTINCT_VENDORS.items():
        assert prof.name == VENDORS[key].name and prof.pixel_spacing_mm == VENDORS[key].pixel_spacing_mm
        assert prof.transfer_curve and prof.noise_model
    assert len({p.noise_model for p in DISTINCT_VENDORS.values()}) == 3
    assert get_vendor("GE", "distinct") is DISTINCT_VENDORS["ge"]
    assert get_vendor("ge") is VENDORS["ge"]
    with pytest.raises(ValueError):
        get_vendor("ge", "vivid")  # type: ignore[arg-type]


def test_standard_appearance_is_the_default_and_distinct_keeps_the_labels():
    a = make_cardiac_cine(4, n_slices=3, n_phases=4, size=48, vendor="ge")
    b = make_cardiac_cine(4, n_slices=3, n_phases=4, size=48, vendor="ge", appearance="standard")
    c = make_cardiac_cine(4, n_slices=3, n_phases=4, size=48, vendor="ge", appearance="distinct")
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.labels, c.labels)
    assert not np.array_equal(a.image, c.image)


def test_distinct_ge_reverses_the_myocardium_to_blood_contrast_of_the_others():
    """A shift per-image normalisation cannot undo: GE's myocardium is brighter relative to the blood pool."""
    ratio = {}
    for key in DISTINCT_VENDORS:
        c = make_cardiac_cine(6, n_slices=4, n_phases=4, size=64, vendor=key, appearance="distinct")
        ratio[key] = float(c.image[c.labels == LABEL_MYO].mean() / c.image[c.labels == LABEL_LV].mean())
    assert ratio["ge"] > 0.6 > max(ratio["siemens"], ratio["philips"])


def test_multiplicative_correlated_noise_scales_with_intensity():
    rng = np.random.default_rng(0)
    prof = DISTINCT_VENDORS["ge"]
    flat = np.zeros((2, 64, 64), np.float32)
    flat[0], flat[1] = 0.2, 0.45  # before the curve: 0.55 and ~0.3 after it
    out = apply_vendor(flat, prof, rng)
    assert out.shape == flat.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    # Correlated noise: neighbouring pixels are alike (lag-1 correlation well above 0).
    r = out[0, 16:48, 16:48]
    d = r - r.mean()
    assert float((d[:, 1:] * d[:, :-1]).mean() / (d * d).mean()) > 0.3


def test_ultrasound_clips_take_the_distinct_appearance():
    a = make_ultrasound_clip(1, n_frames=4, height=64, width=80, vendor="ge")
    b = make_ultrasound_clip(1, n_frames=4, height=64, width=80, vendor="ge", appearance="distinct")
    np.testing.assert_array_equal(a.labels, b.labels)
    assert not np.array_equal(a.frames, b.frames)
