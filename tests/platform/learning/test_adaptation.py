"""`adapt` jobs: a site's unlabelled cases adapt the study's model; the result is a new version with lineage,
`adapted_to`, and metrics broken down by site and vendor."""

from __future__ import annotations

import pytest

from atrium.learning.adaptation import (
    FIRST_ROUND_TEACHER,
    NORMALISER_STEPS,
    PRIOR_RESTORATION,
    PRIOR_STEPS,
    STATISTICS,
    TEACHER_STATISTICS,
    TEACHERS,
    curve_points,
    parse_adapt_params,
    stage_rows,
)
from atrium.learning.models import Job, ModelVersion
from atrium.learning.registry import load_weights
from atrium.learning.services import run_job
from tests.platform.learning.conftest import read_from_truth

FAST = {"size": "tiny", "max_steps": 3, "max_seconds": 30, "infer_after": False, "batch_size": 4}


@pytest.fixture
def trained_study(cardiac_study, people):
    cases = list(cardiac_study.cases.order_by("id"))
    for case in cases:
        read_from_truth(case, people.annotator, slices=[2, 3])
    # A fixed split (the hash split of three cases may leave no other site in the pool): one validation case.
    cases[0].split = "validation"
    cases[0].save(update_fields=["split"])
    job = Job.objects.create(kind="train", study=cardiac_study, params=FAST)
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    return cardiac_study


def _pool_vendor(study) -> str:
    case = study.cases.exclude(split="validation").order_by("id").last()
    return case.vendor


def test_cases_carry_the_dicom_manufacturer_as_vendor(cardiac_study):
    vendors = set(cardiac_study.cases.values_list("vendor", flat=True))
    assert vendors <= {"SIEMENS", "GE MEDICAL SYSTEMS", "Philips"} and len(vendors) >= 2


def test_an_adapt_job_registers_a_child_version_adapted_to_the_vendor(trained_study):
    parent = ModelVersion.objects.get(study=trained_study, family="segmentation")
    vendor = _pool_vendor(trained_study)
    params = {
        "target_vendor": vendor,
        "max_steps": 2,
        "batch_size": 2,
        "shape_prior_steps": 3,
        "normaliser_steps": 2,
    }
    job = Job.objects.create(kind="adapt", study=trained_study, params=params)
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    child = ModelVersion.objects.get(pk=job.result["model_version"])
    assert child.parent_id == parent.pk and child.number == parent.number + 1
    assert child.config["adapted_to"] == {"vendor": vendor}
    assert child.config["model"] == parent.config["model"]  # the same segmenter inside
    assert child.config["adaptation"]["steps"] == 2
    # the adversarial stage's rates are the benchmark's (bench/domain_shift.py), recorded with the version
    assert child.config["adaptation"]["learning_rates"] == {"lr": 1e-4, "discriminator_lr": 5e-4}
    self_training = child.config["adaptation"]["self_training"]  # the default for segmentation: 3 rounds
    assert self_training["rounds"] == 3 and self_training["steps_per_student"] == 4
    assert (
        self_training["first_round_co_teacher"] == "parent" and self_training["teacher_statistics"] == "both"
    )
    assert [r["round"] for r in self_training["log"]] == [1, 2, 3]
    assert "self-training" in child.config["adaptation"]["method"]
    # the first round's teacher: the parent behind an intensity normaliser fitted against a shape prior
    assert self_training["first_round_teacher"] == FIRST_ROUND_TEACHER == "normaliser"
    prior = self_training["shape_prior"]
    assert prior["prior_steps"] == 3 and prior["normaliser_steps"] == 2
    assert [step for step, _ in prior["normaliser_prior_loss"]] == [0, 2]
    assert "shape prior" in child.config["adaptation"]["method"]
    assert not child.promoted  # adapting to one site does not replace the study's serving model
    # deployed with a normaliser in front and the shape prior behind (the default): the version carries both
    assert PRIOR_RESTORATION and child.config["restoration"] == {
        "normaliser_channels": 16,
        "prior_classes": 4,
    }
    restoration = child.config["adaptation"]["restoration"]
    assert restoration["normaliser_steps"] == 2
    assert [step for step, _ in restoration["normaliser_prior_loss"]] == [0, 2]
    assert "shape prior's restoration" in child.config["adaptation"]["method"]
    weights = load_weights(child)
    assert {k.split(".", 1)[1] for k in weights if k.startswith("segmenter.")} == set(load_weights(parent))
    assert {k.split(".")[0] for k in weights} == {"normaliser", "segmenter", "prior"}
    metrics = child.metrics
    assert "dice_mean" in metrics and metrics["by_vendor"] and metrics["by_site"]
    for group in metrics["by_vendor"].values():
        assert {"dice_lv", "dice_myo", "dice_rv", "n"} <= set(group)
    assert set(metrics["parent"]["by_vendor"]) == set(metrics["by_vendor"])
    # No target labels train: the source examples exclude every case of the target vendor.
    from atrium.annotations.models import AnnotationVersion

    used_cases = set(
        AnnotationVersion.objects.filter(pk__in=child.training_set).values_list(
            "annotation__case__vendor", flat=True
        )
    )
    assert used_cases and vendor not in used_cases
    rows = job.result["breakdown"]
    assert {(r["group"], r["value"]) for r in rows} >= {("vendor", v) for v in metrics["by_vendor"]}
    assert all(r["metric"] == "dice_mean" and r["parent"] is not None for r in rows)


