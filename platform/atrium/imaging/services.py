"""Ingest: decode DICOM once, de-identify, assemble series, write the pixel store, register cases.

Each series is stored atomically: its array is written first, then all its rows in one transaction; if
the transaction fails the array is removed, so nothing is half-stored.
"""

from __future__ import annotations

import gc
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pydicom.config
from django.db import IntegrityError, transaction

from atrium.imaging.assembly import AssembledSeries, assemble
from atrium.imaging.decode import DecodedInstance, read_instance
from atrium.imaging.deid import deidentify, pseudonym, pseudonymous_uid
from atrium.imaging.dicom_json import header_json, header_value
from atrium.imaging.errors import IngestError
from atrium.imaging.models import ImagingStudy, Instance, Layout, Patient, Series, Source
from atrium.imaging.nifti import AcdcFrames, NiftiCine, load_acdc_cine, load_nifti_cine
from atrium.imaging.pixel_store import PixelStore, get_pixel_store
from atrium.imaging.sources import SourceFile
from atrium.studies.models import Case, Study

logger = logging.getLogger(__name__)
Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    files_seen: int = 0
    series_created: list[int] = field(default_factory=list)
    cases_created: list[int] = field(default_factory=list)
    duplicates: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "files_seen": self.files_seen,
            "series_created": self.series_created,
            "cases_created": self.cases_created,
            "duplicates": self.duplicates,
            "errors": self.errors,
        }


