"""DICOM SEG exports of cardiac reads through highdicom: for each case and reader, one SEG series with one
instance per contoured phase (highdicom does not put two frames at one plane position, and a cine's phases
share their positions), one segment per structure, each frame referencing the source MR instance of its
slice and phase.

The source instances are rebuilt from the de-identified headers kept at ingest (`Instance.dicom_json`); the
pixel data is not needed. Series ingested from NIfTI have no DICOM instances and are reported as skipped.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from typing import Any

import highdicom as hd
import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes
from pydicom.uid import generate_uid

from atrium.agreement.reads import CaseRead, Reader

# (segment number = label value, label, SNOMED CT property type, description)
SEGMENTS: tuple[tuple[int, str, Any, str], ...] = (
    (1, "LV blood pool", codes.SCT.LeftVentricle, "left ventricular cavity inside the endocardial contour"),
    (
        2,
        "LV myocardium",
        codes.SCT.LeftVentricleMyocardium,
        "between the endocardial and epicardial contours",
    ),
    (3, "RV blood pool", codes.SCT.RightVentricle, "right ventricular cavity inside the endocardial contour"),
)
# Type 2 attributes highdicom copies from the source; empty when the de-identified header has none.
_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)
SERIES_NUMBER_BASE = 9000


class SegExportError(ValueError):
    """Nothing can be exported (no reads, an unknown reader): the caller answers 400 with this message."""


def segment_descriptions(reader: Reader, series_uid: str) -> list[hd.seg.SegmentDescription]:
    """The three structures, in label order, manual for observers and automatic (with the model version)
    for model reads; each segment keeps one tracking UID across the phases of the read's SEG series."""
    if reader.kind == "model":
        algorithm: dict[str, Any] = {
            "algorithm_type": hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
            "algorithm_identification": hd.AlgorithmIdentificationSequence(
                name="Atrium segmentation",
                family=codes.cid7162.ArtificialIntelligence,
                version=f"v{reader.model_number}",
            ),
        }
    else:
        algorithm = {"algorithm_type": hd.seg.SegmentAlgorithmTypeValues.MANUAL}
    out = []
    for number, label, code, description in SEGMENTS:
        item = hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=label,
            segmented_property_category=codes.SCT.AnatomicalStructure,
            segmented_property_type=code,
            tracking_id=f"{label} ({description})"[:64],
            tracking_uid=generate_uid(entropy_srcs=[series_uid, label]),
            **algorithm,
        )
        out.append(item)
    return out


def source_dataset(instance: Any) -> Dataset:
    """A pixel-less source image from a stored instance's de-identified header."""
    ds = Dataset.from_json(json.dumps(instance.dicom_json or {}))
    ds.SOPInstanceUID = instance.sop_instance_uid
    ds.SOPClassUID = instance.sop_class_uid
    for keyword in _TYPE2:
        if keyword not in ds:
            setattr(ds, keyword, "")
    name = str(ds.PatientName)
    if name and "^" not in name:
        ds.PatientName = f"{name}^"  # a pseudonym is a family name; say so (PS3.5 6.2.1.2)
    return ds


def phase_segmentation(
    labels: np.ndarray,
    sources: dict[int, Dataset],
    reader: Reader,
    *,
    series_uid: str,
    series_number: int,
    phase: int,
    content: str,
) -> hd.seg.Segmentation:
    """One phase of one read: labels (S, H, W) uint8; sources: slice index -> its source image at this
    phase, for the slices with any label."""
    slices = sorted(sources)
    frames = np.stack([labels[s] for s in slices])  # (frames, H, W)
    masks = np.stack([frames == number for number, *_ in SEGMENTS], axis=-1)
    return hd.seg.Segmentation(
        source_images=[sources[s] for s in slices],
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=segment_descriptions(reader, series_uid),
        series_instance_uid=series_uid,
        series_number=series_number,
        sop_instance_uid=generate_uid(entropy_srcs=[series_uid, str(phase), content]),
        instance_number=phase + 1,
        manufacturer="Atrium",
        manufacturer_model_name="Atrium annotation platform",
        software_versions="atrium 0.1",
        device_serial_number="atrium",
        content_label="ATRIUM_READ",
        content_description=f"{reader.label} phase {phase}"[:64],
        omit_empty_frames=True,
    )