def test_the_job_page_shows_the_breakdown_and_the_study_page_the_form(trained_study, people, client):
    vendor = _pool_vendor(trained_study)
    job = Job.objects.create(
        kind="adapt",
        study=trained_study,
        params={
            "target_vendor": vendor,
            "max_steps": 1,
            "batch_size": 2,
            "shape_prior_steps": 2,
            "normaliser_steps": 1,
        },
    )
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    client.force_login(people.ml_engineer)
    page = client.get(f"/jobs/{job.pk}/").content.decode()
    validation_vendor = trained_study.cases.get(split="validation").vendor  # the breakdown scores validation
    assert 'data-testid="adaptation-breakdown"' in page and f"vendor {validation_vendor}" in page
    assert f"vendor <strong>{vendor}</strong>" in page
    # the stages, with the prior's loss (label-free) drawn where a normaliser was fitted
    assert 'data-testid="adaptation-stages"' in page
    stages = [row["stage"] for row in Job.objects.get(pk=job.pk).result["stages"]]
    assert stages == ["adversarial", "shape prior", "first-round teacher", "self-training", "restoration"]
    assert page.count("<polyline points=") == 2
    study_page = client.get(f"/studies/{trained_study.slug}/").content.decode()
    assert 'data-testid="adapt"' in study_page
    assert 'name="self_training_rounds"' in study_page and 'value="3"' in study_page
    assert '<option value="both" selected>' in study_page  # teacher_statistics, the default first
    assert 'name="teacher"' in study_page and '<option value="normaliser" selected>' in study_page
    assert '<input name="prior_restoration" type="checkbox" checked>' in study_page
    client.force_login(people.annotator)
    assert 'data-testid="adapt"' not in client.get(f"/studies/{trained_study.slug}/").content.decode()


def test_the_api_starts_an_adapt_job_with_defaults_filled_in(trained_study, people, api_client):
    vendor = _pool_vendor(trained_study)
    response = api_client(people.ml_engineer).post(
        "/api/jobs/",
        {"kind": "adapt", "study": trained_study.slug, "params": {"target_vendor": vendor}},
        format="json",
    )
    assert response.status_code == 201, response.content
    params = response.json()["params"]
    parent = ModelVersion.objects.get(study=trained_study, family="segmentation")
    assert params["model_version"] == parent.pk and params["family"] == "segmentation"
    assert params["self_training_rounds"] == 3 and params["self_training_steps"] == 2 * params["max_steps"]
    assert params["teacher_statistics"] == "both"
    assert params["teacher"] == "normaliser"
    assert params["shape_prior_steps"] == PRIOR_STEPS and params["normaliser_steps"] == NORMALISER_STEPS
    assert params["prior_restoration"] is True


def test_the_platform_offers_the_teacher_statistics_self_training_knows(trained_study):
    from ml.domain_adaptation.self_training import STATISTICS as ML_STATISTICS

    assert set(STATISTICS) == set(ML_STATISTICS) and TEACHER_STATISTICS in STATISTICS
    vendor = _pool_vendor(trained_study)
    for choice in STATISTICS:
        params = {"target_vendor": vendor, "teacher_statistics": choice}
        assert parse_adapt_params(trained_study, params).teacher_statistics == choice


