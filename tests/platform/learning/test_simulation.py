"""Simulated active learning on a study: the command, the `simulate` job, bad input, and what is stored."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from atrium.learning.models import Job, LearningCurve
from atrium.learning.services import run_job
from tests.platform.learning.conftest import ingest_into

# Tiny budgets: a handful of optimiser steps on two frames per case; the runs take seconds.
TINY = ["--steps", "2", "--first-steps", "2", "--frames-per-case", "2"]
TINY_PARAMS = {"steps_per_round": 2, "first_round_steps": 2, "frames_per_case": 2}


@pytest.fixture(scope="module")
def sim_root(tmp_path_factory):
    from atrium.imaging.demo_data import make_demo_data

    root = tmp_path_factory.mktemp("simulation-demo")
    make_demo_data(root, seed=5, n_cardiac=5, n_ultrasound=3, size=48)
    return root


def with_one_validation_case(study):
    """Fix the validation split to the first case, so that the pool size does not depend on ids."""
    first = study.cases.order_by("id").first()
    study.cases.filter(pk=first.pk).update(split="validation")
    return study


@pytest.fixture
def cardiac_sim_study(study, people, sim_root):
    return with_one_validation_case(ingest_into(study, sim_root / "cardiac"))


@pytest.fixture
def ultrasound_sim_study(people, sim_root):
    from atrium.accounts.services import add_member
    from tests.factories import StudyFactory

    study = StudyFactory(slug="planes-sim", name="Planes sim", task_kind="ultrasound")
    for user in (people.annotator, people.ml_engineer):
        add_member(user=user, study=study)
    return with_one_validation_case(ingest_into(study, sim_root / "ultrasound"))


def simulate(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("simulate_active_learning", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_the_command_stores_one_curve_per_strategy_with_the_full_data_score(cardiac_sim_study):
    out = simulate(
        "--study", cardiac_sim_study.slug, "--strategy", "random,entropy", "--rounds", "2",
        "--batch", "1", "--initial", "1", *TINY,
    )  # fmt: skip
    curves = {c.strategy: c for c in LearningCurve.objects.filter(study=cardiac_sim_study)}
    assert set(curves) == {"random", "entropy"}
    for curve in curves.values():
        assert curve.params["pool_cases"] == 4 and curve.params["validation"] == "study split"
        assert curve.family == "segmentation" and curve.metric == "dice"
        assert [p["n_labelled"] for p in curve.points] == [1, 2, 3]
        assert [p["round"] for p in curve.points] == [0, 1, 2]
        assert all(0.0 <= p["score"] <= 1.0 for p in curve.points)
        assert curve.full_data_score is not None and 0.0 <= curve.full_data_score <= 1.0
        assert curve.params["rounds"] == 2 and curve.params["batch"] == 1 and curve.params["seed"] == 0
    assert curves["random"].params["run"] == curves["entropy"].params["run"]
    # The same seed starts both strategies from the same random case: the first points agree.
    assert curves["random"].points[0] == curves["entropy"].points[0]
    assert "stored 2 learning curves" in out and "entropy" in out


def test_all_means_every_strategy_a_simulation_can_run(cardiac_sim_study):
    simulate("--study", cardiac_sim_study.slug, "--strategy", "all", "--rounds", "1", "--initial", "1",
             "--batch", "1", *TINY)  # fmt: skip
    from atrium.learning.simulation import SIMULATED_STRATEGIES

    stored = set(LearningCurve.objects.values_list("strategy", flat=True))
    assert stored == set(SIMULATED_STRATEGIES) and "disagreement" not in stored


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--study", "nope", "--strategy", "random", "--rounds", "1"], "no study with slug 'nope'"),
        (["--strategy", "sharpest", "--rounds", "1"], "unknown strategy 'sharpest'"),
        (["--strategy", "disagreement", "--rounds", "1"], "needs observers' reads"),
        (["--strategy", "random", "--rounds", "0"], "rounds must be between 1 and 50"),
        (["--strategy", "random", "--rounds", "1", "--initial", "4"], "4 pool cases with ground truth"),
        (["--strategy", "random", "--rounds", "1", "--family", "classification"], "needs plane labels"),
    ],
)
def test_bad_input_is_a_command_error_naming_the_problem(cardiac_sim_study, args, message):
    if "--study" not in args:
        args = ["--study", cardiac_sim_study.slug, *args]
    with pytest.raises(CommandError, match=message):
        simulate(*args, *TINY)
    assert not LearningCurve.objects.exists()


def test_a_study_without_ground_truth_cannot_be_simulated(study, people):
    from tests.factories import CaseFactory, SeriesFactory

    CaseFactory(study=study, series=SeriesFactory())
    with pytest.raises(CommandError, match="has no cases with ground truth"):
        simulate("--study", study.slug, "--strategy", "random", "--rounds", "1")


def test_a_simulate_job_runs_plane_classification_and_reports_progress(ultrasound_sim_study, people):
    job = Job.objects.create(
        kind="simulate", study=ultrasound_sim_study, created_by=people.ml_engineer,
        params={"strategies": ["random", "margin"], "rounds": 1, "batch": 1, "initial": 1, **TINY_PARAMS},
    )  # fmt: skip
    assert run_job(job.pk) == "succeeded"
    job.refresh_from_db()
    assert job.progress == 1.0 and "stored 2 learning curves" in job.message
    curves = LearningCurve.objects.filter(job=job)
    assert {c.strategy for c in curves} == {"random", "margin"}
    assert {c.family for c in curves} == {"classification"} and {c.metric for c in curves} == {"f1"}
    assert set(job.result["curves"]) == {"random", "margin"}
    assert job.result["run"] == curves[0].params["run"]
    assert all(c.created_by == people.ml_engineer for c in curves)


def test_the_api_checks_a_simulate_job_before_queueing_it(cardiac_sim_study, people, api_client):
    client = api_client(people.ml_engineer)
    bad = client.post(
        "/api/jobs/",
        {"kind": "simulate", "study": cardiac_sim_study.slug, "params": {"strategies": ["nope"]}},
        format="json",
    )
    assert bad.status_code == 400 and "unknown strategy 'nope'" in str(bad.json())
    assert not Job.objects.filter(kind="simulate").exists()
    good = client.post(
        "/api/jobs/",
        {
            "kind": "simulate",
            "study": cardiac_sim_study.slug,
            "params": {"strategies": ["random"], "rounds": 2},
        },
        format="json",
    )
    assert good.status_code == 201, good.content
    assert good.json()["params"]["strategies"] == ["random"] and good.json()["params"]["rounds"] == 2
    annotator = api_client(people.annotator).post(
        "/api/jobs/", {"kind": "simulate", "study": cardiac_sim_study.slug, "params": {}}, format="json"
    )
    assert annotator.status_code == 403


def test_the_api_refuses_a_simulation_of_a_study_without_ground_truth(study, people, api_client):
    response = api_client(people.ml_engineer).post(
        "/api/jobs/", {"kind": "simulate", "study": study.slug, "params": {}}, format="json"
    )
    assert response.status_code == 400 and "no cases with ground truth" in str(response.json())
