"""A small ingested cardiac study and ultrasound study with reads drawn from the synthetic ground truth."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory):
    from atrium.imaging.demo_data import make_demo_data

    root = tmp_path_factory.mktemp("learning-demo")
    make_demo_data(root, seed=11, n_cardiac=3, n_ultrasound=2, size=48)
    return root


def ingest_into(study, folder):
    from atrium.imaging.demo_data import attach_demo_ground_truth
    from atrium.imaging.services import ingest_sources
    from atrium.imaging.sources import iter_sources

    report = ingest_sources(study=study, sources=iter_sources(folder))
    assert not report.errors, report.errors
    attach_demo_ground_truth(study=study, root=folder.parent)
    return study


def read_from_truth(case, user, *, slices=None):
    """The user draws the ground truth's contours on the given slices at every phase, then submits."""
    from atrium.annotations.services import create_annotation
    from atrium.imaging.pixel_store import get_pixel_store
    from atrium.studies.services import submit_case
    from ml.segmentation.contours import label_map_to_contours

    truth = np.asarray(get_pixel_store().open(case.series.label_store_key))
    for s in slices if slices is not None else range(truth.shape[0]):
        for p in range(truth.shape[1]):
            for structure, polygons in label_map_to_contours(truth[s, p]).items():
                if polygons:
                    create_annotation(
                        case=case,
                        author=user,
                        kind="contour",
                        data={"structure": structure, "slice": s, "phase": p, "points": polygons[0].tolist()},
                    )
    submit_case(case=case, user=user)


@pytest.fixture
def cardiac_study(people, study, demo_root):
    from atrium.accounts.services import add_member

    ingest_into(study, demo_root / "cardiac")
    for user in (people.annotator, people.annotator2, people.ml_engineer, people.study_lead):
        add_member(user=user, study=study)
    return study


def assert_train_refused(client, study, params, message):
    """POST a train job with `params`: a 400 whose detail names the problem, and no job queued."""
    from atrium.learning.models import Job

    response = client.post(
        "/api/jobs/", {"kind": "train", "study": study.slug, "params": params}, format="json"
    )
    assert response.status_code == 400, response.json()
    assert message in response.json()["detail"]
    assert not Job.objects.filter(kind="train").exists()