def default_window(array: np.ndarray) -> tuple[float, float]:
    """Window centre and width covering the 1st..99th percentile of a subsample of the array."""
    flat = np.asarray(array).reshape(-1)
    sample = flat[:: max(1, flat.size // 200_000)].astype(np.float64)
    low, high = np.percentile(sample, [1, 99])
    width = max(float(high - low), 1.0)
    return float(low + width / 2), width


def _parse_date(value: Any) -> date | None:
    text = str(value or "")
    if len(text) == 8 and text.isdigit():
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            return None
    return None


def decode_sources(
    sources: Iterable[SourceFile],
    *,
    salt: str,
    report: IngestReport,
    progress: Progress | None = None,
    total: int = 0,
    keep_originals: bool = False,
) -> dict[str, list[DecodedInstance]]:
    """Decode and de-identify every file, grouped by pseudonymous series UID. Bad files go to report.errors."""
    groups: dict[str, list[DecodedInstance]] = defaultdict(list)
    for source in sources:
        report.files_seen += 1
        try:
            decoded = read_instance(source.open(), name=source.name)
        except IngestError as exc:
            report.errors.append(str(exc))
        else:
            deidentify(decoded.header, salt)
            if keep_originals:
                decoded.original = source
            groups[decoded.series_uid].append(decoded)
        if progress is not None:
            progress(report.files_seen, total, source.name)
    return groups


def _drop_duplicates(instances: list[DecodedInstance], report: IngestReport) -> list[DecodedInstance]:
    seen: set[str] = set()
    unique = []
    for inst in instances:
        if inst.sop_uid in seen:
            report.duplicates += 1
            continue
        seen.add(inst.sop_uid)
        unique.append(inst)
    existing = set(
        Instance.objects.filter(sop_instance_uid__in=seen).values_list("sop_instance_uid", flat=True)
    )
    report.duplicates += len(existing)
    return [inst for inst in unique if inst.sop_uid not in existing]


def store_series(
    *,
    study: Study,
    series_uid: str,
    instances: list[DecodedInstance],
    site: str = "",
    store: PixelStore | None = None,
    source: str = Source.DICOM,
) -> tuple[Series, Case]:
    """Assemble one series, write its arrays, then register it and its case in one transaction."""
    store = store or get_pixel_store()
    assembled: AssembledSeries = assemble(instances)
    first = instances[0].header
    key = store.new_key("series")
    color_key = store.new_key("color") if assembled.color is not None else ""
    # The arrays are written on a thread of their own while the headers become DICOM JSON and the rows
    # are inserted (a file write releases the GIL); the transaction commits only once they are written,
    # and on any failure the written files are removed.
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixel-store-write")
    written = writer.submit(_write_arrays, store, key, assembled.array, color_key, assembled.color)
    original_keys: dict[str, str] = {}
    try:
        memo: dict[tuple[Any, ...], dict[str, Any]] = {}
        headers = {inst.sop_uid: header_json(inst.header, memo=memo) for inst in instances}
        syntaxes = {
            inst.sop_uid: str(getattr(getattr(inst.header, "file_meta", None), "TransferSyntaxUID", ""))
            for inst in instances
        }
        original_keys = {
            inst.sop_uid: _keep_original(store, inst) for inst in instances if inst.original is not None
        }
        with transaction.atomic():
            patient, _ = Patient.objects.get_or_create(
                study=study,
                pseudonym=str(first.PatientID),
                defaults={"sex": str(first.get("PatientSex", ""))[:1]},
            )
            imaging_study, _ = ImagingStudy.objects.get_or_create(
                study_instance_uid=str(
                    first.get("StudyInstanceUID") or pseudonymous_uid(series_uid, "study")
                ),
                defaults={
                    "patient": patient,
                    "description": str(first.get("SeriesDescription", ""))[:200],
                    "study_date": _parse_date(first.get("StudyDate")),
                    "site": site,
                },
            )
            center, width = _window_from_header(first) or default_window(assembled.array)
            series = Series.objects.create(
                imaging_study=imaging_study,
                series_instance_uid=series_uid,
                modality=str(first.get("Modality", "OT")),
                description=str(first.get("SeriesDescription", ""))[:200],
                layout=assembled.layout,
                shape=list(assembled.array.shape),
                dtype=str(assembled.array.dtype),
                pixel_spacing_mm=assembled.pixel_spacing_mm,
                slice_thickness_mm=assembled.slice_thickness_mm,
                slice_spacing_mm=assembled.slice_spacing_mm,
                frame_time_ms=assembled.frame_time_ms,
                window_center=center,
                window_width=width,
                manufacturer=str(first.get("Manufacturer", ""))[:100],
                source=source,
                store_key=key,
                color_store_key=color_key,
                label_store_key="",
            )
            Instance.objects.bulk_create(
                [
                    Instance(
                        series=series,
                        sop_instance_uid=placement.sop_uid,
                        sop_class_uid=str(header_value(headers[placement.sop_uid], "00080016", "")),
                        instance_number=_int_or_none(header_value(headers[placement.sop_uid], "00200013")),
                        first_frame=placement.first_frame,
                        n_frames=placement.n_frames,
                        slice_index=placement.slice_index,
                        phase_index=placement.phase_index,
                        trigger_time_ms=placement.trigger_time_ms,
                        slice_location_mm=placement.slice_location_mm,
                        transfer_syntax_uid=syntaxes[placement.sop_uid],
                        original_key=original_keys.get(placement.sop_uid, ""),
                        dicom_json=headers[placement.sop_uid],
                    )
                    for placement in assembled.placements
                ]
            )
            case = Case.objects.create(
                study=study,
                series=series,
                title=f"{patient.pseudonym} {series.modality} {series.description}".strip()[:200],
                vendor=series.manufacturer,
                site=site,
            )
            written.result()  # inside the transaction: a failed write rolls the rows back
    except BaseException:
        wait([written])  # the writer must be done before its files are removed
        for stored in (key, color_key, *original_keys.values()):
            store.delete(stored)
        raise
    finally:
        writer.shutdown(wait=True)
    return series, case


def _write_arrays(
    store: PixelStore, key: str, array: np.ndarray, color_key: str, color: np.ndarray | None
) -> None:
    store.write(key, array)
    if color_key:
        store.write(color_key, color)  # type: ignore[arg-type]


def _keep_original(store: PixelStore, inst: DecodedInstance) -> str:
    """Copy the original file into the store. Only called for studies that opt in to keeping originals."""
    key = store.new_key("originals").removesuffix(".npy") + ".dcm"
    source: SourceFile = inst.original
    if source.path is not None:
        store.write_bytes(key, source.path.read_bytes())
    else:
        store.write_bytes(key, source.data or b"")
    return key


def _window_from_header(ds: Any) -> tuple[float, float] | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    try:
        center = float(center[0] if hasattr(center, "__len__") and not isinstance(center, str) else center)
        width = float(width[0] if hasattr(width, "__len__") and not isinstance(width, str) else width)
    except (TypeError, ValueError, IndexError):
        return None
    return (center, width) if width > 0 else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def ingest_sources(
    *,
    study: Study,
    sources: Iterable[SourceFile],
    site: str = "",
    progress: Progress | None = None,
    total: int = 0,
    all_or_nothing: bool = False,
    actor: Any = None,
) -> IngestReport:
    """Ingest files into `study`. Bad files are reported; every good series is stored whole or not at all.

    With all_or_nothing (the upload API), a single bad file means nothing is stored.
    """
    with ingest_mode():
        return _ingest_sources(
            study=study,
            sources=sources,
            site=site,
            progress=progress,
            total=total,
            all_or_nothing=all_or_nothing,
            actor=actor,
        )


@contextmanager
def ingest_mode() -> Iterator[None]:
    """While ingesting, skip pydicom's value validation (it only warns, and costs a fifth of ingest)."""
    settings = pydicom.config.settings
    reading, writing = settings.reading_validation_mode, settings.writing_validation_mode
    settings.reading_validation_mode = settings.writing_validation_mode = pydicom.config.IGNORE
    # The cyclic collector is paused too: with every decoded header alive until its series is stored, its
    # full passes rescan them all, again and again (a fifth of ingest). Decoded headers hold no cycles
    # (reference counting frees them), so no forced collection follows: a full pass over the whole
    # process's heap at the end would cost a fifth of a small ingest and free nothing of it.
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        settings.reading_validation_mode, settings.writing_validation_mode = reading, writing
        if collecting:
            gc.enable()


def _ingest_sources(
    *,
    study: Study,
    sources: Iterable[SourceFile],
    site: str,
    progress: Progress | None,
    total: int,
    all_or_nothing: bool,
    actor: Any,
) -> IngestReport:
    report = IngestReport()
    groups = decode_sources(
        sources,
        salt=study.deid_salt,
        report=report,
        progress=progress,
        total=total,
        keep_originals=study.keep_original_dicom,
    )
    if all_or_nothing and report.errors:
        return report
    for series_uid, instances in groups.items():
        fresh = _drop_duplicates(instances, report)
        if not fresh:
            continue
        if Series.objects.filter(series_instance_uid=series_uid).exists():
            report.errors.append(
                f"{fresh[0].source}: belongs to series {series_uid}, which is already stored; "
                f"{len(fresh)} new instance(s) were not added (re-ingest the whole series into a new study)"
            )
            continue
        try:
            series, case = store_series(study=study, series_uid=series_uid, instances=fresh, site=site)
        except IngestError as exc:
            report.errors.append(str(exc))
            continue
        except IntegrityError as exc:
            report.errors.append(f"{fresh[0].source}: series {series_uid} conflicts with stored data ({exc})")
            continue
        report.series_created.append(series.pk)
        report.cases_created.append(case.pk)
        from atrium.accounts.services import record_audit

        record_audit(
            actor=actor,
            action="series.ingest",
            obj=series,
            study=study,
            after={
                "series_uid": series.series_instance_uid,
                "shape": list(series.shape),
                "instances": len(fresh),
                "case": case.pk,
            },
        )
    return report


def ingest_nifti(
    *,
    study: Study,
    image_path: Path,
    seg_path: Path | None = None,
    mapping: dict[int, int] | None = None,
    site: str = "",
    store: PixelStore | None = None,
) -> tuple[Series, Case, bool]:
    """Store a NIfTI short-axis cine (and its label map) as a series with source="nifti".

    Returns (series, case, created); re-ingesting the same file into the same study creates nothing.
    The subject is the folder name (UK Biobank layout: one folder per subject), pseudonymised per study.
    """
    cine = load_nifti_cine(image_path, seg_path, mapping)
    subject = image_path.parent.name if image_path.name == "sa.nii.gz" else image_path.name.split(".")[0]
    return _store_nifti(
        study=study,
        cine=cine,
        subject=subject,
        identity=f"nifti:{subject}:{image_path.name}",
        description=f"NIfTI {image_path.name}",
        site=site,
        store=store,
    )


def ingest_acdc(
    *,
    study: Study,
    frames: AcdcFrames,
    mapping: dict[int, int] | None = None,
    ed: int | None = None,
    es: int | None = None,
    site: str = "",
    store: PixelStore | None = None,
) -> tuple[Series, Case, bool]:
    """Store an ACDC subject's per-frame 3D volumes as one short-axis series whose phases are those frames.

    The description records which frame number each phase is; the case's ED/ES phases come from Info.cfg
    or from `ed`/`es` (frame numbers).
    """
    loaded = load_acdc_cine(frames, mapping, ed=ed, es=es)
    numbers = loaded.frame_numbers
    marks = [
        f"{name} frame {numbers[phase]}"
        for name, phase in (("ED", loaded.ed_phase), ("ES", loaded.es_phase))
        if phase is not None
    ]
    description = (
        f"NIfTI ACDC frames {', '.join(map(str, numbers))} as phases {', '.join(map(str, range(len(numbers))))}"
        + (f" ({', '.join(marks)})" if marks else "")
    )
    return _store_nifti(
        study=study,
        cine=loaded.cine,
        subject=frames.subject,
        identity=f"nifti-acdc:{frames.subject}:frames {numbers}",
        description=description,
        site=site,
        store=store,
        ed_phase=loaded.ed_phase,
        es_phase=loaded.es_phase,
    )


def _store_nifti(
    *,
    study: Study,
    cine: NiftiCine,
    subject: str,
    identity: str,
    description: str,
    site: str,
    store: PixelStore | None,
    ed_phase: int | None = None,
    es_phase: int | None = None,
) -> tuple[Series, Case, bool]:
    """Write the arrays, then the rows in one transaction (arrays removed again if it fails)."""
    store = store or get_pixel_store()
    series_uid = pseudonymous_uid(identity, study.deid_salt)
    existing = Series.objects.filter(series_instance_uid=series_uid, cases__study=study).first()
    if existing is not None:
        return existing, existing.cases.get(study=study), False
    key = store.new_key("series")
    store.write(key, cine.image)
    label_key = ""
    if cine.labels is not None:
        label_key = store.new_key("labels")
        store.write(label_key, cine.labels)
    try:
        with transaction.atomic():
            patient, _ = Patient.objects.get_or_create(
                study=study, pseudonym=pseudonym(subject, study.deid_salt)
            )
            imaging_study, _ = ImagingStudy.objects.get_or_create(
                study_instance_uid=pseudonymous_uid(f"nifti-study:{subject}", study.deid_salt),
                defaults={"patient": patient, "description": "NIfTI short-axis cine", "site": site},
            )
            center, width = default_window(cine.image)
            series = Series.objects.create(
                imaging_study=imaging_study,
                series_instance_uid=series_uid,
                modality="MR",
                description=description[:200],
                layout=Layout.CINE,
                shape=list(cine.image.shape),
                dtype=str(cine.image.dtype),
                pixel_spacing_mm=cine.pixel_spacing_mm,
                slice_thickness_mm=cine.slice_thickness_mm,
                slice_spacing_mm=cine.slice_spacing_mm,
                frame_time_ms=cine.frame_time_ms,
                window_center=center,
                window_width=width,
                source=Source.NIFTI,
                store_key=key,
                label_store_key=label_key,
            )
            case = Case.objects.create(
                study=study,
                series=series,
                title=f"{patient.pseudonym} MR NIfTI cine"[:200],
                site=site,
                ed_phase=ed_phase,
                es_phase=es_phase,
            )
    except BaseException:
        store.delete(key)
        store.delete(label_key)
        raise
    return series, case, True


def attach_reference_labels(*, series: Series, labels: np.ndarray, store: PixelStore | None = None) -> None:
    """Keep a reference label map (synthetic ground truth, or a NIfTI segmentation) beside a series."""
    store = store or get_pixel_store()
    expected = (
        tuple(series.shape[:1]) if series.layout == Layout.CLIP and labels.ndim == 1 else tuple(series.shape)
    )
    if tuple(labels.shape) != expected:
        raise IngestError(
            series.series_instance_uid, f"label map shape {labels.shape} != expected {expected}"
        )
    key = store.new_key("labels")
    store.write(key, labels.astype(np.uint8))
    old = series.label_store_key
    series.label_store_key = key
    series.save(update_fields=["label_store_key"])
    if old:
        store.delete(old)


__all__ = [
    "IngestReport",
    "Layout",
    "attach_reference_labels",
    "ingest_acdc",
    "ingest_nifti",
    "ingest_sources",
    "store_series",
]
