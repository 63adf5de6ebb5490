"""De-identification on ingest, after the DICOM basic application confidentiality profile (PS3.15 E).

Identifying attributes are removed or replaced by a per-study pseudonym; UIDs are remapped with a keyed
hash, so the same input always maps to the same pseudonymous UID within a study.
"""

from __future__ import annotations

import hashlib

from pydicom.datadict import dictionary_VR
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag, Tag

from atrium.imaging.raw_values import text_value, uid_text

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


def _tags(keywords: tuple[str, ...]) -> tuple[BaseTag, ...]:
    return tuple(Tag(keyword) for keyword in keywords)


# Tags looked up once: keyword access on a Dataset costs a dictionary lookup and a conversion each time.
# Membership is tested on plain ints: pydicom's tag type compares in Python, a set of ints in C.
_EMPTIED_TAGS = _tags(EMPTIED_ATTRIBUTES)
_REMOVED_TAGS = frozenset(int(tag) for tag in _tags(REMOVED_ATTRIBUTES))
_UID_TAGS = _tags(UID_ATTRIBUTES)
_REFERENCED_SERIES = Tag("ReferencedSeriesSequence")
_SOP_INSTANCE_UID = Tag("SOPInstanceUID")
_MEDIA_SOP_INSTANCE_UID = Tag("MediaStorageSOPInstanceUID")
_SQ = "SQ"


def _remove_private_tags(ds: Dataset) -> None:
    """Remove private tags here and in nested sequences (faster than Dataset.remove_private_tags)."""
    for tag, stored in list(ds.items()):  # the elements as stored: raw ones are not converted
        if tag >> 16 & 1:  # an odd group is private
            del ds[tag]
        elif stored.VR in (_SQ, None, "UN"):
            element = ds[tag]  # converted, so an implicit-VR or UN sequence is seen as one
            if element.VR == _SQ:
                for item in element.value:
                    _remove_private_tags(item)


def _encoded(tag: BaseTag, vr: str, text: str) -> RawDataElement:
    """An element as its file bytes (ASCII text, padded to even length as DICOM asks).

    Kept raw, pydicom converts it only if something reads it, and the DICOM JSON of the header decodes it
    straight from the bytes: building converted elements cost more than the rest of de-identification.
    A raw element is an immutable tuple, so the constant ones can be shared between datasets.
    """
    data = text.encode("ascii")
    if len(data) % 2:
        data += b"\x00" if vr == "UI" else b" "
    return RawDataElement(BaseTag(tag), vr, len(data), data, 0, False, True, True, False)


_PATIENT_NAME = Tag("PatientName")
_PATIENT_ID = Tag("PatientID")
_EMPTIED = tuple((tag, _encoded(tag, dictionary_VR(tag), "")) for tag in _EMPTIED_TAGS)
_IDENTITY_REMOVED = _encoded(Tag("PatientIdentityRemoved"), "CS", "YES")
_METHOD = _encoded(
    Tag("DeidentificationMethod"), "LO", "Atrium basic profile (PS3.15 E.1.1), UIDs remapped per study"
)


def deidentify(ds: Dataset, salt: str) -> Dataset:
    """De-identify `ds` in place and return it. Private tags are removed."""
    original_id = text_value(ds, _PATIENT_ID) or text_value(ds, _PATIENT_NAME) or "anonymous"
    alias = pseudonym(original_id, salt)
    ds[_PATIENT_NAME] = _encoded(_PATIENT_NAME, "PN", alias)
    ds[_PATIENT_ID] = _encoded(_PATIENT_ID, "LO", alias)
    present = {int(tag) for tag in ds.keys()}
    for tag, empty in _EMPTIED:
        if tag in present:  # BaseTag hashes as its int; `present` holds ints, so int equality decides
            ds[tag] = empty  # replaced unread: no need to decode it
    for number in _REMOVED_TAGS & present:
        del ds[Tag(number)]
    new_sop_uid = ""
    for tag in _UID_TAGS:
        if tag in present:
            value = uid_text(ds, tag)
            if value:
                remapped = pseudonymous_uid(value, salt)
                ds[tag] = _encoded(tag, "UI", remapped)
                if tag == _SOP_INSTANCE_UID:
                    new_sop_uid = remapped
    if int(_REFERENCED_SERIES) in present:
        del ds[_REFERENCED_SERIES]
    meta = getattr(ds, "file_meta", None)
    if meta is not None and new_sop_uid and _MEDIA_SOP_INSTANCE_UID in meta:
        meta.MediaStorageSOPInstanceUID = new_sop_uid
    _remove_private_tags(ds)
    ds[_IDENTITY_REMOVED.tag] = _IDENTITY_REMOVED
    ds[_METHOD.tag] = _METHOD
    return ds
