import numpy as np
import pytest
from scipy import ndimage

from ml.data.cardiac_phantom import LABEL_LV, LABEL_MYO, make_cardiac_cine
from ml.data.vendors import VENDORS, apply_vendor, get_vendor


def test_three_vendors_with_dicom_manufacturer_names():
    assert set(VENDORS) == {"siemens", "ge", "philips"}
    assert VENDORS["siemens"].name == "SIEMENS"
    assert VENDORS["ge"].name == "GE MEDICAL SYSTEMS"
    assert VENDORS["philips"].name == "Philips"
    assert get_vendor("GE") is VENDORS["ge"]
    with pytest.raises(ValueError):
        get_vendor("toshiba")


def test_vendor_profiles_differ_in_every_appearance_parameter():
    profiles = list(VENDORS.values())
    for field in (
        "intensity_scale",
        "intensity_gamma",
        "noise_sigma",
        "bias_field_strength",
        "pixel_spacing_mm",
    ):
        assert len({getattr(p, field) for p in profiles}) == 3, field


def test_vendors_give_different_intensity_statistics_on_the_same_anatomy():
    stats = {}
    for key in VENDORS:
        c = make_cardiac_cine(5, n_slices=3, n_phases=4, size=96, vendor=key)
        blood = c.image[c.labels == LABEL_LV]
        myo = c.image[c.labels == LABEL_MYO]
        stats[key] = (float(blood.mean()), float(myo.mean()), float(c.image.mean()))
        assert c.pixel_spacing_mm[0] == pytest.approx(VENDORS[key].pixel_spacing_mm * 128 / 96)
    keys = list(stats)
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = np.array(stats[keys[i]]), np.array(stats[keys[j]])
            assert np.max(np.abs(a - b)) > 0.03, (keys[i], keys[j], a, b)


def test_apply_vendor_keeps_range_and_adds_noise_of_the_profile_level():
    rng = np.random.default_rng(0)
    flat = np.full((64, 64), 0.5, dtype=np.float32)
    for key, prof in VENDORS.items():
        out = apply_vendor(flat, prof, rng, rician=False)
        assert out.dtype == np.float32 and 0.0 <= out.min() and out.max() <= 1.0
        resid = out - ndimage.gaussian_filter(out, 4.0)
        assert 0.4 * prof.noise_sigma < resid.std() < 1.5 * prof.noise_sigma, key
