"""The report through the platform path: annotations in the database -> job service -> stored report."""

from __future__ import annotations

import math

import numpy as np
import pytest

from atrium.agreement.models import CachedResult, Report
from atrium.agreement.services import compute_report, mark_stale, request_recompute
from tests.platform.agreement.helpers import VOXEL_ML, cardiac_case, label_map_prediction, standard_read


def _row(report, pair_kind, phase, structure):
    return next(
        r
        for r in report.data["contours"]
        if r["kind"] == pair_kind and r["phase"] == phase and r["structure"] == structure
    )


def _measure(report, pair_kind, measure):
    return next(r for r in report.data["measures"] if r["kind"] == pair_kind and r["measure"] == measure)


@pytest.fixture
def two_readers(people, study):
    case = cardiac_case(study)
    standard_read(case, people.annotator)
    standard_read(case, people.annotator2, lv_ed=(2, 5, 3, 6))  # LV shifted one column right at ED
    return case


def test_two_readers_with_known_squares_give_hand_computed_dice_and_distances(two_readers, study):
    report = compute_report(study=study, processes=1)
    lv_ed = _row(report, "inter", "ED", "LV")
    # 2 slices x 16 px each; overlap 2 x 12 px -> Dice 2 * 24 / 64.
    assert lv_ed["dice_mean"] == pytest.approx(0.75)
    # With two slices every voxel is a boundary voxel; the shifted columns are 1.5 mm from the other mask.
    assert lv_ed["hausdorff_mean"] == pytest.approx(1.5)
    assert lv_ed["hd95_mean"] == pytest.approx(1.5)
    assert lv_ed["mcd_mean"] == pytest.approx(2 * 8 * 1.5 / 64)
    assert _row(report, "inter", "ES", "RV")["dice_mean"] == pytest.approx(1.0)
    # Myo = epi (36 px) minus endo (16 px): 20 px each; the shift moves 4 px per slice.
    assert _row(report, "inter", "ED", "Myo")["dice_mean"] == pytest.approx(2 * 2 * 16 / 80)


def test_clinical_measures_follow_the_pixel_counts(two_readers, study):
    report = compute_report(study=study, processes=1)
    lvedv = _measure(report, "inter", "lvedv")
    assert lvedv["n"] == 1 and lvedv["abs_mean"] == pytest.approx(0.0)
    lvm = _measure(report, "inter", "lvm")
    assert lvm["abs_mean"] == pytest.approx(0.0)
    reader_summary = next(
        v for v in CachedResult.objects.filter(study=study).values_list("data", flat=True) if "measures" in v
    )
    m = reader_summary["measures"]
    assert m["lvedv"] == pytest.approx(32 * VOXEL_ML)
    assert m["lvesv"] == pytest.approx(8 * VOXEL_ML)
    assert m["lvef"] == pytest.approx(75.0)
    assert m["lvm"] == pytest.approx(40 * VOXEL_ML * 1.05)
    assert m["rvedv"] == pytest.approx(32 * VOXEL_ML)
    assert m["rvesv"] == pytest.approx(18 * VOXEL_ML)


def test_a_missing_structure_is_reported_and_not_crashed_on(people, study):
    case = cardiac_case(study)
    standard_read(case, people.annotator)
    standard_read(case, people.annotator2, rv_es=False)
    report = compute_report(study=study, processes=1)
    rv_es = _row(report, "inter", "ES", "RV")
    assert rv_es["n"] == 0 and rv_es["n_missing"] == 1 and rv_es["dice_mean"] == 0.0
    assert rv_es["hausdorff_mean"] is None
    assert _measure(report, "inter", "rvesv")["n"] == 0
    bob = next(r for r in report.data["missing"]["per_reader"] if r["reader"] == "obs:bob#1")
    assert bob["missing"]["ES RV"] == 1 and bob["cases_with_missing"] == 1
    assert report.data["missing"]["cases"] == [
        {"case": str(case.pk), "reader": "obs:bob#1", "missing": ["ES RV"], "empty_contours": 0}
    ]


def test_the_model_version_is_compared_with_every_observer_and_trended(two_readers, study):
    from atrium.agreement.reads import full_label_map
    from atrium.agreement.selectors import study_reads

    reads = study_reads(study).reads[two_readers.pk]
    truth = full_label_map(reads["obs:ann#1"], [2, 3, 16, 16])
    label_map_prediction(two_readers, truth, number=1, round_number=1)
    report = compute_report(study=study, processes=1)
    pooled = report.data["model_vs_observers"][0]
    lv = next(r for r in pooled["contours"] if r["phase"] == "ED" and r["structure"] == "LV")
    assert lv["n"] == 2 and lv["dice_mean"] == pytest.approx((1.0 + 0.75) / 2)
    trend = report.data["trends"][0]
    assert trend["model_number"] == 1 and trend["round"] == 1
    lv_trend = next(r for r in trend["dice"] if r["phase"] == "ED" and r["structure"] == "LV")
    assert lv_trend["inter_min_dice"] == pytest.approx(0.75) and lv_trend["within_inter_observer"] is True
    assert report.data["ukbb_table"]["columns"][0]["name"] == "Auto vs Man (v1)"
    assert report.data["ukbb_table"]["columns"][0]["n"] == 2


def test_unchanged_cases_come_from_the_cache(two_readers, study, people):
    first = compute_report(study=study, processes=1)
    assert first.data["compute"]["cases_recomputed"] == 1
    again = compute_report(study=study, processes=1)
    assert again.data["compute"]["cases_recomputed"] == 0 and again.data["compute"]["cases_cached"] == 1
    assert again.data["contours"] == first.data["contours"]
    other = cardiac_case(study)
    standard_read(other, people.annotator)
    third = compute_report(study=study, processes=1)
    assert third.data["compute"]["cases_recomputed"] == 1 and third.data["compute"]["cases_cached"] == 1


def test_an_edit_makes_the_report_stale_and_a_recompute_is_queued_once(two_readers, study, people):
    compute_report(study=study, processes=1)
    assert Report.objects.get(study=study).stale is False
    mark_stale(study=study)
    assert Report.objects.get(study=study).stale is True
    job = request_recompute(study=study)
    assert request_recompute(study=study).pk == job.pk
    assert job.kind == "report" and job.queue == "cpu"


def test_repeated_reads_are_compared_as_intra_observer(two_readers, study, people):
    from atrium.studies.services import assign_repeat_read, submit_case

    submit_case(case=two_readers, user=people.annotator)
    assign_repeat_read(case=two_readers, user=people.annotator, assigned_by=people.study_lead)
    standard_read(two_readers, people.annotator, lv_ed=(2, 5, 3, 6))
    report = compute_report(study=study, processes=1)
    intra = _row(report, "intra", "ED", "LV")
    assert intra["a"] == "obs:ann#1" and intra["b"] == "obs:ann#2"
    assert intra["dice_mean"] == pytest.approx(0.75)
    assert not math.isnan(intra["hausdorff_mean"])
    assert {r["kind"] for r in report.data["reliability"]} >= {"inter", "intra"}
    assert np.isfinite(_measure(report, "intra", "lvedv")["abs_mean"])
