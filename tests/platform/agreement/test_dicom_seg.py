"""DICOM SEG exports read back with highdicom and pydicom: one series per case and reader, one instance per
contoured phase, three coded segments, frames referencing the ingested MR instances, masks equal to the
rasterised contours; reads with nothing to export give a 400 that says why."""

from __future__ import annotations

import io
import json
import zipfile

import highdicom as hd
import numpy as np
import pydicom
import pytest

from tests.platform.agreement.helpers import draw, label_map_prediction, standard_read

URL = "/api/studies/cardiac-test/exports/dicomseg/"


@pytest.fixture
def dicom_case(study, tmp_path):
    """A 2-slice, 3-phase, 16 x 16 cine ingested from synthetic DICOM (single-frame MR instances)."""
    from tests.platform.imaging.helpers import ingest_paths, synthetic_cine

    synthetic_cine(tmp_path / "dcm", n_slices=2, n_phases=3, size=16)
    report = ingest_paths(study, sorted((tmp_path / "dcm").glob("*.dcm")))
    assert not report.errors, report.errors
    from atrium.studies.models import Case

    return Case.objects.get(pk=report.cases_created[0])


def _zip(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content[:500]
    return zipfile.ZipFile(io.BytesIO(response.content))


def _instances(case) -> dict[tuple[int, int], str]:
    return {(i.slice_index, i.phase_index): i.sop_instance_uid for i in case.series.instances.all()}


def _expected_labels(case, key: str) -> np.ndarray:
    from atrium.agreement.reads import full_label_map
    from atrium.agreement.selectors import series_geometry, study_reads

    reads = study_reads(case.study)
    return full_label_map(reads.reads[case.pk][key], series_geometry(case)[0])


def test_each_contoured_phase_reads_back_with_coded_segments_references_and_masks(
    dicom_case, people, api_client
):
    standard_read(dicom_case, people.annotator)
    z = _zip(api_client(people.ml_engineer).get(URL))
    index = json.loads(z.read("seg/index.json"))
    assert [s["label"] for s in index["segments"]] == ["LV blood pool", "LV myocardium", "RV blood pool"]
    assert [s["snomed"]["code"] for s in index["segments"]] == ["87878005", "49848007", "53085002"]
    files = {(f["reader"], f["phase"]): f for f in index["files"]}
    assert sorted(files) == [("obs:ann#1", 0), ("obs:ann#1", 2)]  # phases 0 (ED) and 2 (ES) are drawn
    expected = _expected_labels(dicom_case, "obs:ann#1")  # (S, P, H, W)
    sources = _instances(dicom_case)
    series_uids = set()
    for (_, phase), entry in files.items():
        seg = hd.seg.segread(io.BytesIO(z.read(entry["file"])))
        series_uids.add(seg.SeriesInstanceUID)
        assert seg.Modality == "SEG" and seg.InstanceNumber == phase + 1
        assert seg.number_of_segments == 3
        labels = [seg.get_segment_description(n).SegmentLabel for n in (1, 2, 3)]
        assert labels == ["LV blood pool", "LV myocardium", "RV blood pool"]
        types = [seg.get_segment_description(n).SegmentedPropertyTypeCodeSequence[0] for n in (1, 2, 3)]
        assert [(t.CodingSchemeDesignator, t.CodeValue) for t in types] == [
            ("SCT", "87878005"),
            ("SCT", "49848007"),
            ("SCT", "53085002"),
        ]
        assert seg.get_segment_description(1).SegmentAlgorithmType == "MANUAL"
        # the frames reference the MR instances of slices 0 and 1 at this phase, and nothing else
        wanted = [sources[(0, phase)], sources[(1, phase)]]
        assert entry["referenced_sop_instance_uids"] == wanted
        referenced = {uid for _, _, uid in seg.get_source_image_uids()}
        assert referenced == set(wanted)
        assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == dicom_case.series.series_instance_uid
        masks = seg.get_pixels_by_source_instance(
            source_sop_instance_uids=wanted, segment_numbers=[1, 2, 3]
        )  # (2, H, W, 3)
        for s in range(2):
            for number in (1, 2, 3):
                assert np.array_equal(masks[s, :, :, number - 1].astype(bool), expected[s, phase] == number)
        # and plain pydicom reads the same file
        ds = pydicom.dcmread(io.BytesIO(z.read(entry["file"])))
        assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.66.4" and len(ds.SegmentSequence) == 3
    assert len(series_uids) == 1  # one SEG series per case and reader


def test_every_reader_gets_its_own_series_and_a_model_read_is_automatic(dicom_case, people, api_client):
    standard_read(dicom_case, people.annotator)
    draw(dicom_case, people.annotator2, "lv_endo", range(1), 1, (4, 7, 4, 7))
    model_labels = np.zeros((2, 3, 16, 16), dtype=np.uint8)
    model_labels[1, 1, 3:9, 5:10] = 3
    label_map_prediction(dicom_case, model_labels, number=1)
    z = _zip(api_client(people.study_lead).get(URL))
    index = json.loads(z.read("seg/index.json"))
    by_reader: dict[str, list[dict]] = {}
    for f in index["files"]:
        by_reader.setdefault(f["reader"], []).append(f)
    assert sorted(by_reader) == ["model:segmentation#1", "obs:ann#1", "obs:bob#1"]
    assert [f["phase"] for f in by_reader["obs:bob#1"]] == [1]
    bob = hd.seg.segread(io.BytesIO(z.read(by_reader["obs:bob#1"][0]["file"])))
    assert by_reader["obs:bob#1"][0]["referenced_sop_instance_uids"] == [_instances(dicom_case)[(0, 1)]]
    lv = bob.get_pixels_by_source_instance(
        source_sop_instance_uids=[_instances(dicom_case)[(0, 1)]], segment_numbers=[1]
    )
    assert lv.sum() == 16 and lv[0, 4:8, 4:8, 0].all()
    model = hd.seg.segread(io.BytesIO(z.read(by_reader["model:segmentation#1"][0]["file"])))
    assert model.get_segment_description(3).SegmentAlgorithmType == "AUTOMATIC"
    rv = model.get_pixels_by_source_instance(
        source_sop_instance_uids=[_instances(dicom_case)[(1, 1)]], segment_numbers=[3]
    )
    assert np.array_equal(rv[0, :, :, 0].astype(bool), model_labels[1, 1] == 3)
    segs = [hd.seg.segread(io.BytesIO(z.read(fs[0]["file"]))) for fs in by_reader.values()]
    assert len({s.SeriesInstanceUID for s in segs}) == 3 and len({s.SeriesNumber for s in segs}) == 3
    # exporting the same reads again gives the same UIDs (only content date and time move)
    name = by_reader["obs:bob#1"][0]["file"]
    again = pydicom.dcmread(io.BytesIO(_zip(api_client(people.study_lead).get(URL)).read(name)))
    first = pydicom.dcmread(io.BytesIO(z.read(name)))
    assert (again.SeriesInstanceUID, again.SOPInstanceUID) == (first.SeriesInstanceUID, first.SOPInstanceUID)
    only = _zip(api_client(people.study_lead).get(URL, {"reader": "obs:bob#1"}))
    assert {f["reader"] for f in json.loads(only.read("seg/index.json"))["files"]} == {"obs:bob#1"}


def test_a_study_without_contours_is_a_400_naming_the_problem(dicom_case, people, api_client):
    response = api_client(people.study_lead).get(URL)
    assert response.status_code == 400
    assert "nothing to export as DICOM SEG" in response.json()["detail"]


def test_a_read_whose_contours_cover_no_pixel_is_skipped_with_its_reason(dicom_case, people, api_client):
    from atrium.annotations.services import create_annotation

    standard_read(dicom_case, people.annotator)
    # a sliver between pixel centres: a valid contour that rasterises to nothing
    create_annotation(
        case=dicom_case,
        author=people.annotator2,
        kind="contour",
        data={"structure": "lv_endo", "slice": 0, "phase": 0, "points": [[1.1, 1.1], [1.4, 1.1], [1.2, 1.3]]},
    )
    z = _zip(api_client(people.study_lead).get(URL))
    index = json.loads(z.read("seg/index.json"))
    assert {f["reader"] for f in index["files"]} == {"obs:ann#1"}
    assert index["skipped"] == [
        {
            "case": dicom_case.pk,
            "reader": "obs:bob#1",
            "reason": "the read has no contour that covers a pixel",
        }
    ]
    only_bob = api_client(people.study_lead).get(URL, {"reader": "obs:bob#1"})
    assert only_bob.status_code == 400 and "covers a pixel" in only_bob.json()["detail"]


def test_unknown_readers_and_series_without_dicom_sources_are_400(study, people, api_client):
    from tests.platform.agreement.helpers import cardiac_case

    case = cardiac_case(study)  # a factory series: no DICOM instances behind it
    standard_read(case, people.annotator)
    response = api_client(people.study_lead).get(URL)
    assert (
        response.status_code == 400 and "no single-frame DICOM source instances" in response.json()["detail"]
    )
    unknown = api_client(people.study_lead).get(URL, {"reader": "obs:nobody#1"})
    assert unknown.status_code == 400 and "unknown reader 'obs:nobody#1'" in unknown.json()["detail"]
    assert api_client(people.annotator).get(URL).status_code == 403


def test_an_ultrasound_study_has_no_segmentations_to_export(people, api_client):
    from atrium.accounts.services import add_member
    from tests.factories import StudyFactory

    us = StudyFactory(slug="us-seg", task_kind="ultrasound")
    add_member(user=people.study_lead, study=us)
    response = api_client(people.study_lead).get("/api/studies/us-seg/exports/dicomseg/")
    assert response.status_code == 400
    assert response.json()["detail"].endswith("the study has no cardiac contour reads")