def read_segmentations(
    case: Any,
    reader: Reader,
    read: CaseRead,
    labels: np.ndarray,
    instances: Sequence[Any],
    series_number: int = SERIES_NUMBER_BASE,
) -> tuple[list[tuple[int, bytes, list[str]]], str]:
    """[(phase, SEG file bytes, referenced SOP instance UIDs)] for a read's (S, P, H, W) label map, or an
    empty list and why nothing was written."""
    by_frame = {
        (int(i.slice_index), int(i.phase_index)): i
        for i in instances
        if i.slice_index is not None and i.phase_index is not None and int(i.n_frames) == 1
    }
    if not by_frame:
        return [], "the series has no single-frame DICOM source instances (NIfTI or multi-frame ingest)"
    drawn = np.asarray(labels.reshape(labels.shape[0], labels.shape[1], -1).any(axis=2))  # (S, P)
    if not drawn.any():
        return [], "the read has no contour that covers a pixel"
    # derived from the (globally unique) source series, the reader and the read's versions: the same read
    # exports under the same UIDs, a changed read under new ones
    series_uid = generate_uid(
        entropy_srcs=["atrium-seg", case.series.series_instance_uid, reader.key, read.signature]
    )
    out = []
    for phase in range(labels.shape[1]):
        slices = [s for s in range(labels.shape[0]) if drawn[s, phase]]
        if not slices:
            continue
        missing = [s for s in slices if (s, phase) not in by_frame]
        if missing:
            return [], f"no source instance for slice(s) {missing} at phase {phase}"
        sources = {s: source_dataset(by_frame[(s, phase)]) for s in slices}
        try:
            seg = phase_segmentation(
                labels[:, phase],
                sources,
                reader,
                series_uid=series_uid,
                series_number=series_number,
                phase=phase,
                content=read.signature,
            )
        except (ValueError, AttributeError, TypeError) as exc:
            return [], f"the source headers cannot carry a segmentation: {exc}"
        buf = io.BytesIO()
        seg.save_as(buf)
        out.append((phase, buf.getvalue(), [by_frame[(s, phase)].sop_instance_uid for s in slices]))
    return out, ""


def export_dicom_seg(study: Any, reader: str = "") -> bytes:
    """seg/case<id>/<reader>/phase<p>.dcm for every cardiac read (or only `reader`), plus seg/index.json
    with the segments, what each file references, and the reads skipped and why."""
    from atrium.agreement.exports import label_map_of, safe_name
    from atrium.agreement.selectors import series_geometry, study_reads

    reads = study_reads(study)
    known = {r.key: r for r in reads.readers}
    # each reader's SEG series keeps one series number across cases
    numbers = {key: SERIES_NUMBER_BASE + n + 1 for n, key in enumerate(known)}
    if reader and reader not in known:
        raise SegExportError(
            f"unknown reader {reader!r}; the study's readers are {', '.join(known) or 'none'}"
        )
    files: dict[str, bytes] = {}
    index: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for case in reads.cases:
        case_reads = {k: r for k, r in reads.reads.get(case.pk, {}).items() if not reader or k == reader}
        if not case_reads:
            continue
        shape, _, _ = series_geometry(case)
        instances = list(case.series.instances.all())
        for key, read in case_reads.items():
            labels = label_map_of(read, shape)
            written, why = read_segmentations(case, known[key], read, labels, instances, numbers[key])
            if not written:
                skipped.append({"case": case.pk, "reader": key, "reason": why})
                continue
            for phase, data, referenced in written:
                name = f"seg/case{case.pk:05d}/{safe_name(key)}/phase{phase:02d}.dcm"
                files[name] = data
                index.append(
                    {
                        "file": name,
                        "case": case.pk,
                        "reader": key,
                        "phase": phase,
                        "source_series": case.series.series_instance_uid,
                        "referenced_sop_instance_uids": referenced,
                    }
                )
    if not files:
        detail = "; ".join(f"case {s['case']} {s['reader']}: {s['reason']}" for s in skipped[:5])
        raise SegExportError(
            "nothing to export as DICOM SEG: "
            + (
                detail
                if detail
                else "the study has no cardiac contour reads" + (f" by {reader}" if reader else "")
            )
        )
    segments = [
        {
            "number": n,
            "label": label,
            "snomed": {"code": code.value, "meaning": code.meaning},
            "description": d,
        }
        for n, label, code, d in SEGMENTS
    ]
    doc = {"study": study.slug, "segments": segments, "files": index, "skipped": skipped}
    files["seg/index.json"] = json.dumps(doc, indent=1).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()
