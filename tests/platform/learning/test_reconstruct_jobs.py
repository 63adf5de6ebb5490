"""Reconstruction jobs: a reconstruction model trained by the train job, a cine undersampled and
reconstructed into a new derived series with its own case, scores in the result and on the job page."""

from __future__ import annotations

import numpy as np
import pytest

from atrium.learning.models import Job, JobState, ModelFamily, ModelVersion
from atrium.learning.services import enqueue_job, run_job

TINY_TRAINING = {
    "family": "reconstruction",
    "size": "tiny",
    "max_steps": 6,
    "batch_size": 4,
    "max_seconds": 60,
    "acceleration": 6,
}


def _train_reconstruction_model(study, user) -> ModelVersion:
    job = enqueue_job(kind="train", study=study, params=dict(TINY_TRAINING), created_by=user)
    assert run_job(job.pk) == JobState.SUCCEEDED, Job.objects.get(pk=job.pk).error
    version = ModelVersion.objects.get(study=study, family=ModelFamily.RECONSTRUCTION)
    return version


@pytest.fixture
def recon_study(cardiac_study, people):
    _train_reconstruction_model(cardiac_study, people.ml_engineer)
    return cardiac_study


def test_the_train_job_trains_and_promotes_a_reconstruction_model_without_queueing_inference(
    cardiac_study, people
):
    version = _train_reconstruction_model(cardiac_study, people.ml_engineer)
    assert version.promoted and version.config["dims"] == "2d" and version.config["steps"] == 6
    assert version.config["model"]["n_cascades"] == 2
    for key in ("psnr_db_zero_filled", "psnr_db_cascade", "ssim_zero_filled", "ssim_cascade"):
        assert np.isfinite(version.metrics[key])
    assert not Job.objects.filter(kind="infer").exists()

    from atrium.learning.model_builders import load_model
    from ml.reconstruction.cascade import DeepCascade

    assert isinstance(load_model(version), DeepCascade)


def test_the_train_command_trains_a_reconstruction_model(cardiac_study):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "train", "--study", cardiac_study.slug, "--family", "reconstruction", "--max-seconds", "1", "--here",
        stdout=out,
    )  # fmt: skip
    assert "model reconstruction v1" in out.getvalue() and "psnr_db_cascade" in out.getvalue()
    version = ModelVersion.objects.get(study=cardiac_study, family=ModelFamily.RECONSTRUCTION)
    assert version.promoted and version.config["stopped"] == "max_seconds"


