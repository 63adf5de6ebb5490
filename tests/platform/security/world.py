"""A small, complete world for permission and bad-input tests: one blind cardiac study with an ingested
cine (real DICOM instances), reference labels, an annotation by `annotator`, a job, two model versions,
a computed agreement report, and one API token per user."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROLES = ("anonymous", "outsider", "annotator", "annotator2", "ml_engineer", "study_lead", "admin")
SQUARE = [[2.0, 2.0], [9.0, 2.0], [9.0, 9.0], [2.0, 9.0]]


@dataclass
class World:
    study: Any
    case: Any
    series: Any
    instance: Any
    annotation: Any
    job: Any
    model_v1: Any
    model_v2: Any
    users: dict[str, Any]
    keys: dict[str, str]
    spare_token: Any
    dicom_files: list[tuple[str, bytes]]
    ids: dict[str, Any] = field(default_factory=dict)

    def user(self, role: str) -> Any:
        return self.users.get(role)


def cine_files(folder: Path) -> list[tuple[str, bytes]]:
    """Six single-frame MR files of a 2-slice, 3-phase 12x12 cine."""
    from atrium.imaging.synthetic_dicom import write_cardiac_cine

    image = np.linspace(0.05, 0.95, 2 * 3 * 12 * 12).reshape(2, 3, 12, 12)
    write_cardiac_cine(
        folder,
        image,
        seed=11,
        index=0,
        manufacturer="Siemens",
        pixel_spacing_mm=(1.5, 1.5),
        slice_thickness_mm=8.0,
        slice_spacing_mm=10.0,
        trigger_times_ms=np.arange(3) * 40.0,
    )
    return [(p.name, p.read_bytes()) for p in sorted(folder.glob("*.dcm"))]


def build_world(folder: Path) -> World:
    from django.utils import timezone

    from atrium.accounts.services import add_member, create_user
    from atrium.accounts.tokens import create_token
    from atrium.agreement.models import Report
    from atrium.annotations.services import create_annotation
    from atrium.imaging.models import Instance
    from atrium.imaging.services import attach_reference_labels, ingest_sources
    from atrium.imaging.sources import SourceFile
    from atrium.learning.models import Job, ModelVersion
    from atrium.studies.services import create_study

    study = create_study(
        slug="matrix", name="Matrix study", task_kind="cardiac", blind=True, reads_per_case=3
    )
    users: dict[str, Any] = {}
    for role, name, platform_role, member in (
        ("outsider", "m-eve", "annotator", False),
        ("annotator", "m-ann", "annotator", True),
        ("annotator2", "m-bob", "annotator", True),
        ("ml_engineer", "m-mel", "ml_engineer", True),
        ("study_lead", "m-lea", "study_lead", True),
        ("admin", "m-root", "admin", False),
    ):
        users[role] = create_user(username=name, password=f"{name}-password", role=platform_role)
        if member:
            add_member(user=users[role], study=study)
    keys = {role: create_token(user=user, name="matrix")[1] for role, user in users.items()}
    spare_token, _ = create_token(user=users["annotator"], name="spare")

    files = cine_files(folder / "cine")
    report = ingest_sources(
        study=study, sources=[SourceFile(name=n, path=folder / "cine" / n) for n, _ in files]
    )
    assert report.series_created and not report.errors, report.errors
    case = study.cases.select_related("series").get()
    series = case.series
    attach_reference_labels(series=series, labels=np.zeros(series.shape, dtype=np.uint8))
    instance = Instance.objects.filter(series=series).select_related("series__imaging_study").first()
    annotation = create_annotation(
        case=case,
        author=users["annotator"],
        kind="contour",
        data={"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE},
    )
    job = Job.objects.create(kind="train", study=study, created_by=users["ml_engineer"])
    model_v1 = ModelVersion.objects.create(study=study, family="segmentation", number=1)
    model_v2 = ModelVersion.objects.create(
        study=study, family="segmentation", number=2, parent=model_v1, promoted=True
    )
    Report.objects.create(study=study, data={}, computed_at=timezone.now(), stale=False)
    world = World(
        study=study,
        case=case,
        series=series,
        instance=instance,
        annotation=annotation,
        job=job,
        model_v1=model_v1,
        model_v2=model_v2,
        users=users,
        keys=keys,
        spare_token=spare_token,
        dicom_files=files,
    )
    world.ids = {
        "slug": study.slug,
        "case": case.pk,
        "series": series.pk,
        "annotation": annotation.pk,
        "job": job.pk,
        "model_v1": model_v1.pk,
        "model_v2": model_v2.pk,
        "token": spare_token.pk,
        "study_uid": instance.series.imaging_study.study_instance_uid,
        "series_uid": instance.series.series_instance_uid,
        "instance_uid": instance.sop_instance_uid,
        "member": users["annotator2"].pk,
    }
    return world
