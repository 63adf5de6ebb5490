"""Reads to masks: ED/ES phase fallbacks and degenerate contours, without the database."""

from __future__ import annotations

from atrium.agreement.reads import CaseRead, Reader, masks_from_contours
from tests.platform.agreement.helpers import square

READER = Reader(key="obs:x#1", label="x", kind="observer", user="x")


def _contour(structure, s, p, points):
    return {"structure": structure, "slice": s, "phase": p, "points": points}


def test_without_annotated_or_case_phases_ed_and_es_come_from_the_reader_lv_volume_curve():
    read = CaseRead(
        READER,
        contours=[
            _contour("lv_endo", 0, 0, square(2, 4, 2, 4)),
            _contour("lv_endo", 0, 1, square(2, 7, 2, 7)),
            _contour("lv_endo", 0, 2, square(3, 4, 3, 4)),
        ],
    )
    masks = masks_from_contours(read, (1, 4, 16, 16), (None, None))
    assert (masks.ed_phase, masks.es_phase, masks.phase_source) == (1, 2, "volume_curve")
    case_phases = masks_from_contours(read, (1, 4, 16, 16), (0, 2))
    assert (case_phases.ed_phase, case_phases.es_phase, case_phases.phase_source) == (0, 2, "case")
    own = masks_from_contours(CaseRead(READER, contours=read.contours, phases=(2, 0)), (1, 4, 16, 16), (0, 1))
    assert (own.ed_phase, own.es_phase, own.phase_source) == (2, 0, "annotation")


def test_degenerate_contours_are_counted_as_empty_and_missing_structures_listed():
    read = CaseRead(
        READER,
        contours=[
            _contour("lv_endo", 0, 0, square(2, 4, 2, 4)),
            _contour("rv_endo", 0, 0, [[1.0, 1.0], [3.0, 3.0], [5.0, 5.0]]),  # collinear: no area
            _contour("lv_endo", 0, 1, [[1.0, 1.0], [2.0, 2.0]]),  # too few points
        ],
        phases=(0, 1),
    )
    masks = masks_from_contours(read, (1, 2, 16, 16), (None, None))
    assert masks.empty_contours == 2
    assert masks.missing == {"ED": ["Myo", "RV"], "ES": ["LV", "Myo", "RV"]}
    assert masks.slices["ED"]["LV"] == 1


def test_a_reader_with_no_contours_at_all_has_no_phases_and_everything_missing():
    masks = masks_from_contours(CaseRead(READER), (2, 3, 8, 8), (None, None))
    assert masks.phase_source == "none" and masks.ed_phase is None
    assert masks.missing["ED"] == ["LV", "Myo", "RV"] and not masks.ed.any()
