"""Write synthetic cine MR and ultrasound clips as real DICOM files (deterministic from the seed).

The arrays come from ml.data's generators; the files carry realistic (fake) identifying attributes so the
same ingest path, de-identification included, handles them as it would real data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid

MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
US_MULTIFRAME_STORAGE = "1.2.840.10008.5.1.4.1.1.3.1"
# A short-axis-like oblique orientation: row and column cosines (orthonormal).
SAX_ROW = np.array([0.7071068, 0.7071068, 0.0])
SAX_COL = np.array([-0.4082483, 0.4082483, -0.8164966])


@dataclass(frozen=True)
class FakePatient:
    name: str
    patient_id: str
    birth_date: str
    sex: str


def fake_patient(seed: int, index: int) -> FakePatient:
    rng = np.random.default_rng([seed, index, 7])
    given = ["Ada", "Ben", "Cleo", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jun"][int(rng.integers(10))]
    family = ["Moss", "Reyes", "Okafor", "Lindqvist", "Tanaka", "Novak", "Haddad", "Silva"][
        int(rng.integers(8))
    ]
    year = int(rng.integers(1950, 2000))
    return FakePatient(
        name=f"{family}^{given}",
        patient_id=f"MRN{int(rng.integers(10**6, 10**7))}",
        birth_date=f"{year}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}",
        sex="FM"[int(rng.integers(2))],
    )


def _uid(*parts: object) -> str:
    # One joined string: generate_uid concatenates its sources, so ("1", "11") would equal ("11", "1").
    return str(generate_uid(entropy_srcs=["atrium-demo:" + ":".join(map(str, parts))]))


def _base(sop_class: str, sop_uid: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class)
    meta.MediaStorageSOPInstanceUID = UID(sop_uid)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = UID("1.2.826.0.1.3680043.10.1470.1")
    ds = FileDataset("", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_uid
    return ds


def _identify(ds: FileDataset, patient: FakePatient, manufacturer: str, institution: str) -> None:
    ds.PatientName = patient.name
    ds.PatientID = patient.patient_id
    ds.PatientBirthDate = patient.birth_date
    ds.PatientSex = patient.sex
    ds.StudyDate = "20260312"
    ds.StudyTime = "101500"
    ds.AccessionNumber = "ACC" + patient.patient_id[-5:]
    ds.ReferringPhysicianName = "Doe^Jane"
    ds.InstitutionName = institution
    ds.Manufacturer = manufacturer
    ds.StationName = "SCANNER01"
    ds.DeviceSerialNumber = "SN-" + patient.patient_id[-4:]


def write_cardiac_cine(
    out_dir: Path,
    image: np.ndarray,
    *,
    seed: int,
    index: int,
    manufacturer: str,
    pixel_spacing_mm: tuple[float, float],
    slice_thickness_mm: float,
    slice_spacing_mm: float,
    trigger_times_ms: np.ndarray,
    institution: str = "Demo Hospital",
) -> str:
    """Write a (S, P, H, W) cine in [0, 1] as S*P single-frame MR files. Returns the SeriesInstanceUID.

    Slice s sits at origin + s * spacing * normal, so sorting by position along the normal gives back s.
    """
    n_slices, n_phases, height, width = image.shape
    out_dir.mkdir(parents=True, exist_ok=True)
    patient = fake_patient(seed, index)
    study_uid, series_uid, frame_uid = (
        _uid(seed, index, "study"),
        _uid(seed, index, "series"),
        _uid(seed, index, "for"),
    )
    normal = np.cross(SAX_ROW, SAX_COL)
    origin = np.array([-100.0, -80.0, 40.0]) + index
    pixels = np.clip(np.rint(image * 1000.0), 0, 4095).astype(np.uint16)
    for s in range(n_slices):
        position = origin + s * slice_spacing_mm * normal
        for p in range(n_phases):
            number = s * n_phases + p + 1
            ds = _base(MR_IMAGE_STORAGE, _uid(seed, index, "sop", s, p))
            _identify(ds, patient, manufacturer, institution)
            ds.Modality = "MR"
            ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
                study_uid,
                series_uid,
                frame_uid,
            )
            ds.SeriesDescription = "CINE SAX"
            ds.SeriesNumber = 1
            ds.InstanceNumber = number
            ds.ImagePositionPatient = [round(float(v), 4) for v in position]
            ds.ImageOrientationPatient = [round(float(v), 7) for v in (*SAX_ROW, *SAX_COL)]
            ds.SliceLocation = round(float(np.dot(position, normal)), 4)
            ds.PixelSpacing = [round(pixel_spacing_mm[0], 5), round(pixel_spacing_mm[1], 5)]
            ds.SliceThickness = round(slice_thickness_mm, 4)
            ds.SpacingBetweenSlices = round(slice_spacing_mm, 4)
            ds.TriggerTime = round(float(trigger_times_ms[p]), 3)
            ds.CardiacNumberOfImages = n_phases
            ds.ScanningSequence = "GR"
            ds.SequenceVariant = "SS"
            ds.MagneticFieldStrength = 1.5
            ds.Rows, ds.Columns = height, width
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
            ds.WindowCenter, ds.WindowWidth = 500, 1000
            ds.PixelData = pixels[s, p].tobytes()
            ds.save_as(out_dir / f"IM_{number:05d}.dcm", enforce_file_format=True)
    return series_uid


def write_ultrasound_clip(
    path: Path,
    frames: np.ndarray,
    *,
    seed: int,
    index: int,
    manufacturer: str,
    frame_time_ms: float,
    pixel_spacing_mm: tuple[float, float],
    institution: str = "Demo Hospital",
) -> str:
    """Write (F, H, W) grey or (F, H, W, 3) RGB uint8 frames as one multi-frame US file. Returns the series UID."""
    path.parent.mkdir(parents=True, exist_ok=True)
    patient = fake_patient(seed, 1000 + index)
    series_uid = _uid(seed, index, "us-series")
    ds = _base(US_MULTIFRAME_STORAGE, _uid(seed, index, "us-sop"))
    _identify(ds, patient, manufacturer, institution)
    ds.Modality = "US"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(seed, index, "us-study"), series_uid
    ds.SeriesDescription = "FETAL SWEEP"
    ds.SeriesNumber = 1
    ds.InstanceNumber = 1
    ds.NumberOfFrames = frames.shape[0]
    ds.FrameTime = round(frame_time_ms, 3)
    ds.FrameIncrementPointer = (0x0018, 0x1063)
    ds.CineRate = round(1000.0 / frame_time_ms)
    ds.Rows, ds.Columns = frames.shape[1], frames.shape[2]
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    if frames.ndim == 4:
        ds.SamplesPerPixel = 3
        ds.PhotometricInterpretation = "RGB"
        ds.PlanarConfiguration = 0
    else:
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
    region = Dataset()
    region.RegionSpatialFormat = 1
    region.RegionDataType = 1
    region.RegionLocationMinX0, region.RegionLocationMinY0 = 0, 0
    region.RegionLocationMaxX1, region.RegionLocationMaxY1 = frames.shape[2] - 1, frames.shape[1] - 1
    region.PhysicalUnitsXDirection, region.PhysicalUnitsYDirection = 3, 3  # cm
    region.PhysicalDeltaX = pixel_spacing_mm[1] / 10.0
    region.PhysicalDeltaY = pixel_spacing_mm[0] / 10.0
    ds.SequenceOfUltrasoundRegions = Sequence([region])
    ds.PixelData = np.ascontiguousarray(frames.astype(np.uint8)).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return series_uid
