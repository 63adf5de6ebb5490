"""De-identification on ingest, after the DICOM basic application confidentiality profile (PS3.15 E).

Identifying attributes are removed or replaced by a per-study pseudonym; UIDs are remapped with a keyed
hash, so the same input always maps to the same pseudonymous UID within a study.
"""

from __future__ import annotations

import hashlib

from pydicom.dataset import Dataset

# Replaced by a pseudonym (Z/D actions of the profile).
PSEUDONYM_ATTRIBUTES = ("PatientName", "PatientID")
# Emptied (Z: zero-length) because the type-2 attribute must remain present.
EMPTIED_ATTRIBUTES = (
    "PatientBirthDate",
    "ReferringPhysicianName",
    "AccessionNumber",
    "StudyID",
    "StudyDate",
    "StudyTime",
)
# Removed (X action).
REMOVED_ATTRIBUTES = (
    "PatientAddress",
    "PatientBirthTime",
    "PatientBirthName",
    "PatientMotherBirthName",
    "PatientTelephoneNumbers",
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientAge",
    "PatientSize",
    "PatientWeight",
    "MilitaryRank",
    "EthnicGroup",
    "Occupation",
    "AdditionalPatientHistory",
    "PatientComments",
    "MedicalRecordLocator",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "ReferringPhysicianAddress",
    "ReferringPhysicianTelephoneNumbers",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "OperatorsName",
    "RequestingPhysician",
    "StationName",
    "DeviceSerialNumber",
    "SeriesDate",
    "SeriesTime",
    "AcquisitionDate",
    "AcquisitionTime",
    "AcquisitionDateTime",
    "ContentDate",
    "ContentTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "StudyDescription",
    "RequestAttributesSequence",
    "ReferencedPatientSequence",
    "ReferencedStudySequence",
    "PerformedProcedureStepID",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "PerformedProcedureStepDescription",
    "ScheduledProcedureStepID",
    "RequestedProcedureID",
    "ImageComments",
    "IssuerOfPatientID",
    "CountryOfResidence",
    "RegionOfResidence",
    "CurrentPatientLocation",
)
# Remapped consistently (U action).
UID_ATTRIBUTES = (
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
    "SynchronizationFrameOfReferenceUID",
    "IrradiationEventUID",
)


def pseudonymous_uid(uid: str, salt: str) -> str:
    """A 2.25-form UID derived from a keyed hash of the original (at most 64 characters)."""
    digest = hashlib.sha256(f"{salt}\x00{uid}".encode()).digest()[:16]
    return f"2.25.{int.from_bytes(digest, 'big')}"


def pseudonym(patient_id: str, salt: str) -> str:
    return "ATR-" + hashlib.sha256(f"{salt}\x00patient\x00{patient_id}".encode()).hexdigest()[:12].upper()


def _remove_private_tags(ds: Dataset) -> None:
    """Remove private tags here and in nested sequences (faster than Dataset.remove_private_tags)."""
    for tag in list(ds.keys()):
        if tag.is_private:
            del ds[tag]
        elif ds.get_item(tag).VR == "SQ":
            for item in ds[tag].value:
                _remove_private_tags(item)


def deidentify(ds: Dataset, salt: str) -> Dataset:
    """De-identify `ds` in place and return it. Private tags are removed."""
    original_id = str(ds.get("PatientID", "")) or str(ds.get("PatientName", "")) or "anonymous"
    alias = pseudonym(original_id, salt)
    for keyword in PSEUDONYM_ATTRIBUTES:
        setattr(ds, keyword, alias)
    for keyword in EMPTIED_ATTRIBUTES:
        if keyword in ds:
            setattr(ds, keyword, "")
    for keyword in REMOVED_ATTRIBUTES:
        if keyword in ds:
            delattr(ds, keyword)
    for keyword in UID_ATTRIBUTES:
        if keyword in ds and ds.get(keyword):
            setattr(ds, keyword, pseudonymous_uid(str(ds.get(keyword)), salt))
    if "ReferencedSeriesSequence" in ds:
        del ds.ReferencedSeriesSequence
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPInstanceUID" in meta and "SOPInstanceUID" in ds:
        meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    _remove_private_tags(ds)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = "Atrium basic profile (PS3.15 E.1.1), UIDs remapped per study"
    return ds
