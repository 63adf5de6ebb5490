"""Exports of a study's reads as zip archives: contours (JSON), label maps (NIfTI, one per reader and case,
label order declared), DICOM SEG (`dicom_seg`), plane labels (CSV and JSON), and an nnU-Net-style dataset
folder."""

from __future__ import annotations

import csv
import gzip
import io
import json
import zipfile
from typing import Any

import nibabel as nib
import numpy as np

from atrium.agreement.reads import LABEL_ORDER, CaseRead, full_label_map, masks_from_contours
from atrium.agreement.selectors import series_geometry, study_reads
from atrium.studies.models import Study

KINDS = ("contours", "nifti", "dicomseg", "planes", "nnunet")
LABELS_DECLARED = {str(k): v for k, v in LABEL_ORDER.items()}
NNUNET_LABELS = {"background": 0, "LV": 1, "Myo": 2, "RV": 3}


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def safe_name(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text)


def _nifti_bytes(volume: np.ndarray, zooms: tuple[float, ...], description: str = "") -> bytes:
    """volume in NIfTI axis order (x = column, y = row, z = slice[, t = phase]) -> .nii.gz bytes."""
    affine = np.diag([*zooms[:3], 1.0])
    img = nib.Nifti1Image(volume, affine)
    img.header.set_zooms(zooms)
    if description:
        img.header["descrip"] = description.encode()[:79]
    img.header.set_intent("label" if volume.dtype == np.uint8 else "none")
    raw = img.to_bytes()
    return gzip.compress(raw, compresslevel=4, mtime=0)


def _to_nifti_axes(labels: np.ndarray) -> np.ndarray:
    """(S, P, H, W) -> (W, H, S, P); (S, H, W) -> (W, H, S)."""
    return np.ascontiguousarray(
        labels.transpose(3, 2, 0, 1) if labels.ndim == 4 else labels.transpose(2, 1, 0)
    )


def label_map_of(read: CaseRead, shape: tuple[int, ...]) -> np.ndarray:
    if read.label_map_key:
        from atrium.imaging.pixel_store import get_pixel_store

        return np.asarray(get_pixel_store().open(read.label_map_key), dtype=np.uint8)
    return full_label_map(read, shape)


def export_contours(study: Study) -> bytes:
    """contours.json: per case, per reader, the contour annotations (pixel coordinates x = column, y = row)."""
    reads = study_reads(study)
    cases = []
    for case in reads.cases:
        shape, spacing, slice_mm = series_geometry(case)
        readers = [
            {
                "reader": key,
                "phases": {"ed_phase": r.phases[0], "es_phase": r.phases[1]},
                "label_map": bool(r.label_map_key),
                "contours": r.contours,
            }
            for key, r in reads.reads.get(case.pk, {}).items()
        ]
        cases.append(
            {
                "case": case.pk,
                "title": case.title,
                "series": case.series.series_instance_uid,
                "shape": list(shape),
                "pixel_spacing_mm": list(spacing),
                "slice_mm": slice_mm,
                "readers": readers,
            }
        )
    doc = {"study": study.slug, "readers": [r.as_dict() for r in reads.readers], "cases": cases}
    return _zip({"contours.json": json.dumps(doc, indent=1).encode()})


def export_nifti(study: Study) -> bytes:
    """labels/<case>/<reader>.nii.gz: (x, y, slice, phase) uint8 label maps, plus labels.json."""
    reads = study_reads(study)
    files: dict[str, bytes] = {}
    index = []
    for case in reads.cases:
        shape, spacing, slice_mm = series_geometry(case)
        for key, read in reads.reads.get(case.pk, {}).items():
            labels = label_map_of(read, shape)
            name = f"labels/case{case.pk:05d}/{safe_name(key)}.nii.gz"
            files[name] = _nifti_bytes(
                _to_nifti_axes(labels), (spacing[1], spacing[0], slice_mm, 1.0), "labels 0=bg 1=LV 2=Myo 3=RV"
            )
            index.append(
                {
                    "file": name,
                    "case": case.pk,
                    "reader": key,
                    "axes": ["x (column)", "y (row)", "slice", "phase"],
                }
            )
    files["labels.json"] = json.dumps({"labels": LABELS_DECLARED, "files": index}, indent=1).encode()
    return _zip(files)


