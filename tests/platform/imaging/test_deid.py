"""De-identification on ingest, attribute by attribute (PS3.15 E basic profile)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from atrium.imaging.deid import deidentify, pseudonym, pseudonymous_uid
from atrium.imaging.dicom_json import header_value
from atrium.imaging.models import Instance, Patient, Series
from tests.factories import StudyFactory
from tests.platform.imaging.helpers import ingest_paths, public_file, synthetic_cine


@pytest.fixture
def identified(tmp_path: Path) -> Path:
    """MR_small with identifying attributes and a private tag added."""
    ds = pydicom.dcmread(public_file("MR_small.dcm"))
    ds.PatientName = "Moss^Ada"
    ds.PatientID = "MRN1234567"
    ds.PatientBirthDate = "19610203"
    ds.InstitutionName = "St Elsewhere"
    ds.InstitutionAddress = "1 Hospital Road"
    ds.ReferringPhysicianName = "Doe^Jane"
    ds.OperatorsName = "Smith^Op"
    ds.AccessionNumber = "ACC42"
    ds.StationName = "MR01"
    ds.FrameOfReferenceUID = "1.2.3.4.5.6"
    block = ds.private_block(0x0029, "ACME 1.0", create=True)
    block.add_new(0x01, "LO", "secret private value")
    path = tmp_path / "identified.dcm"
    ds.save_as(path)
    return path


def test_identifying_attributes_are_replaced_emptied_or_removed(study, identified: Path):
    original = pydicom.dcmread(identified)
    ingest_paths(study, [identified])
    header = Instance.objects.get().dicom_json
    alias = pseudonym("MRN1234567", study.deid_salt)
    assert header_value(header, "00100010") == alias  # PatientName
    assert header_value(header, "00100020") == alias  # PatientID
    assert header_value(header, "00100030") is None and "00100030" in header  # PatientBirthDate emptied
    assert header_value(header, "00080090") is None  # ReferringPhysicianName emptied
    assert header_value(header, "00080050") is None  # AccessionNumber emptied
    for tag in ("00080080", "00080081", "00081070", "00081010"):  # institution, address, operators, station
        assert tag not in header
    assert not any(int(tag[:4], 16) % 2 == 1 for tag in header)  # private tags gone
    assert header_value(header, "00120062") == "YES"  # PatientIdentityRemoved
    assert header_value(header, "0020000D") == pseudonymous_uid(
        str(original.StudyInstanceUID), study.deid_salt
    )
    assert header_value(header, "0020000E") == pseudonymous_uid(
        str(original.SeriesInstanceUID), study.deid_salt
    )
    assert header_value(header, "00080018") == pseudonymous_uid(str(original.SOPInstanceUID), study.deid_salt)
    assert header_value(header, "00200052") == pseudonymous_uid("1.2.3.4.5.6", study.deid_salt)
    assert Patient.objects.get().pseudonym == alias
    assert "Moss" not in str(header) and "MRN1234567" not in str(header) and "St Elsewhere" not in str(header)


def test_reingesting_maps_to_the_same_uids_and_another_study_to_different_ones(study, tmp_path: Path):
    synthetic_cine(tmp_path / "cine", n_slices=2, n_phases=2)
    files = sorted((tmp_path / "cine").glob("*.dcm"))
    ingest_paths(study, files)
    first = set(Instance.objects.values_list("sop_instance_uid", flat=True))
    assert ingest_paths(study, files).duplicates == 4  # same pseudonymous UIDs -> recognised as duplicates
    other = StudyFactory(slug="other")
    ingest_paths(other, files)
    second = set(
        Instance.objects.filter(series__cases__study=other).values_list("sop_instance_uid", flat=True)
    )
    assert len(first) == len(second) == 4
    assert first.isdisjoint(second)
    originals = {str(pydicom.dcmread(f).SOPInstanceUID) for f in files}
    assert first == {pseudonymous_uid(uid, study.deid_salt) for uid in originals}


def test_uid_remapping_is_deterministic_and_well_formed():
    uid = pseudonymous_uid("1.2.840.113619.2.55.3", "salt")
    assert uid == pseudonymous_uid("1.2.840.113619.2.55.3", "salt")
    assert uid != pseudonymous_uid("1.2.840.113619.2.55.3", "pepper")
    assert uid.startswith("2.25.") and len(uid) <= 64


def test_the_synthetic_demo_identities_never_reach_the_database(study, tmp_path: Path):
    synthetic_cine(tmp_path / "cine", n_slices=1, n_phases=2)
    files = sorted((tmp_path / "cine").glob("*.dcm"))
    source = pydicom.dcmread(files[0])
    ingest_paths(study, files)
    for header in Instance.objects.values_list("dicom_json", flat=True):
        text = str(header)
        assert str(source.PatientName) not in text
        assert str(source.PatientID) not in text
        assert str(source.InstitutionName) not in text
        assert str(source.DeviceSerialNumber) not in text
    assert Series.objects.get().series_instance_uid != str(source.SeriesInstanceUID)


def test_deidentify_removes_private_tags_in_place():
    ds = pydicom.dcmread(public_file("MR_small.dcm"))
    ds.private_block(0x0011, "X", create=True).add_new(0x01, "LO", "hidden")
    deidentify(ds, "salt")
    assert not any(element.tag.is_private for element in ds)


def test_private_tags_go_at_every_depth_and_nothing_else_does():
    """Against pydicom's own remove_private_tags on a copy: private elements in the top level, in a
    sequence item and in an item nested below it are removed; every public element stays."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(public_file("CT_small.dcm"))
    inner = Dataset()
    inner.CodeValue = "T-D3000"
    inner.add_new(0x00190010, "LO", "INNER CREATOR")
    inner.add_new(0x00191001, "LO", "inner secret")
    item = Dataset()
    item.CodeMeaning = "Chest"
    item.add_new(0x00090010, "LO", "ITEM CREATOR")
    item.add_new(0x00091001, "LO", "item secret")
    item.ConceptCodeSequence = Sequence([inner])
    ds.AnatomicRegionSequence = Sequence([item])
    ds.add_new(0x00330010, "LO", "TOP CREATOR")
    ds.add_new(0x00331001, "LO", "top secret")
    buffer = io.BytesIO()
    ds.save_as(buffer)
    ours = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    theirs = pydicom.dcmread(io.BytesIO(buffer.getvalue()))
    deidentify(ours, "salt")
    theirs.remove_private_tags()
    assert not any(element.tag.is_private for element in ours.iterall())
    region = ours.AnatomicRegionSequence[0]
    assert [e.keyword for e in region] == [e.keyword for e in theirs.AnatomicRegionSequence[0]]
    assert region.ConceptCodeSequence[0].CodeValue == "T-D3000"
    assert (
        "top secret" not in str(ours) and "item secret" not in str(ours) and "inner secret" not in str(ours)
    )