def test_the_platform_offers_the_teachers_and_step_counts_ml_knows(trained_study):
    from ml.domain_adaptation import shape_prior

    assert set(TEACHERS) == set(shape_prior.TEACHERS) and FIRST_ROUND_TEACHER in TEACHERS
    assert (PRIOR_STEPS, NORMALISER_STEPS) == (shape_prior.PRIOR_STEPS, shape_prior.NORMALISER_STEPS)
    vendor = _pool_vendor(trained_study)
    for choice in TEACHERS:
        assert (
            parse_adapt_params(trained_study, {"target_vendor": vendor, "teacher": choice}).teacher == choice
        )
    # without self-training there is no first round: the adversarial model is the result
    assert parse_adapt_params(
        trained_study, {"target_vendor": vendor, "self_training_rounds": 0}
    ).teacher == ("adversarial")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "target_site or target_vendor"),
        ({"target_vendor": "Toshiba"}, "no case of study"),
        ({"target_vendor": "SIEMENS", "colour": 1}, "unknown parameter"),
        ({"target_vendor": "SIEMENS", "max_steps": "many"}, "max_steps"),
        ({"target_vendor": "SIEMENS", "model_version": 99999}, "model version 99999"),
        ({"target_vendor": "SIEMENS", "family": "reconstruction"}, "family"),
        ({"target_vendor": "SIEMENS", "promote": "yes"}, "promote"),
        ({"target_vendor": "SIEMENS", "self_training_rounds": 11}, "self_training_rounds must be an integer"),
        ({"target_vendor": "SIEMENS", "self_training_steps": 0}, "self_training_steps"),
        (
            {"target_vendor": "SIEMENS", "family": "classification", "self_training_rounds": 1},
            "applies to segmentation models",
        ),
        (
            {"target_vendor": "SIEMENS", "teacher_statistics": "source"},
            "teacher_statistics must be one of both, own, target",
        ),
        (
            {"target_vendor": "SIEMENS", "family": "classification", "teacher_statistics": "own"},
            "teacher_statistics applies to segmentation models",
        ),
        (
            {"target_vendor": "SIEMENS", "teacher": "oracle"},
            "teacher must be one of normaliser, adversarial, both",
        ),
        (
            {"target_vendor": "SIEMENS", "family": "classification", "teacher": "adversarial"},
            "teacher applies to segmentation models",
        ),
        (
            {"target_vendor": "SIEMENS", "teacher": "normaliser", "self_training_rounds": 0},
            "set self_training_rounds >= 1",
        ),
        ({"target_vendor": "SIEMENS", "shape_prior_steps": 0}, "shape_prior_steps"),
        ({"target_vendor": "SIEMENS", "prior_restoration": "yes"}, "prior_restoration must be true or false"),
        (
            {"target_vendor": "SIEMENS", "family": "classification", "prior_restoration": False},
            "prior_restoration applies to segmentation models",
        ),
    ],
)
def test_bad_adapt_params_get_a_400_naming_the_problem(trained_study, people, api_client, params, message):
    response = api_client(people.ml_engineer).post(
        "/api/jobs/", {"kind": "adapt", "study": trained_study.slug, "params": params}, format="json"
    )
    assert response.status_code == 400
    assert message in str(response.json())
    assert not Job.objects.filter(kind="adapt").exists()


def test_adapting_needs_a_trained_model(cardiac_study, people, api_client):
    response = api_client(people.ml_engineer).post(
        "/api/jobs/",
        {"kind": "adapt", "study": cardiac_study.slug, "params": {"target_vendor": "SIEMENS"}},
        format="json",
    )
    assert response.status_code == 400 and "train one first" in str(response.json())


def test_ordinary_training_also_breaks_its_validation_metrics_down_by_site_and_vendor(trained_study):
    version = ModelVersion.objects.get(study=trained_study, family="segmentation")
    validation = trained_study.cases.get(split="validation")
    assert set(version.metrics["by_vendor"]) == {validation.vendor}
    assert set(version.metrics["by_site"]) == {validation.site or "unknown"}
    group = version.metrics["by_vendor"][validation.vendor]
    assert group["dice_mean"] == pytest.approx(version.metrics["dice_mean"])  # one group: the same slices


def _adapt(study, params) -> ModelVersion:
    job = Job.objects.create(kind="adapt", study=study, params=params)
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    return ModelVersion.objects.get(pk=job.result["model_version"])


