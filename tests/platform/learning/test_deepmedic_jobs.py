"""The 3D DeepMedic as a segmentation architecture of a cardiac study: `train` jobs with arch "deepmedic"
register a version that rebuilds from its config, and inference with it pre-annotates and re-ranks the
queue like the 2D segmenter."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from atrium.learning.models import Job, ModelVersion
from atrium.learning.services import run_job
from tests.platform.learning.conftest import assert_train_refused, read_from_truth

FAST = {
    "arch": "deepmedic",
    "size": "tiny",
    "max_steps": 3,
    "max_seconds": 30,
    "infer_after": False,
    "batch_size": 4,
}


@pytest.fixture
def partly_read_study(cardiac_study, people):
    """Two of the three cases read on slices 2-3 at every phase; the third is still in the pool."""
    cases = list(cardiac_study.cases.order_by("id"))
    for case in cases[:2]:
        read_from_truth(case, people.annotator, slices=[2, 3])
    cases[1].split = "validation"  # a fixed split: one read case trains, one validates
    cases[1].save(update_fields=["split"])
    return cardiac_study


@pytest.fixture
def trained(partly_read_study, monkeypatch):
    """(the version a deepmedic train job registered, the trained network as it was registered)."""
    from atrium.learning import training

    registered = {}
    real = training.register_model_version

    def keep(**kwargs):
        registered["model"] = kwargs["model"]
        return real(**kwargs)

    monkeypatch.setattr(training, "register_model_version", keep)
    job = Job.objects.create(kind="train", study=partly_read_study, params={**FAST, "infer_after": True})
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    return ModelVersion.objects.get(pk=job.result["model_version"]), registered["model"]


@pytest.fixture
def served(partly_read_study):
    """An untrained tiny DeepMedic registered and promoted as the study's segmenter (no training cost)."""
    return _register(partly_read_study, dropout=0.0)


def _register(study, *, dropout: float) -> ModelVersion:
    from dataclasses import replace

    from atrium.learning.registry import promote, register_model_version
    from ml.segmentation.deepmedic import DeepMedic, tiny

    torch.manual_seed(0)
    config = replace(tiny(), dropout=dropout)
    version = register_model_version(
        study=study, family="segmentation", model=DeepMedic(config),
        config={"arch": "deepmedic", "model": config.to_dict()}, training_set=[], metrics={},
    )  # fmt: skip
    return promote(version=version)


