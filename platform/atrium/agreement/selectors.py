"""Reads for agreement: who read what (readers and their reads per case), reports, staleness, access."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from django.db.models import F

from atrium.agreement.models import Report
from atrium.agreement.reads import CaseRead, Reader
from atrium.studies.models import Case, Study
from atrium.studies.selectors import member_role

READ_ROLES = frozenset({"admin", "study_lead", "ml_engineer"})
RECOMPUTE_ROLES = frozenset({"admin", "study_lead"})


def report_access(user: Any, study: Study) -> str | None:
    """ "recompute" for study leads and admins, "read" for ML engineers, None for everyone else."""
    if not user.is_authenticated:
        return None
    role = member_role(user, study)
    if role in RECOMPUTE_ROLES:
        return "recompute"
    if role in READ_ROLES:
        return "read"
    return None


def report_for(study: Study) -> Report | None:
    return Report.objects.filter(study=study).first()


def annotation_changes_since(study: Study, since: Any) -> int:
    """Annotation versions saved in the study after `since` (all of them when it is None)."""
    from atrium.annotations.models import AnnotationVersion

    versions = AnnotationVersion.objects.filter(annotation__case__study=study)
    return versions.filter(created_at__gt=since).count() if since is not None else versions.count()


def latest_report_job(study: Study) -> Any:
    from atrium.learning.models import Job

    return Job.objects.filter(study=study, kind="report").order_by("-created_at", "-id").first()


def series_geometry(case: Case) -> tuple[tuple[int, ...], tuple[float, float], float]:
    """(shape, (row, col) pixel spacing mm, distance between slices mm) of a case's series."""
    series = case.series
    spacing = tuple(float(v) for v in (series.pixel_spacing_mm or [1.0, 1.0]))[:2]
    slice_mm = float(series.slice_spacing_mm or series.slice_thickness_mm or 1.0)
    return tuple(int(v) for v in series.shape), (spacing[0], spacing[1]), slice_mm