def test_a_restored_version_predicts_scores_and_adapts_again(trained_study):
    """The restored version is a model like any other: it loads, infers and ranks the pool with MC dropout,
    and adapting it again starts from its segmenter (a fresh prior and normaliser, no nesting)."""
    from atrium.learning.model_builders import load_model
    from atrium.learning.models import Prediction
    from ml.domain_adaptation.restoration import PriorRestoredSegmenter

    vendor = _pool_vendor(trained_study)
    quick = {"target_vendor": vendor, "max_steps": 1, "batch_size": 2, "self_training_rounds": 1,
             "self_training_steps": 1, "shape_prior_steps": 2, "normaliser_steps": 1,
             "max_target_frames": 8}  # fmt: skip
    child = _adapt(trained_study, quick)
    model = load_model(child)
    assert isinstance(model, PriorRestoredSegmenter) and not isinstance(
        model.segmenter, PriorRestoredSegmenter
    )
    trained_study.cases.update(status="open")  # a pool to rank
    job = Job.objects.create(
        kind="infer", study=trained_study, params={"model_version": child.pk, "strategy": "mc_variance"}
    )
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    assert Prediction.objects.filter(model_version=child).count() == trained_study.cases.count()
    grandchild = _adapt(trained_study, {**quick, "model_version": child.pk})
    assert grandchild.parent_id == child.pk and "restoration" in grandchild.config
    assert set(load_weights(grandchild)) == set(
        load_weights(child)
    )  # one level: normaliser, segmenter, prior
    # without restoration an adapted child of a restored parent is a plain segmenter again
    plain = _adapt(trained_study, {**quick, "model_version": child.pk, "prior_restoration": False})
    assert "restoration" not in plain.config and "restoration" not in plain.config["adaptation"]["method"]
    assert plain.config["adaptation"]["restoration"] is None
    assert not any(k.startswith(("prior.", "normaliser.")) for k in load_weights(plain))
    assert not isinstance(load_model(plain), PriorRestoredSegmenter)


def test_curve_points_by_hand():
    # x from 2 to 158 by step, y from 38 (the lowest value) up to 2 (the highest)
    assert curve_points([(0, 1.0), (10, 0.5)]) == "2.0,2.0 158.0,38.0"
    assert curve_points([(0, 0.3), (5, 0.3), (10, 0.3)]) == "2.0,38.0 80.0,38.0 158.0,38.0"
    assert curve_points([(0, 0.3)]) == "" and curve_points([]) == ""


def test_stage_rows_follow_what_the_job_ran():
    assert stage_rows({"arch": "fcn"}) == []  # a trained, not adapted, version
    adversarial_only = {"adaptation": {"steps": 5, "stopped": "max_seconds", "domain_accuracy_final": 0.75,
                                       "self_training": {"rounds": 0}, "restoration": None}}  # fmt: skip
    rows = stage_rows(adversarial_only)
    assert [r["stage"] for r in rows] == ["adversarial"]
    assert (
        rows[0]["detail"] == "5 steps (stopped: its time limit); the discriminator's accuracy at the end 0.75"
    )
    adversarial_only["adaptation"]["stopped"] = "max_steps"  # ran its steps: nothing to say
    assert (
        stage_rows(adversarial_only)[0]["detail"] == "5 steps; the discriminator's accuracy at the end 0.75"
    )


def test_the_study_page_lists_versions_with_lineage_and_what_they_carry(trained_study, people, client):
    parent = ModelVersion.objects.get(study=trained_study, family="segmentation")
    vendor = _pool_vendor(trained_study)
    child = _adapt(
        trained_study,
        {"target_vendor": vendor, "max_steps": 1, "batch_size": 2, "self_training_rounds": 0,
         "shape_prior_steps": 2, "normaliser_steps": 1, "max_target_frames": 8},
    )  # fmt: skip
    client.force_login(people.ml_engineer)
    page = client.get(f"/studies/{trained_study.slug}/").content.decode()
    assert 'data-testid="model-versions"' in page
    table = page[page.index('data-testid="model-versions"') :]
    child_row = table[table.index(f'data-version="{child.pk}"') :]
    child_row = child_row[: child_row.index("</tr>")]
    assert f"segmentation v{child.number}" in child_row and f"v{parent.number}" in child_row
    assert f"vendor {vendor}" in child_row and "normaliser + shape prior" in child_row
    assert (
        "Dice 0." in child_row and f'data-adapted-to="vendor {vendor}"' in child_row
    )  # asks before promoting
    parent_row = table[table.index(f'data-version="{parent.pk}"') :]
    parent_row = parent_row[: parent_row.index("</tr>")]
    assert "normaliser + shape prior" not in parent_row and ("serving" in parent_row) == parent.promoted
    client.force_login(people.annotator)  # annotators neither see nor promote versions
    assert (
        'data-testid="model-versions"' not in client.get(f"/studies/{trained_study.slug}/").content.decode()
    )