def export_planes(study: Study) -> bytes:
    """planes.csv and planes.json: one row per plane-label range (observers) or labelled frame (models)."""
    reads = study_reads(study)
    rows: list[dict[str, Any]] = []
    for case in reads.cases:
        for key, items in reads.planes.get(case.pk, {}).items():
            if key.startswith("model:"):
                for f in items[0]["frames"]:
                    rows.append(
                        {
                            "case": case.pk,
                            "series": case.series.series_instance_uid,
                            "reader": key,
                            "plane": f.get("plane"),
                            "frame_start": int(f["frame"]),
                            "frame_stop": int(f["frame"]),
                            "confidence": f.get("confidence"),
                        }
                    )
            else:
                for item in items:
                    rows.append(
                        {
                            "case": case.pk,
                            "series": case.series.series_instance_uid,
                            "reader": key,
                            "plane": item["plane"],
                            "frame_start": int(item["frame_start"]),
                            "frame_stop": int(item["frame_stop"]),
                            "confidence": None,
                        }
                    )
    buf = io.StringIO()
    fields = ["case", "series", "reader", "plane", "frame_start", "frame_stop", "confidence"]
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row[k] is None else row[k] for k in fields})
    doc = {"study": study.slug, "frame_stop_inclusive": True, "labels": rows}
    return _zip({"planes.csv": buf.getvalue().encode(), "planes.json": json.dumps(doc, indent=1).encode()})


def export_nnunet(study: Study, reader: str = "") -> bytes:
    """Dataset folder: imagesTr/<id>_0000.nii.gz, labelsTr/<id>.nii.gz (one per case and ED/ES phase,
    axes x, y, slice) and dataset.json. Labels come from `reader`, else each case's first observer read."""
    from atrium.imaging.pixel_store import get_pixel_store

    reads = study_reads(study)
    order = [r.key for r in reads.readers]
    store = get_pixel_store()
    root = f"Dataset001_{safe_name(study.slug)}"
    files: dict[str, bytes] = {}
    n = 0
    for case in reads.cases:
        case_reads = reads.reads.get(case.pk, {})
        keys = [reader] if reader else [k for k in order if k.startswith("obs:") and k.endswith("#1")]
        key = next((k for k in keys if k in case_reads and not case_reads[k].label_map_key), None)
        if key is None:
            continue
        shape, spacing, slice_mm = series_geometry(case)
        masks = masks_from_contours(case_reads[key], shape, (case.ed_phase, case.es_phase))
        image = np.asarray(store.open(case.series.store_key))
        zooms = (spacing[1], spacing[0], slice_mm)
        for phase_name, phase, labels in (("ED", masks.ed_phase, masks.ed), ("ES", masks.es_phase, masks.es)):
            if phase is None:
                continue
            ident = f"case{case.pk:05d}{phase_name}"
            files[f"{root}/imagesTr/{ident}_0000.nii.gz"] = _nifti_bytes(
                _to_nifti_axes(image[:, phase].astype(np.float32)), zooms
            )
            files[f"{root}/labelsTr/{ident}.nii.gz"] = _nifti_bytes(
                _to_nifti_axes(labels.astype(np.uint8)), zooms
            )
            n += 1
    dataset = {
        "channel_names": {"0": "cineMRI"},
        "labels": NNUNET_LABELS,
        "numTraining": n,
        "file_ending": ".nii.gz",
        "name": study.slug,
        "description": f"Atrium study {study.slug}; labels from {reader or 'each case first observer read'}",
    }
    files[f"{root}/dataset.json"] = json.dumps(dataset, indent=1).encode()
    return _zip(files)


def export(study: Study, kind: str, reader: str = "") -> bytes:
    if kind == "contours":
        return export_contours(study)
    if kind == "nifti":
        return export_nifti(study)
    if kind == "dicomseg":
        from atrium.agreement.dicom_seg import export_dicom_seg

        return export_dicom_seg(study, reader)
    if kind == "planes":
        return export_planes(study)
    if kind == "nnunet":
        return export_nnunet(study, reader)
    raise ValueError(f"unknown export {kind!r}; expected one of {', '.join(KINDS)}")
