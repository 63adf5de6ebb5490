"""REST and pages of the agreement report: permissions, 202 before the first computation, filters, CSV, PDF."""

from __future__ import annotations

import csv
import io

import pytest

from atrium.agreement.services import compute_report
from atrium.learning.models import Job
from tests.platform.agreement.helpers import cardiac_case, standard_read

URL = "/api/studies/cardiac-test/agreement/"


@pytest.fixture
def computed(people, study):
    case = cardiac_case(study)
    standard_read(case, people.annotator)
    standard_read(case, people.annotator2, lv_ed=(2, 5, 3, 6))
    return compute_report(study=study, processes=1)


def test_before_any_computation_the_api_answers_202_with_a_queued_report_job(people, study, api_client):
    response = api_client(people.study_lead).get(URL)
    assert response.status_code == 202
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.kind == "report" and job.study == study and job.queue == "cpu"
    assert response.json()["job"]["websocket"] == f"/ws/jobs/{job.pk}/"


@pytest.mark.parametrize(
    ("who", "read", "recompute"),
    [
        ("study_lead", 200, 202),
        ("admin", 200, 202),
        ("ml_engineer", 200, 403),
        ("annotator", 403, 403),
        ("outsider", 404, 404),
    ],
)
def test_only_leads_and_admins_recompute_and_ml_engineers_may_read(
    computed, people, api_client, who, read, recompute
):
    client = api_client(getattr(people, who))
    assert client.get(URL).status_code == read
    assert client.post(URL + "recompute/").status_code == recompute


def test_the_report_json_says_when_it_was_computed_and_how_stale_it_is(computed, people, study, api_client):
    from atrium.annotations.services import create_annotation

    body = api_client(people.study_lead).get(URL).json()
    assert body["computed_at"] and body["stale"] is False and body["changes_since"] == 0
    case = study.cases.first()
    create_annotation(case=case, author=people.annotator, kind="phases", data={"ed_phase": 0, "es_phase": 1})
    body = api_client(people.study_lead).get(URL).json()
    assert body["stale"] is True and body["changes_since"] == 1


def test_filters_select_rows_on_the_server(computed, people, api_client):
    body = api_client(people.study_lead).get(URL, {"structure": "RV", "phase": "ES"}).json()
    rows = body["report"]["contours"]
    assert rows and {(r["structure"], r["phase"]) for r in rows} == {("RV", "ES")}
    none = api_client(people.study_lead).get(URL, {"reader": "obs:nobody#1"}).json()
    assert none["report"]["contours"] == []


def test_the_csv_export_has_one_row_per_statistic(computed, people, api_client):
    response = api_client(people.study_lead).get(URL, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    dice = [
        r
        for r in rows
        if r["section"] == "contours"
        and r["item"] == "LV"
        and r["phase"] == "ED"
        and r["statistic"] == "dice_mean"
    ]
    assert len(dice) == 1 and float(dice[0]["value"]) == pytest.approx(0.75)
    assert any(r["section"] == "ukbb_table" and r["item"] == "LVEDV (mL)" for r in rows)


def test_the_page_shows_tables_plots_and_the_recompute_button_to_leads(computed, people, client):
    client.force_login(people.study_lead)
    html = client.get("/reports/cardiac-test/").content.decode()
    assert 'data-testid="ukbb-table"' in html and "LVEDV (mL)" in html and "O1 vs O2" in html
    assert "<svg" in html and 'id="recompute"' in html and "computed at" in html
    client.force_login(people.ml_engineer)
    html = client.get("/reports/cardiac-test/?structure=LV").content.decode()
    assert 'id="recompute"' not in html
    client.force_login(people.annotator)
    assert client.get("/reports/cardiac-test/").status_code == 403


def test_the_pdf_is_a_pdf(computed, people, client):
    client.force_login(people.study_lead)
    response = client.get("/reports/cardiac-test/report.pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF") and b"%%EOF" in response.content[-1024:]


def test_the_report_job_runs_through_the_job_system(people, study):
    from atrium.agreement.models import Report
    from atrium.agreement.services import request_recompute
    from atrium.learning.services import run_job

    case = cardiac_case(study)
    standard_read(case, people.annotator)
    job = request_recompute(study=study)
    assert run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.result["cases"] == 1 and job.progress == 1.0
    assert Report.objects.get(study=study).computed_at is not None
