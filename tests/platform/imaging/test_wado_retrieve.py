"""WADO-RS retrieve of instances, series and studies (and rendered frames), with dicomweb-client."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
import requests
from django.test import Client
from PIL import Image
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian

from atrium.imaging.deid import pseudonym
from atrium.imaging.frames import frame_stack
from atrium.imaging.models import Instance, Series
from tests.platform.imaging.helpers import (
    dicomweb_for,
    ingest_paths,
    pixel_frames,
    public_file,
    synthetic_cine,
)

JPEG_BASELINE = "1.2.840.10008.1.2.4.50"


@pytest.fixture
def stored(study, tmp_path: Path) -> dict[str, object]:
    cine = synthetic_cine(tmp_path / "cine", n_slices=2, n_phases=3)
    cine_files = sorted((tmp_path / "cine").glob("*.dcm"))
    us = public_file("US1_UNCR.dcm")
    mr = public_file("emri_small.dcm")
    report = ingest_paths(study, [*cine_files, us, mr])
    assert not report.errors
    return {"cine": cine, "cine_files": cine_files, "us": us, "mr": mr}


def _uids(series: Series) -> tuple[str, str]:
    return series.imaging_study.study_instance_uid, series.series_instance_uid


def test_a_retrieved_cine_instance_has_the_stored_frame_and_pseudonymous_uids(people, study, stored):
    cine = Series.objects.get(layout="cine")
    row = Instance.objects.get(series=cine, slice_index=1, phase_index=2)
    ds = dicomweb_for(people.annotator).retrieve_instance(*_uids(cine), row.sop_instance_uid)
    assert ds.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
    assert (ds.StudyInstanceUID, ds.SeriesInstanceUID) == _uids(cine)
    assert ds.SOPInstanceUID == ds.file_meta.MediaStorageSOPInstanceUID == row.sop_instance_uid
    np.testing.assert_array_equal(ds.pixel_array, stored["cine"][1, 2])
    np.testing.assert_array_equal(ds.pixel_array, np.asarray(frame_stack(cine))[1 * 3 + 2])
    original = pydicom.dcmread(stored["cine_files"][0])
    alias = pseudonym(str(original.PatientID), study.deid_salt)
    assert (str(ds.PatientName), ds.PatientID, ds.PatientIdentityRemoved) == (alias, alias, "YES")
    for keyword in ("InstitutionName", "StationName", "DeviceSerialNumber"):
        assert keyword not in ds
    assert ds.PatientBirthDate == "" and ds.AccessionNumber == ""
    assert ds.StudyInstanceUID != original.StudyInstanceUID


def test_a_retrieved_series_holds_every_instance_with_its_frames(people, stored):
    client = dicomweb_for(people.annotator)
    mr = Series.objects.get(modality="MR", layout="clip")
    (ds,) = client.retrieve_series(*_uids(mr))
    assert ds.SOPInstanceUID == Instance.objects.get(series=mr).sop_instance_uid
    assert ds.NumberOfFrames == 10
    np.testing.assert_array_equal(ds.pixel_array, pixel_frames(stored["mr"]))

    cine = Series.objects.get(layout="cine")
    datasets = client.retrieve_series(*_uids(cine))
    rows = list(Instance.objects.filter(series=cine).order_by("first_frame"))
    assert [d.SOPInstanceUID for d in datasets] == [r.sop_instance_uid for r in rows]
    got = np.stack([d.pixel_array for d in datasets]).reshape(stored["cine"].shape)
    np.testing.assert_array_equal(got, stored["cine"])


def test_a_colour_instance_comes_back_as_its_rgb_original(people, stored):
    us = Series.objects.get(modality="US")
    (ds,) = dicomweb_for(people.annotator).retrieve_series(*_uids(us))
    assert (ds.PhotometricInterpretation, ds.SamplesPerPixel, ds.PlanarConfiguration) == ("RGB", 3, 0)
    np.testing.assert_array_equal(ds.pixel_array, pixel_frames(stored["us"])[0])


def test_a_retrieved_study_holds_the_instances_of_all_its_series(people, stored):
    cine = Series.objects.get(layout="cine")
    datasets = dicomweb_for(people.annotator).retrieve_study(cine.imaging_study.study_instance_uid)
    expected = set(
        Instance.objects.filter(series__imaging_study=cine.imaging_study).values_list(
            "sop_instance_uid", flat=True
        )
    )
    assert {d.SOPInstanceUID for d in datasets} == expected and len(datasets) == len(expected) == 6


def test_unknown_uids_are_404_naming_what_was_missing(people, stored):
    client = dicomweb_for(people.annotator)
    cine = Series.objects.get(layout="cine")
    with pytest.raises(requests.HTTPError) as missing:
        client.retrieve_instance(*_uids(cine), "1.2.3.4")
    assert missing.value.response.status_code == 404
    assert "no instance 1.2.3.4" in missing.value.response.json()["detail"]
    with pytest.raises(requests.HTTPError) as missing_study:
        client.retrieve_study("1.2.3.999")
    assert "no study 1.2.3.999" in missing_study.value.response.json()["detail"]


def test_outsiders_cannot_retrieve(people, stored):
    cine = Series.objects.get(layout="cine")
    with pytest.raises(requests.HTTPError) as refused:
        dicomweb_for(people.outsider).retrieve_series(*_uids(cine))
    assert refused.value.response.status_code == 404


def test_unsupported_accept_is_406(people, stored):
    client = dicomweb_for(people.annotator)
    cine = Series.objects.get(layout="cine")
    row = Instance.objects.filter(series=cine).first()
    with pytest.raises(requests.HTTPError) as jpeg:
        client.retrieve_instance(
            *_uids(cine), row.sop_instance_uid, media_types=(("application/dicom", JPEG_BASELINE),)
        )
    assert jpeg.value.response.status_code == 406
    assert "1.2.840.10008.1.2.1" in jpeg.value.response.json()["detail"]
    http = Client()
    http.force_login(people.annotator)
    url = f"/dicomweb/studies/{cine.imaging_study.study_instance_uid}/series/{cine.series_instance_uid}"
    assert http.get(url, HTTP_ACCEPT="application/json").status_code == 406
    assert http.get(url, HTTP_ACCEPT="application/dicom").status_code == 406  # single part: instances only
    single = http.get(f"{url}/instances/{row.sop_instance_uid}", HTTP_ACCEPT="application/dicom")
    assert single.status_code == 200 and single["Content-Type"] == "application/dicom"
    assert pydicom.dcmread(io.BytesIO(single.content)).SOPInstanceUID == row.sop_instance_uid


def test_retrieve_carries_an_etag_and_equal_etags_mean_equal_bodies(people, stored):
    http = Client()
    http.force_login(people.annotator)
    cine = Series.objects.get(layout="cine")
    url = f"/dicomweb/studies/{cine.imaging_study.study_instance_uid}/series/{cine.series_instance_uid}"
    first, second = http.get(url), http.get(url)
    assert first.status_code == 200 and first["ETag"] == second["ETag"]
    assert first.content == second.content
    assert http.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_rendered_frames_apply_the_requested_window(people, stored):
    http = Client()
    http.force_login(people.annotator)
    cine = Series.objects.get(layout="cine")
    row = Instance.objects.get(series=cine, slice_index=1, phase_index=0)  # pixel value 11
    base = (
        f"/dicomweb/studies/{cine.imaging_study.study_instance_uid}/series/{cine.series_instance_uid}"
        f"/instances/{row.sop_instance_uid}"
    )
    response = http.get(f"{base}/rendered", {"window": "10,20"}, HTTP_ACCEPT="image/png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)))
    # window 10/20 maps 0..20 to 0..255: 11 * 255 / 20 = 140.25 -> 140; 0 -> 0
    assert image[5, 5] == 140 and image[0, 0] == 0
    assert http.get(f"{base}/frames/1/rendered", {"window": "10,20"}).content == response.content
    assert http.get(f"{base}/frames/2/rendered").status_code == 404
    assert http.get(f"{base}/rendered", HTTP_ACCEPT="image/gif").status_code == 406
    assert http.get(f"{base}/rendered", {"window": "ten"}).status_code == 400


def _enhanced_cine(path: Path) -> np.ndarray:
    """An enhanced MR object of 2 slices x 2 phases whose frames are stored out of (slice, phase) order."""
    # (slice position z, trigger time) of each stored frame, deliberately shuffled.
    order = [(10.0, 40.0), (0.0, 0.0), (10.0, 0.0), (0.0, 40.0)]
    frames = np.stack([np.full((6, 8), int(z) * 10 + int(t) // 40 + 1, dtype=np.uint16) for z, t in order])
    frames[:, 0, 0] = np.arange(4)  # makes each frame unique
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.4.1"
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.10.1470.77.1"
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.10.1470.77.2"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.10.1470.77.3"
    ds.PatientID, ds.PatientName, ds.Modality = "MRN77", "Test^Enhanced", "MR"
    ds.Rows, ds.Columns, ds.NumberOfFrames = 6, 8, 4
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    orientation, measures = Dataset(), Dataset()
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    measures.PixelSpacing, measures.SliceThickness = [1.5, 1.5], 8.0
    shared = Dataset()
    shared.PlaneOrientationSequence = Sequence([orientation])
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    items = []
    for z, trigger in order:
        position, sync, item = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, z]
        sync.NominalCardiacTriggerDelayTime = trigger
        item.PlanePositionSequence = Sequence([position])
        item.CardiacSynchronizationSequence = Sequence([sync])
        items.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(items)
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return frames


def test_an_enhanced_cine_comes_back_in_its_own_frame_order(people, study, tmp_path: Path):
    frames = _enhanced_cine(tmp_path / "enhanced.dcm")
    assert not ingest_paths(study, [tmp_path / "enhanced.dcm"]).errors
    series = Series.objects.get()
    assert series.layout == "cine" and series.shape == [2, 2, 6, 8]
    # assembled (slice, phase): z=0 t=0, z=0 t=40, z=10 t=0, z=10 t=40 = stored frames 1, 3, 2, 0
    np.testing.assert_array_equal(np.asarray(frame_stack(series)), frames[[1, 3, 2, 0]])
    client = dicomweb_for(people.annotator)
    row = Instance.objects.get(series=series)
    ds = client.retrieve_instance(*_uids(series), row.sop_instance_uid)
    np.testing.assert_array_equal(ds.pixel_array, frames)
    assert [
        float(item.PlanePositionSequence[0].ImagePositionPatient[2])
        for item in ds.PerFrameFunctionalGroupsSequence
    ] == [10.0, 0.0, 10.0, 0.0]
    first, fourth = client.retrieve_instance_frames(*_uids(series), row.sop_instance_uid, [1, 4])
    np.testing.assert_array_equal(np.frombuffer(first, "<u2").reshape(6, 8), frames[0])
    np.testing.assert_array_equal(np.frombuffer(fourth, "<u2").reshape(6, 8), frames[3])