def test_a_reconstruction_becomes_a_derived_series_with_a_case_the_reviewer_can_open(
    recon_study, people, api_client
):
    from atrium.imaging.models import Series, Source
    from atrium.imaging.pixel_store import get_pixel_store
    from atrium.studies.models import Case

    source_case = recon_study.cases.order_by("pk").first()
    version = ModelVersion.objects.get(study=recon_study, family=ModelFamily.RECONSTRUCTION)
    response = api_client(people.ml_engineer).post(
        "/api/jobs/",
        {
            "kind": "reconstruct",
            "study": recon_study.slug,
            "params": {"case": source_case.pk, "acceleration": 8},
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    job_id = response.json()["id"]
    assert response.json()["params"] == {"case": source_case.pk, "acceleration": 8.0, "seed": 0}
    assert run_job(job_id) == JobState.SUCCEEDED, Job.objects.get(pk=job_id).error
    job = Job.objects.get(pk=job_id)
    result = job.result

    series = Series.objects.get(pk=result["series"])
    source = source_case.series
    assert series.source == Source.RECONSTRUCTION and series.derived_from == source
    assert series.shape == source.shape and series.dtype == source.dtype
    assert series.pixel_spacing_mm == source.pixel_spacing_mm and series.imaging_study == source.imaging_study
    assert f"v{version.number}" in series.description and "8x" in series.description
    stored = np.asarray(get_pixel_store().open(series.store_key))
    assert stored.shape == tuple(source.shape) and stored.dtype == np.dtype(source.dtype)
    assert not np.array_equal(stored, np.asarray(get_pixel_store().open(source.store_key)))

    derived_case = Case.objects.get(pk=result["case"])
    assert derived_case.series == series and derived_case.study == recon_study
    # Noiseless data consistency keeps every measured line: the reconstruction is no worse than zero filling.
    assert result["psnr_db_reconstructed"] > result["psnr_db_zero_filled"] - 1.0
    assert 0 < result["ssim_zero_filled"] <= 1 and 0 < result["ssim_reconstructed"] <= 1
    assert 6 <= result["achieved_acceleration"] <= 10
    assert result["model_version"] == version.pk

    annotator = api_client(people.annotator)
    annotator.force_login(people.annotator)
    assert annotator.get(f"/cases/{derived_case.pk}/").status_code == 200
    meta = annotator.get(f"/api/series/{series.pk}/")
    assert meta.status_code == 200 and meta.json()["source"] == "reconstruction"
    frame = annotator.get(f"/api/series/{series.pk}/frames/{series.n_frames - 1}/")
    assert frame.status_code == 200
    assert frame.content == np.ascontiguousarray(stored.reshape(-1, *series.frame_shape)[-1]).tobytes()

    # Reviewed from the job page, never handed out as annotation work.
    from atrium.studies.services import next_case_for

    served = set()
    while (case := next_case_for(user=people.annotator2, study=recon_study)) is not None:
        assert case.pk not in served
        served.add(case.pk)
        from atrium.studies.models import Assignment

        Assignment.objects.filter(user=people.annotator2, case=case).update(status="submitted")
    assert derived_case.pk not in served and source_case.pk in served

    engineer = api_client(people.ml_engineer)
    engineer.force_login(people.ml_engineer)
    page = engineer.get(f"/jobs/{job_id}/").content.decode()
    assert f'href="/cases/{derived_case.pk}/"' in page
    assert f"{result['psnr_db_reconstructed']:.2f}" in page and f"{result['ssim_zero_filled']:.3f}" in page


def test_a_job_taken_up_again_after_storing_its_series_does_not_store_a_second_one(recon_study, people):
    from atrium.imaging.models import Series, Source

    case = recon_study.cases.order_by("pk").first()
    job = enqueue_job(kind="reconstruct", study=recon_study, params={"case": case.pk, "acceleration": 6})
    assert run_job(job.pk) == JobState.SUCCEEDED
    first = Job.objects.get(pk=job.pk).result
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)  # as if the worker died before finishing
    assert run_job(job.pk) == JobState.SUCCEEDED
    again = Job.objects.get(pk=job.pk).result
    assert (
        again["series"] == first["series"]
        and again["psnr_db_reconstructed"] == first["psnr_db_reconstructed"]
    )
    assert Series.objects.filter(source=Source.RECONSTRUCTION).count() == 1


def test_without_a_reconstruction_model_the_job_fails_with_a_reason(cardiac_study, people):
    from atrium.imaging.models import Series, Source

    case = cardiac_study.cases.first()
    job = enqueue_job(kind="reconstruct", study=cardiac_study, params={"case": case.pk, "acceleration": 6})
    assert run_job(job.pk) == JobState.FAILED
    error = Job.objects.get(pk=job.pk).error
    assert "has no promoted reconstruction model" in error and "family 'reconstruction'" in error
    assert not Series.objects.filter(source=Source.RECONSTRUCTION).exists()


def test_params_checked_again_when_the_job_runs(cardiac_study):
    job = Job.objects.create(kind="reconstruct", study=cardiac_study, params={"case": 10**6})
    assert run_job(job.pk) == JobState.FAILED
    assert "case 1000000 is not a case of study" in Job.objects.get(pk=job.pk).error


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "case must be the id of a case"),
        ({"case": "one"}, "case must be the id of a case"),
        ({"case": 10**6}, "is not a case of study"),
        ({"case": "CASE", "acceleration": 5}, "acceleration must be between 6 and 11, got 5"),
        ({"case": "CASE", "acceleration": 12}, "acceleration must be between 6 and 11, got 12"),
        ({"case": "CASE", "acceleration": "fast"}, "acceleration must be a number"),
        ({"case": "CASE", "seed": -1}, "seed must be an integer"),
        ({"case": "CASE", "accel": 8}, "unknown parameter(s) accel"),
        ({"case": "CASE", "model_version": 10**6}, "model version 1000000 does not belong to study"),
        (
            {"case": "CASE", "model_version": "SEGMENTATION"},
            "is a segmentation model, not a reconstruction one",
        ),
    ],
)
def test_bad_params_are_a_400_naming_the_problem_and_queue_nothing(
    cardiac_study, people, api_client, params, message
):
    case = cardiac_study.cases.first()
    if params.get("case") == "CASE":
        params = {**params, "case": case.pk}
    if params.get("model_version") == "SEGMENTATION":
        params = {**params, "model_version": _segmentation_version(cardiac_study).pk}
    response = api_client(people.ml_engineer).post(
        "/api/jobs/", {"kind": "reconstruct", "study": cardiac_study.slug, "params": params}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert message in response.json()["detail"]
    assert not Job.objects.filter(kind="reconstruct").exists()


def test_annotators_cannot_start_a_reconstruction(cardiac_study, people, api_client):
    case = cardiac_study.cases.first()
    response = api_client(people.annotator).post(
        "/api/jobs/",
        {"kind": "reconstruct", "study": cardiac_study.slug, "params": {"case": case.pk}},
        format="json",
    )
    assert response.status_code == 403


def test_the_study_page_offers_ml_engineers_a_reconstruct_button_and_annotators_none(
    cardiac_study, people, client
):
    client.force_login(people.ml_engineer)
    page = client.get(f"/studies/{cardiac_study.slug}/").content.decode()
    assert 'data-testid="reconstruct"' in page and 'name="acceleration"' in page
    client.force_login(people.annotator)
    assert 'data-testid="reconstruct"' not in client.get(f"/studies/{cardiac_study.slug}/").content.decode()


def _segmentation_version(study) -> ModelVersion:
    from torch import nn

    from atrium.learning.registry import register_model_version

    return register_model_version(
        study=study,
        family=ModelFamily.SEGMENTATION,
        model=nn.Linear(1, 1),
        config={},
        training_set=[],
        metrics={},
    )


@pytest.mark.parametrize("height", [32, 48, 64, 256])
@pytest.mark.parametrize("acceleration", [6.0, 8.5, 11.0])
def test_the_centre_lines_always_fit_the_lines_each_frame_samples(height, acceleration):
    from atrium.learning.reconstruction import centre_lines_for
    from ml.reconstruction.masks import cartesian_mask

    centre = centre_lines_for(height, acceleration, 8)
    assert 1 <= centre <= 8
    mask = cartesian_mask((25, height, height), acceleration, centre, seed=3)  # raises if it does not fit
    assert mask[:, height // 2].all()
    if height == 256:
        assert centre == 8
