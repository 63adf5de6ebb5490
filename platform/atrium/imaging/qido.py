"""QIDO-RS: match query parameters against visible studies, series and instances; build DICOM JSON results."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.db.models import Count, Q, QuerySet

from atrium.imaging.dicom_json import header_value
from atrium.imaging.models import ImagingStudy, Instance, Series
from atrium.imaging.selectors import imaging_studies_visible_to, instances_visible_to, series_visible_to

# Query keys (keyword or tag) -> the field they match, per level.
STUDY_KEYS = {
    "PatientID": "patient__pseudonym",
    "00100020": "patient__pseudonym",
    "PatientName": "patient__pseudonym",
    "00100010": "patient__pseudonym",
    "StudyInstanceUID": "study_instance_uid",
    "0020000D": "study_instance_uid",
    "ModalitiesInStudy": "series__modality",
    "00080061": "series__modality",
    "Modality": "series__modality",
    "00080060": "series__modality",
}
SERIES_KEYS = {
    "SeriesInstanceUID": "series_instance_uid",
    "0020000E": "series_instance_uid",
    "Modality": "modality",
    "00080060": "modality",
    "StudyInstanceUID": "imaging_study__study_instance_uid",
    "0020000D": "imaging_study__study_instance_uid",
    "PatientID": "imaging_study__patient__pseudonym",
    "00100020": "imaging_study__patient__pseudonym",
}
INSTANCE_KEYS = {
    "SOPInstanceUID": "sop_instance_uid",
    "00080018": "sop_instance_uid",
    "SOPClassUID": "sop_class_uid",
    "00080016": "sop_class_uid",
    "SeriesInstanceUID": "series__series_instance_uid",
    "0020000E": "series__series_instance_uid",
    "StudyInstanceUID": "series__imaging_study__study_instance_uid",
    "0020000D": "series__imaging_study__study_instance_uid",
    "Modality": "series__modality",
    "00080060": "series__modality",
    "InstanceNumber": "instance_number",
    "00200013": "instance_number",
}
UID_FIELDS_SUFFIX = ("uid",)


class QueryError(ValueError):
    pass


def _match(field: str, raw: str) -> Q:
    """One QIDO matching rule: UID lists (comma or backslash), wildcards (* and ?), else exact."""
    if field.endswith("uid"):
        values = [v for v in re.split(r"[,\\]", raw) if v]
        return Q(**{f"{field}__in": values})
    if field == "instance_number":
        try:
            return Q(instance_number=int(raw))
        except ValueError:
            raise QueryError(f"InstanceNumber must be an integer, got {raw!r}") from None
    if "*" in raw or "?" in raw:
        pattern = "^" + re.escape(raw).replace(r"\*", ".*").replace(r"\?", ".") + "$"
        return Q(**{f"{field}__regex": pattern})
    return Q(**{field: raw})


def _paginate(queryset: QuerySet[Any], params: Mapping[str, str]) -> QuerySet[Any]:
    try:
        offset = max(int(params.get("offset", 0) or 0), 0)
        limit = int(params["limit"]) if params.get("limit") else None
    except ValueError:
        raise QueryError("limit and offset must be integers") from None
    if limit is not None and limit < 0:
        raise QueryError("limit must not be negative")
    return queryset[offset : offset + limit] if limit is not None else queryset[offset:]


def _filter(queryset: QuerySet[Any], params: Mapping[str, str], keys: Mapping[str, str]) -> QuerySet[Any]:
    for key, raw in params.items():
        field = keys.get(key) or keys.get(key.upper())
        if field is not None and raw != "":
            queryset = queryset.filter(_match(field, raw))
    return queryset


def _value(vr: str, value: Any) -> dict[str, Any]:
    if value in (None, ""):
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": str(value)}]}
    return {"vr": vr, "Value": list(value) if isinstance(value, list) else [value]}


def search_studies(user: Any, params: Mapping[str, str], base_url: str) -> list[dict[str, Any]]:
    studies = _filter(imaging_studies_visible_to(user), params, STUDY_KEYS).distinct()
    studies = studies.select_related("patient").order_by("pk")
    rows = list(_paginate(studies, params))
    counts = {
        row["imaging_study"]: row
        for row in Series.objects.filter(imaging_study__in=[s.pk for s in rows])
        .values("imaging_study")
        .annotate(n_series=Count("pk", distinct=True), n_instances=Count("instances"))
    }
    modalities: dict[int, set[str]] = {}
    for study_id, modality in Series.objects.filter(imaging_study__in=[s.pk for s in rows]).values_list(
        "imaging_study", "modality"
    ):
        modalities.setdefault(study_id, set()).add(modality)
    return [study_json(s, counts.get(s.pk, {}), sorted(modalities.get(s.pk, ())), base_url) for s in rows]  # type: ignore[arg-type]


def study_json(
    study: ImagingStudy, counts: Mapping[str, int], modalities: list[str], base_url: str
) -> dict[str, Any]:
    date = study.study_date.strftime("%Y%m%d") if study.study_date else None
    return {
        "00080020": _value("DA", date),
        "00080061": _value("CS", modalities),
        "00081190": _value("UR", f"{base_url}/studies/{study.study_instance_uid}"),
        "00100010": _value("PN", study.patient.pseudonym),
        "00100020": _value("LO", study.patient.pseudonym),
        "0020000D": _value("UI", study.study_instance_uid),
        "00201206": _value("IS", counts.get("n_series", 0)),
        "00201208": _value("IS", counts.get("n_instances", 0)),
    }


def search_series(
    user: Any, params: Mapping[str, str], base_url: str, study_uid: str | None = None
) -> list[dict[str, Any]]:
    series = series_visible_to(user)
    if study_uid is not None:
        series = series.filter(imaging_study__study_instance_uid=study_uid)
    series = _filter(series, params, SERIES_KEYS).select_related("imaging_study").order_by("pk")
    series = series.annotate(n_instances=Count("instances"))
    rows = list(_paginate(series, params))
    numbers = _first_header_values(rows, "00200011")
    return [series_json(s, numbers.get(s.pk), base_url) for s in rows]


def _first_header_values(series: list[Series], tag: str) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for instance in (
        Instance.objects.filter(series__in=series)
        .order_by("series", "first_frame")
        .only("series", "dicom_json")
    ):
        out.setdefault(instance.series_id, header_value(instance.dicom_json, tag))
    return out


def _instance_count(series: Series) -> int:
    annotated = getattr(series, "n_instances", None)
    return int(annotated) if annotated is not None else series.instances.count()


def series_json(series: Series, number: Any, base_url: str) -> dict[str, Any]:
    study_uid = series.imaging_study.study_instance_uid
    return {
        "00080060": _value("CS", series.modality),
        "0008103E": _value("LO", series.description),
        "00081190": _value("UR", f"{base_url}/studies/{study_uid}/series/{series.series_instance_uid}"),
        "0020000D": _value("UI", study_uid),
        "0020000E": _value("UI", series.series_instance_uid),
        "00200011": _value("IS", number),
        "00201209": _value("IS", _instance_count(series)),
    }


def search_instances(
    user: Any,
    params: Mapping[str, str],
    base_url: str,
    study_uid: str | None = None,
    series_uid: str | None = None,
) -> list[dict[str, Any]]:
    instances = instances_visible_to(user).select_related("series__imaging_study")
    if study_uid is not None:
        instances = instances.filter(series__imaging_study__study_instance_uid=study_uid)
    if series_uid is not None:
        instances = instances.filter(series__series_instance_uid=series_uid)
    instances = _filter(instances, params, INSTANCE_KEYS).order_by("series", "first_frame", "pk")
    return [instance_json(i, base_url) for i in _paginate(instances, params)]


def instance_json(instance: Instance, base_url: str) -> dict[str, Any]:
    series = instance.series
    study_uid = series.imaging_study.study_instance_uid
    height, width = series.frame_shape
    return {
        "00080016": _value("UI", instance.sop_class_uid),
        "00080018": _value("UI", instance.sop_instance_uid),
        "00080060": _value("CS", series.modality),
        "00081190": _value(
            "UR",
            f"{base_url}/studies/{study_uid}/series/{series.series_instance_uid}/instances/{instance.sop_instance_uid}",
        ),
        "0020000D": _value("UI", study_uid),
        "0020000E": _value("UI", series.series_instance_uid),
        "00200013": _value("IS", instance.instance_number),
        "00280008": _value("IS", instance.n_frames),
        "00280010": _value("US", height),
        "00280011": _value("US", width),
    }
