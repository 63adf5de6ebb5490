import numpy as np
import pytest

from ml.segmentation.measures import cardiac_measures, volume_curve


def _cine() -> np.ndarray:
    """2 slices x 3 phases of 10 x 10; LV pixels per phase (both slices): 40, 20, 30."""
    lab = np.zeros((2, 3, 10, 10), dtype=np.uint8)
    lv_rows = {0: 4, 1: 2, 2: 3}  # rows of 5 LV pixels per slice
    for p, rows in lv_rows.items():
        for s in range(2):
            lab[s, p, 0:rows, 0:5] = 1
            lab[s, p, 5, 0:5] = 2  # 5 myocardium pixels per slice at every phase
            lab[s, p, 7:9, 0 : 6 - p] = 3  # RV: 2 rows of 6, 5, 4 pixels
    return lab


def test_volumes_and_fractions_match_hand_computed_values() -> None:
    # voxel = 2 mm x 1.5 mm x 10 mm = 30 mm^3 = 0.03 mL
    m = cardiac_measures(_cine(), (2.0, 1.5), 10.0)
    assert m.ed_phase == 0 and m.es_phase == 1
    assert m.lvedv == pytest.approx(40 * 0.03)
    assert m.lvesv == pytest.approx(20 * 0.03)
    assert m.lvsv == pytest.approx(20 * 0.03)
    assert m.lvef == pytest.approx(50.0)
    assert m.lvm == pytest.approx(10 * 0.03 * 1.05)
    assert m.rvedv == pytest.approx(24 * 0.03)  # RV at the LV's ED phase: 2 slices x 2 rows x 6
    assert m.rvesv == pytest.approx(20 * 0.03)
    assert m.rvef == pytest.approx(100 * 4 / 24)
    assert m.lv_volume_curve == pytest.approx((1.2, 0.6, 0.9))


def test_phase_major_layout_gives_the_same_measures() -> None:
    lab = _cine()
    a = cardiac_measures(lab, (2.0, 1.5), 10.0, layout="SPHW")
    b = cardiac_measures(lab.transpose(1, 0, 2, 3), (2.0, 1.5), 10.0, layout="PSHW")
    assert a == b


def test_given_phases_override_the_volume_curve() -> None:
    m = cardiac_measures(_cine(), (1.0, 1.0), 1.0, ed_phase=2, es_phase=1)
    assert m.lvedv == pytest.approx(30e-3) and m.lvesv == pytest.approx(20e-3)


def test_volume_curve_rejects_a_3d_array() -> None:
    with pytest.raises(ValueError):
        volume_curve(np.zeros((3, 4, 4)), 1, (1.0, 1.0), 1.0)