@pytest.mark.parametrize(
    ("patient_id", "patient_name"),
    [
        ("MRN1234567", "Moss^Ada"),
        ("MRN 12  ", "Moss^Ada "),  # trailing padding, inner spaces
        ("", "Only^Name"),  # no ID: the name decides
        ("", ""),  # neither: "anonymous"
        ("A1\\B2", "Moss^Ada"),  # two IDs: pydicom's MultiValue text, as before
        ("Müller-7", "Müller^Jörg"),  # not ASCII: decoded by pydicom with the file's character set
    ],
)
def test_the_pseudonym_comes_from_the_id_as_pydicom_reads_it(tmp_path: Path, patient_id, patient_name):
    ds = pydicom.dcmread(public_file("MR_small.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientID = patient_id
    ds.PatientName = patient_name
    path = tmp_path / "id.dcm"
    ds.save_as(path)
    read = pydicom.dcmread(path)  # elements still raw, as on ingest
    expected = str(read.get("PatientID", "")) or str(read.get("PatientName", "")) or "anonymous"
    fresh = pydicom.dcmread(path)
    deidentify(fresh, "salt")
    assert fresh.PatientID == pseudonym(expected, "salt")
    assert str(fresh.PatientName) == pseudonym(expected, "salt")


def test_a_deidentified_header_writes_and_reads_back_in_either_encoding(tmp_path: Path):
    for implicit in (False, True):
        ds = pydicom.dcmread(public_file("MR_small.dcm"))
        original_sop = str(ds.SOPInstanceUID)
        ds.PatientID = "MRN7"
        ds.AccessionNumber = "ACC1"
        deidentify(ds, "salt")
        path = tmp_path / f"out-{implicit}.dcm"
        ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
        ds.save_as(path)
        back = pydicom.dcmread(path)
        assert back.original_encoding[0] is implicit
        assert back.PatientID == pseudonym("MRN7", "salt") and back.AccessionNumber == ""
        assert back.SOPInstanceUID == pseudonymous_uid(original_sop, "salt")
        assert back.file_meta.MediaStorageSOPInstanceUID == back.SOPInstanceUID
        assert back.PatientIdentityRemoved == "YES"
        assert back.DeidentificationMethod.startswith("Atrium basic profile")
        assert (back.pixel_array == pydicom.dcmread(public_file("MR_small.dcm")).pixel_array).all()