def test_a_deepmedic_train_job_registers_a_version_that_rebuilds_with_volume_metrics(
    trained, partly_read_study
):
    from atrium.learning.model_builders import load_model
    from atrium.learning.training import evaluate, gather_examples
    from ml.segmentation.deepmedic import DeepMedic, tiny, volume_probabilities

    version, net = trained
    assert version.family == "segmentation" and version.promoted
    assert version.config["arch"] == "deepmedic" and version.config["steps"] == 3
    assert version.config["model"] == json.loads(json.dumps(tiny().to_dict()))
    # Slices 2-3 of one training case at every phase: one 2-slice volume per phase.
    assert version.config["train_volumes"] == [version.metrics["n_train"] // 2, 2]
    loaded = load_model(version)
    assert isinstance(loaded, DeepMedic) and loaded.config == net.config
    volume = np.random.default_rng(0).random((5, 20, 23)).astype(np.float32)
    assert np.allclose(
        volume_probabilities(loaded, volume), volume_probabilities(net.cpu(), volume), atol=1e-6
    )
    # The 2D path's metric keys, computed on the predictions of the validation case's volumes.
    validation = gather_examples(partly_read_study, split="validation")
    assert len(validation) and version.metrics["n_validation"] == len(validation)
    again = evaluate("segmentation", loaded, validation)
    for key in ("dice_lv", "dice_myo", "dice_rv", "dice_mean"):
        assert 0.0 <= version.metrics[key] <= 1.0 and version.metrics[key] == pytest.approx(again[key])
    assert {"dice_mean", "n"} <= set(next(iter(version.metrics["by_vendor"].values())))


def test_the_inference_job_after_training_pre_annotates_per_slice_and_reranks_the_queue(
    trained, partly_read_study, people, api_client
):
    from atrium.imaging.pixel_store import get_pixel_store
    from atrium.learning.models import Prediction, QueueItem, Round

    version, _ = trained
    infer = Job.objects.get(kind="infer", params__model_version=version.pk)
    assert run_job(infer.pk) == "succeeded", Job.objects.get(pk=infer.pk).error
    round_ = Round.objects.get(study=partly_read_study)
    assert round_.strategy == partly_read_study.al_strategy and round_.model_version == version
    pool = set(partly_read_study.cases.exclude(status="complete").values_list("pk", flat=True))
    items = QueueItem.objects.filter(study=partly_read_study, user__isnull=True)
    assert set(items.values_list("case_id", flat=True)) == pool
    assert all(0 < p <= 1 for p in items.values_list("priority", flat=True))
    case = partly_read_study.cases.exclude(status="complete").first()
    prediction = Prediction.objects.get(case=case, model_version=version)
    labels = np.asarray(get_pixel_store().open(prediction.data["store_key"]))
    assert prediction.kind == "label_map" and labels.shape == tuple(case.series.shape)
    assert all(0 <= c["slice"] < labels.shape[0] and 0 <= c["phase"] < labels.shape[1]
               for c in prediction.data["contours"])  # fmt: skip
    shown = api_client(people.annotator).get(f"/api/cases/{case.pk}/predictions/").json()
    assert all(item["kind"] == "contour" and item["model_version"]["number"] == 1 for item in shown)


def test_per_slice_probabilities_feed_the_scores_and_the_case_aggregation(served, partly_read_study):
    from atrium.imaging.pixel_store import get_pixel_store
    from atrium.learning.examples import windowed
    from atrium.learning.inference import predict_case
    from atrium.learning.model_builders import load_model
    from atrium.learning.scoring import PoolEvidence, add_case, rank_cases
    from ml.active_learning import scoring
    from ml.segmentation.deepmedic import slice_items, volume_probabilities

    model = load_model(served)
    case = partly_read_study.cases.order_by("id").last()
    frames = windowed(np.asarray(get_pixel_store().open(case.series.store_key)), case.series)
    _, probs, inputs = predict_case(case, served, model)
    n_slices, n_phases = frames.shape[:2]
    assert probs.shape == (n_slices * n_phases, 4, *frames.shape[2:])
    assert tuple(inputs.shape) == (n_phases, n_slices, *frames.shape[2:])
    # Item s * P + p is slice s of phase p's volume, as on the 2D path.
    assert np.allclose(probs[1::n_phases], slice_items(volume_probabilities(model, frames[:, 1])), atol=1e-6)
    evidence = PoolEvidence()
    add_case(evidence, strategy="entropy", case_id=case.pk, probs=probs, model=model, inputs=inputs)
    ranked = rank_cases("entropy", evidence, labelled=[], seed=0)
    assert ranked.scores[case.pk] == pytest.approx(float(np.mean(scoring.entropy(probs, "foreground"))))


@pytest.mark.parametrize("strategy", ["bald", "mc_variance", "tta_variance"])
def test_mc_dropout_and_tta_scores_come_from_the_volumes_one_per_slice(monkeypatch, strategy):
    from dataclasses import replace

    from atrium.learning import scoring
    from atrium.learning.volume_segmenter import case_probabilities
    from ml.segmentation.deepmedic import DeepMedic, tiny
    from ml.segmentation.deepmedic_uncertainty import slice_uncertainty

    monkeypatch.setattr(scoring, "MC_SAMPLES", 2)
    torch.manual_seed(0)
    model = DeepMedic(replace(tiny(), dropout=0.5)).eval()
    volumes = np.random.default_rng(0).random((2, 3, 12, 12)).astype(np.float32)  # (P, S, H, W)
    probs = case_probabilities(model, volumes)
    evidence = scoring.PoolEvidence()
    inputs = torch.from_numpy(volumes)
    scoring.add_case(evidence, strategy=strategy, case_id=7, probs=probs, model=model, inputs=inputs)
    scores = evidence.scores[0]
    assert scores.shape == (len(probs),) == (6,) and (scores > 0).all()
    if strategy == "tta_variance":  # deterministic: item s * P + p is slice s of phase p
        assert np.allclose(scores[1::2], slice_uncertainty(model, volumes[1], "tta_variance"))
    ranked = scoring.rank_cases(strategy, evidence, labelled=[], seed=0)
    assert ranked.scores[7] == pytest.approx(float(scores.mean()))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"arch": "resnet3d"}, "unknown arch 'resnet3d'; expected one of fcn, unet, deepmedic"),
        ({"arch": 3}, "unknown arch 3"),
        ({"arch": "deepmedic", "family": "classification"}, "arch 'deepmedic' is a segmentation"),
    ],
)
def test_a_bad_arch_is_a_400_naming_it_and_queues_nothing(cardiac_study, people, api_client, params, message):
    assert_train_refused(api_client(people.ml_engineer), cardiac_study, params, message)


