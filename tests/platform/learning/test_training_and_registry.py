"""Training from observers' reads registers a model version with its exact training set; promotion and
rollback move which version serves pre-annotation."""

from __future__ import annotations

from pathlib import Path

import pytest

from atrium.learning.models import Job, ModelVersion
from atrium.learning.registry import models_root, promote, rollback
from atrium.learning.services import run_job
from tests.platform.learning.conftest import assert_train_refused, read_from_truth

FAST = {"size": "tiny", "max_steps": 4, "max_seconds": 30, "infer_after": False, "batch_size": 4}


@pytest.fixture
def partly_read_study(cardiac_study, people):
    """Two of the three cases read and submitted; the third is still in the pool."""
    for case in list(cardiac_study.cases.order_by("id"))[:2]:
        read_from_truth(case, people.annotator, slices=[2, 3])
    return cardiac_study


@pytest.fixture
def read_study(cardiac_study, people):
    for case in cardiac_study.cases.all():
        read_from_truth(case, people.annotator, slices=[2, 3])
    return cardiac_study


def train_now(study, **params):
    job = Job.objects.create(kind="train", study=study, params={**FAST, **params})
    state = run_job(job.pk)
    job.refresh_from_db()
    assert state == "succeeded", job.error
    return ModelVersion.objects.get(pk=job.result["model_version"])


def test_training_registers_a_version_with_weights_and_its_training_set(read_study):
    from atrium.annotations.models import AnnotationVersion

    version = train_now(read_study)
    assert version.family == "segmentation" and version.number == 1 and version.promoted
    assert (models_root() / version.weights_key).exists()
    used = set(version.training_set)
    assert used and used <= set(AnnotationVersion.objects.values_list("pk", flat=True))
    assert {"dice_lv", "dice_myo", "dice_rv", "n_train"} <= set(version.metrics)
    assert version.metrics["n_train"] > 0


def test_a_segmentation_job_can_ask_for_restarts_and_its_version_records_the_runs(read_study):
    version = train_now(read_study, restarts=1)
    # Four steps of the tiny FCN may or may not learn every structure: one run, or a restart after it.
    assert version.config["restarts"] == 1 and version.config["runs"] in (1, 2)
    assert train_now(read_study).config["restarts"] == 0


@pytest.mark.parametrize("restarts", [-1, 4, 1.5, "2", True])
def test_a_bad_restarts_is_a_400_naming_it_and_queues_nothing(cardiac_study, people, api_client, restarts):
    assert_train_refused(
        api_client(people.ml_engineer),
        cardiac_study,
        {"restarts": restarts},
        "restarts must be an integer from 0 to 3",
    )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"restarts": 1, "arch": "deepmedic"},
            "restarts apply to the 2D segmenters (fcn, unet), not to arch 'deepmedic'",
        ),
        ({"restarts": 2, "family": "classification"}, "not to a classification model"),
    ],
)
def test_restarts_asked_of_a_model_without_them_are_a_400(cardiac_study, people, api_client, params, message):
    assert_train_refused(api_client(people.ml_engineer), cardiac_study, params, message)
    ok = {"kind": "train", "study": cardiac_study.slug, "params": {"restarts": 2, "arch": "unet"}}
    created = api_client(people.ml_engineer).post("/api/jobs/", ok, format="json")
    assert created.status_code == 201 and created.json()["params"]["restarts"] == 2


def test_manage_py_train_and_the_study_page_take_restarts(cardiac_study, people, client):
    from django.core.management import CommandError, call_command

    call_command("train", "--study", cardiac_study.slug, "--restarts", "2", "--no-wait")
    assert Job.objects.get(kind="train").params["restarts"] == 2
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("train", "--study", cardiac_study.slug, "--restarts", "4", "--no-wait")
    with pytest.raises(CommandError, match="not to arch 'deepmedic'"):
        call_command(
            "train", "--study", cardiac_study.slug, "--restarts", "1", "--arch", "deepmedic", "--no-wait"
        )
    assert Job.objects.filter(kind="train").count() == 1
    client.force_login(people.ml_engineer)
    page = client.get(f"/studies/{cardiac_study.slug}/").content.decode()
    assert 'data-testid="retrain-restarts"' in page and 'max="3"' in page