def _digest(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


@dataclass
class StudyReads:
    """Readers (observers first, by user id and read number; then model versions by number) and each
    case's reads by reader key."""

    readers: list[Reader]
    cases: list[Case]
    reads: dict[int, dict[str, CaseRead]] = field(default_factory=dict)
    planes: dict[int, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)


def _model_readers(study: Study, family: str) -> tuple[dict[int, Reader], list[Any]]:
    from atrium.learning.models import Prediction, Round

    rounds: dict[int, int] = {}
    for number, version_id in (
        Round.objects.filter(study=study, model_version__isnull=False)
        .order_by("number")
        .values_list("number", "model_version_id")
    ):
        rounds.setdefault(version_id, number)
    predictions = list(
        Prediction.objects.filter(case__study=study, model_version__family=family)
        .select_related("model_version")
        .order_by("model_version__number", "id")
    )
    readers: dict[int, Reader] = {}
    for p in predictions:
        mv = p.model_version
        if mv.pk not in readers:
            readers[mv.pk] = Reader(
                key=f"model:{mv.family}#{mv.number}",
                label=f"{mv.family} v{mv.number}",
                kind="model",
                model_number=mv.number,
                model_version_id=mv.pk,
                round=rounds.get(mv.pk),
            )
    return readers, predictions


def _observer_rows(study: Study) -> list[dict[str, Any]]:
    from atrium.annotations.models import AnnotationVersion

    return list(
        AnnotationVersion.objects.filter(  # type: ignore[arg-type]
            annotation__case__study=study, annotation__deleted=False, number=F("annotation__version")
        )
        .order_by("annotation_id")
        .values(
            "id",
            "data",
            kind=F("annotation__kind"),
            case_id=F("annotation__case_id"),
            owner_id=F("annotation__author_id"),
            owner_name=F("annotation__author__username"),
            read_number=F("annotation__assignment__read_number"),
        )
    )


def study_reads(study: Study) -> StudyReads:
    """Every reader's current reads of the study's cases, with signatures for the cache."""
    cases = list(Case.objects.filter(study=study).select_related("series").order_by("id"))
    rows = _observer_rows(study)
    observers: dict[tuple[int, int], Reader] = {}
    for row in sorted(rows, key=lambda r: (r["owner_id"], r["read_number"] or 1)):
        if row["kind"] == "phases":
            continue
        read = int(row["read_number"] or 1)
        if (row["owner_id"], read) not in observers:
            observers[(row["owner_id"], read)] = Reader(
                key=f"obs:{row['owner_name']}#{read}",
                label=row["owner_name"] if read == 1 else f"{row['owner_name']} (read {read})",
                kind="observer",
                user=row["owner_name"],
                read_number=read,
            )
    out = StudyReads(readers=[], cases=cases)
    cardiac = study.task_kind == "cardiac"
    models, predictions = _model_readers(study, "segmentation" if cardiac else "classification")
    out.readers = list(observers.values()) + list(models.values())

    phases: dict[tuple[int, int], list[dict[str, Any]]] = {}
    version_ids: dict[tuple[int, str], list[int]] = {}
    for row in rows:
        read = int(row["read_number"] or 1)
        if row["kind"] == "phases":
            phases.setdefault((row["case_id"], row["owner_id"]), []).append({**row, "read": read})
            continue
        reader = observers[(row["owner_id"], read)]
        if row["kind"] == "contour" and cardiac:
            case_reads = out.reads.setdefault(row["case_id"], {})
            case_reads.setdefault(reader.key, CaseRead(reader=reader)).contours.append(row["data"])
        elif row["kind"] == "plane_label" and not cardiac:
            out.planes.setdefault(row["case_id"], {}).setdefault(reader.key, []).append(row["data"])
        version_ids.setdefault((row["case_id"], reader.key), []).append(row["id"])
    for (author_id, read), reader in observers.items():
        for case_id, case_reads in out.reads.items():
            cr = case_reads.get(reader.key)
            if cr is None:
                continue
            own = phases.get((case_id, author_id), [])
            chosen = next((p for p in own if p["read"] == read), own[0] if own else None)
            ids = sorted(version_ids.get((case_id, reader.key), []))
            if chosen is not None:
                cr.phases = (chosen["data"].get("ed_phase"), chosen["data"].get("es_phase"))
                ids.append(-int(chosen["id"]))
            cr.signature = _digest("obs", *ids)
    latest: dict[tuple[int, int], Any] = {}
    for p in predictions:
        latest[(p.case_id, p.model_version_id)] = p  # ordered by id: the newest wins
    for (case_id, version_id), p in latest.items():
        reader = models[version_id]
        if cardiac:
            data = p.data or {}
            cr = CaseRead(reader=reader, signature=_digest("pred", p.pk))
            if p.kind == "label_map" and data.get("store_key"):
                cr.label_map_key = str(data["store_key"])
            elif "points" in data:
                cr.contours = [data]
            else:
                cr.contours = list(data.get("contours", []))
            cr.phases = (data.get("ed_phase"), data.get("es_phase"))
            # Several one-contour predictions of a version on a case: merge them.
            existing = out.reads.setdefault(case_id, {}).get(reader.key)
            if existing is not None and not cr.label_map_key and not existing.label_map_key:
                existing.contours += cr.contours
                existing.signature = _digest(existing.signature, cr.signature)
            else:
                out.reads[case_id][reader.key] = cr
        else:
            out.planes.setdefault(case_id, {})[reader.key] = [{"frames": (p.data or {}).get("frames", [])}]
    if cardiac:
        # One-contour predictions: every prediction of a version counts, not only the newest.
        for p in predictions:
            if (
                p.kind == "contour"
                and "points" in (p.data or {})
                and latest[(p.case_id, p.model_version_id)] is not p
            ):
                cr = out.reads[p.case_id][models[p.model_version_id].key]
                cr.contours.append(p.data)
                cr.signature = _digest(cr.signature, p.pk)
    return out
