"""Agreement broken down by site and vendor: per-group reports stored with the report, selected by the page
filter and the REST query parameters, and a summary section per vendor and per site."""

from __future__ import annotations

import pytest

from atrium.agreement.breakdown import groups
from atrium.agreement.services import compute_report
from tests.platform.agreement.helpers import cardiac_case, label_map_prediction, standard_read

URL = "/api/studies/cardiac-test/agreement/"


@pytest.fixture
def two_vendors(people, study):
    """Case 1 (GE, site A): the readers agree exactly. Case 2 (Siemens, site B): bob's LV at ED is shifted
    one column (Dice 0.75). A model copies ann on both cases."""
    from atrium.agreement.reads import full_label_map
    from atrium.agreement.selectors import study_reads

    ge = cardiac_case(study, vendor="GE", site="A")
    siemens = cardiac_case(study, vendor="Siemens", site="B")
    for case, shift in ((ge, (2, 5, 2, 5)), (siemens, (2, 5, 3, 6))):
        standard_read(case, people.annotator)
        standard_read(case, people.annotator2, lv_ed=shift)
    reads = study_reads(study)
    for case in (ge, siemens):
        truth = full_label_map(reads.reads[case.pk]["obs:ann#1"], [2, 3, 16, 16])
        label_map_prediction(case, truth, number=1, round_number=1)
    return ge, siemens


def _inter(data, phase="ED", structure="LV"):
    return next(
        r
        for r in data["contours"]
        if r["kind"] == "inter" and r["phase"] == phase and r["structure"] == structure
    )


def test_cases_are_grouped_by_site_vendor_and_both_with_blanks_as_unknown():
    cases = [
        {"id": 1, "site": "A", "vendor": "GE"},
        {"id": 2, "site": "B", "vendor": "GE"},
        {"id": 3, "site": "", "vendor": "Philips"},
    ]
    g = groups(cases)
    assert g["vendor"] == {"GE": ["1", "2"], "Philips": ["3"]}
    assert g["site"] == {"(unknown)": ["3"], "A": ["1"], "B": ["2"]}
    assert g["site_vendor"]["B|GE"] == ["2"]


def test_each_vendor_s_report_uses_only_its_cases(two_vendors, study):
    report = compute_report(study=study, processes=1)
    assert _inter(report.data)["dice_mean"] == pytest.approx((1.0 + 0.75) / 2)
    parts = report.data["breakdown"]
    assert _inter(parts["vendor"]["GE"])["dice_mean"] == pytest.approx(1.0)
    assert _inter(parts["vendor"]["Siemens"])["dice_mean"] == pytest.approx(0.75)
    assert parts["site"]["B"]["n_cases"] == 1 and parts["site_vendor"]["A|GE"]["n_cases"] == 1
    by_vendor = {g["value"]: g for g in report.data["by_group"]["vendor"]}
    assert sorted(by_vendor) == ["GE", "Siemens"]
    lv = next(c for c in by_vendor["Siemens"]["contours"] if (c["phase"], c["structure"]) == ("ED", "LV"))
    # the model copies ann: Dice 1 against ann and 0.75 against bob, pooled
    assert lv["inter_dice_mean"] == pytest.approx(0.75)
    assert lv["model_dice_mean"] == pytest.approx((1.0 + 0.75) / 2)
    assert by_vendor["GE"]["model"] == "model:segmentation#1" and by_vendor["GE"]["n_cases"] == 1


def test_the_rest_api_filters_by_vendor_and_site(two_vendors, study, people, api_client):
    compute_report(study=study, processes=1)
    client = api_client(people.study_lead)
    body = client.get(URL, {"vendor": "Siemens"}).json()
    assert body["filters"]["vendor"] == "Siemens"
    data = body["report"]
    assert _inter(data)["dice_mean"] == pytest.approx(0.75) and data["n_cases"] == 1
    assert [c["vendor"] for c in data["cases"]] == ["Siemens"]
    assert [g["value"] for g in data["by_group"]["vendor"]] == ["Siemens"]
    assert "breakdown" not in data  # the per-group reports stay on the server
    both = client.get(URL, {"vendor": "GE", "site": "A"}).json()["report"]
    assert _inter(both)["dice_mean"] == pytest.approx(1.0)
    nothing = client.get(URL, {"vendor": "GE", "site": "B"}).json()["report"]
    assert nothing["n_cases"] == 0 and nothing["contours"] == [] and nothing["cases"] == []
    csv_text = client.get(URL, {"vendor": "GE", "format": "csv"}).content.decode()
    assert "by_vendor,GE,,,,LV,ED,inter_dice_mean,1," in csv_text and "by_vendor,Siemens" not in csv_text


def test_the_page_has_site_and_vendor_filters_and_per_group_sections(two_vendors, study, people, client):
    compute_report(study=study, processes=1)
    client.force_login(people.study_lead)
    html = client.get("/reports/cardiac-test/").content.decode()
    assert '<select name="vendor">' in html and '<select name="site">' in html
    assert 'data-testid="by-vendor"' in html and 'data-testid="by-site"' in html
    assert "exports/dicomseg/" in html
    filtered = client.get("/reports/cardiac-test/", {"vendor": "Siemens"}).content.decode()
    assert 'data-testid="group-note"' in filtered and "vendor Siemens: 1" in filtered
    assert "<option selected>Siemens</option>" in filtered
    pdf = client.get("/reports/cardiac-test/report.pdf", {"site": "B"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_an_ultrasound_report_is_broken_down_too(people, api_client, client):
    from atrium.accounts.services import add_member
    from atrium.annotations.services import create_annotation
    from tests.factories import CaseFactory, SeriesFactory, StudyFactory

    us = StudyFactory(slug="us-groups", task_kind="ultrasound")
    for u in (people.annotator, people.annotator2, people.study_lead):
        add_member(user=u, study=us)
    for vendor, stop in (("GE", 3), ("Philips", 1)):
        series = SeriesFactory(
            imaging_study__patient__study=us, layout="clip", shape=[6, 8, 8], modality="US"
        )
        clip = CaseFactory(study=us, series=series, vendor=vendor)
        for user, last in ((people.annotator, 3), (people.annotator2, stop)):
            create_annotation(
                case=clip,
                author=user,
                kind="plane_label",
                data={"plane": "4CH", "frame_start": 0, "frame_stop": last},
            )
    report = compute_report(study=us)
    by_vendor = {g["value"]: g for g in report.data["by_group"]["vendor"]}
    assert by_vendor["GE"]["inter_frame_agreement"] == pytest.approx(1.0)
    assert by_vendor["Philips"]["inter_frame_agreement"] == pytest.approx(4 / 6)
    body = (
        api_client(people.study_lead).get("/api/studies/us-groups/agreement/", {"vendor": "Philips"}).json()
    )
    pair = body["report"]["planes"]["pairs"][0]
    assert pair["frame_agreement"] == pytest.approx(4 / 6) and pair["n_frames"] == 6
    client.force_login(people.study_lead)
    html = client.get("/reports/us-groups/").content.decode()
    assert 'data-testid="by-vendor"' in html and "Philips" in html and "exports/planes/" in html


def test_a_report_stored_before_breakdowns_says_to_recompute_instead_of_showing_nothing():
    from atrium.agreement.presentation import Filters, filter_report

    old = {"contours": [{"pair": "O1 vs O2"}], "measures": [], "cases": [{"id": 1, "vendor": "GE"}]}
    out = filter_report(old, Filters(vendor="GE"))
    assert out["group_unavailable"] == "recompute the report to break it down"
    assert out["n_cases"] is None