def test_the_training_set_snapshot_names_exact_annotation_versions(read_study, people):
    from atrium.annotations.models import Annotation, AnnotationVersion
    from atrium.annotations.services import update_annotation

    first = train_now(read_study)
    edited = Annotation.objects.filter(kind="contour", case__split="pool").first()
    old_version_id = AnnotationVersion.objects.get(annotation=edited, number=edited.version).pk
    update_annotation(
        annotation=edited, author=people.annotator, data=edited.data, expected_version=edited.version
    )
    second = train_now(read_study)
    new_version_id = AnnotationVersion.objects.get(annotation=edited, number=2).pk
    assert old_version_id in first.training_set and new_version_id not in first.training_set
    assert new_version_id in second.training_set and old_version_id not in second.training_set
    assert second.parent == first


def test_promotion_and_rollback_move_the_serving_version(read_study, people):
    first = train_now(read_study)
    second = train_now(read_study)
    assert second.promoted and not ModelVersion.objects.get(pk=first.pk).promoted
    back = rollback(study=read_study, family="segmentation", actor=people.ml_engineer)
    assert back.pk == first.pk and back.promoted
    assert ModelVersion.objects.filter(study=read_study, promoted=True).count() == 1
    promote(version=second, actor=people.ml_engineer)
    assert ModelVersion.objects.get(promoted=True, study=read_study).pk == second.pk


def test_rolling_back_the_first_version_is_refused(read_study):
    train_now(read_study)
    with pytest.raises(ValueError, match="nothing to roll back to"):
        rollback(study=read_study, family="segmentation")


def test_training_without_submitted_reads_fails_with_a_reason(cardiac_study):
    job = Job.objects.create(kind="train", study=cardiac_study, params=FAST)
    assert run_job(job.pk) == "failed"
    job.refresh_from_db()
    assert "training examples from submitted reads" in job.error


def test_a_failed_registration_leaves_no_weights_behind(read_study, monkeypatch):
    from atrium.learning import registry

    def broken_create(*args, **kwargs):
        raise RuntimeError("database went away")

    before = set(Path(models_root()).rglob("*.pt")) if models_root().exists() else set()
    monkeypatch.setattr(registry.ModelVersion.objects, "create", broken_create)
    job = Job.objects.create(kind="train", study=read_study, params=FAST)
    assert run_job(job.pk) == "failed"
    after = set(Path(models_root()).rglob("*.pt"))
    assert after == before
    assert not ModelVersion.objects.exists()


def test_ml_engineers_promote_over_the_api_and_annotators_cannot(read_study, people, api_client):
    first = train_now(read_study)
    train_now(read_study)
    assert api_client(people.annotator).post(f"/api/models/{first.pk}/promote/").status_code == 403
    response = api_client(people.ml_engineer).post(f"/api/models/{first.pk}/promote/")
    assert response.status_code == 200 and response.json()["promoted"] is True
    listed = api_client(people.annotator).get(f"/api/models/?study={read_study.slug}").json()["results"]
    assert [v["number"] for v in listed] == [2, 1]


@pytest.mark.parametrize("strategy", ["entropy", "mc_variance", "coreset", "disagreement"])
def test_inference_scores_the_pool_reranks_the_queue_and_records_a_round(
    partly_read_study, people, api_client, strategy
):
    from atrium.learning.models import Prediction, QueueItem, Round

    version = train_now(partly_read_study)
    job = Job.objects.create(kind="infer", study=partly_read_study, params={"strategy": strategy})
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    round_ = Round.objects.get(study=partly_read_study)
    assert round_.strategy == strategy and round_.model_version == version
    items = QueueItem.objects.filter(study=partly_read_study, user__isnull=True)
    pool = set(partly_read_study.cases.exclude(status="complete").values_list("pk", flat=True))
    if strategy == "disagreement":
        pool = set(partly_read_study.cases.values_list("pk", flat=True))
    assert set(items.values_list("case_id", flat=True)) == pool
    assert all(0 < p <= 1 for p in items.values_list("priority", flat=True))
    assert all(
        p.model_version_id == version.pk for p in Prediction.objects.filter(case__study=partly_read_study)
    )
    case = partly_read_study.cases.exclude(status="complete").first()
    shown = api_client(people.annotator).get(f"/api/cases/{case.pk}/predictions/").json()
    assert shown and shown[0]["model_version"]["number"] == 1 and shown[0]["kind"] == "contour"


def test_the_next_case_follows_the_scores_of_the_latest_round(partly_read_study, people, api_client):
    from atrium.learning.models import QueueItem

    train_now(partly_read_study)
    job = Job.objects.create(kind="infer", study=partly_read_study, params={"strategy": "entropy"})
    assert run_job(job.pk) == "succeeded"
    top = QueueItem.objects.filter(study=partly_read_study).order_by("-priority").first()
    assert api_client(people.study_lead).get("/api/queue/next/").json()["case_id"] == top.case_id