def test_the_api_records_the_chosen_arch_and_defaults_to_the_fcn(cardiac_study, people, api_client):
    client = api_client(people.ml_engineer)
    chosen = client.post(
        "/api/jobs/",
        {"kind": "train", "study": cardiac_study.slug, "params": {"arch": "deepmedic"}},
        format="json",
    )
    plain = client.post("/api/jobs/", {"kind": "train", "study": cardiac_study.slug}, format="json")
    assert chosen.status_code == plain.status_code == 201
    assert chosen.json()["params"]["arch"] == "deepmedic" and plain.json()["params"]["arch"] == "fcn"


def test_manage_py_train_takes_an_arch(cardiac_study):
    from django.core.management import CommandError, call_command

    call_command("train", "--study", cardiac_study.slug, "--arch", "deepmedic", "--no-wait")
    assert Job.objects.get(kind="train").params["arch"] == "deepmedic"
    with pytest.raises(CommandError, match="segmentation architecture"):
        call_command(
            "train",
            "--study",
            cardiac_study.slug,
            "--arch",
            "unet",
            "--family",
            "classification",
            "--no-wait",
        )


def test_the_study_page_offers_the_architectures_for_cardiac_studies(client, people, cardiac_study):
    client.force_login(people.ml_engineer)
    page = client.get(f"/studies/{cardiac_study.slug}/").content.decode()
    assert 'data-testid="retrain-arch"' in page and 'value="deepmedic"' in page


def test_automatic_retraining_keeps_the_served_architecture(served, partly_read_study):
    from atrium.learning.triggers import maybe_retrain

    partly_read_study.retrain_after_n_submissions = 1
    partly_read_study.save(update_fields=["retrain_after_n_submissions"])
    job = maybe_retrain(study=partly_read_study)  # what a submission queues once it commits
    assert job is not None and job.params["arch"] == "deepmedic"


def test_an_adapt_job_refuses_a_deepmedic_parent_with_a_reason(served, partly_read_study):
    from atrium.learning.adaptation import parse_adapt_params

    vendor = partly_read_study.cases.order_by("id").last().vendor
    with pytest.raises(ValueError, match="3D DeepMedic; adaptation works on the 2D segmenters"):
        parse_adapt_params(partly_read_study, {"target_vendor": vendor})


def test_a_unet_train_job_registers_a_unet_that_load_model_rebuilds(partly_read_study):
    from atrium.learning.model_builders import load_model
    from ml.segmentation.unet import UNet

    params = {**FAST, "arch": "unet"}
    job = Job.objects.create(kind="train", study=partly_read_study, params=params)
    assert run_job(job.pk) == "succeeded", Job.objects.get(pk=job.pk).error
    version = ModelVersion.objects.get(pk=Job.objects.get(pk=job.pk).result["model_version"])
    assert version.config["arch"] == "unet" and isinstance(load_model(version), UNet)
    assert {"dice_lv", "dice_myo", "dice_rv", "dice_mean"} <= set(version.metrics)
