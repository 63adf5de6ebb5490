"""ingest_sources on real and synthetic DICOM: stored pixels, assembly order, duplicates, originals."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import numpy as np
import pytest

from atrium.imaging.frames import frame_stack
from atrium.imaging.models import Instance, Series
from atrium.imaging.pixel_store import get_pixel_store
from atrium.studies.models import Case
from tests.platform.imaging.helpers import (
    ingest_paths,
    luma,
    pixel_frames,
    public_file,
    synthetic_cine,
    synthetic_clip,
)


@pytest.mark.parametrize(
    "name",
    ["MR_small.dcm", "MR_small_jpeg_ls_lossless.dcm", "emri_small_jpeg_2k_lossless.dcm", "JPEG-LL.dcm"],
)
def test_stored_grey_frames_equal_pydicoms_pixel_array(study, name):
    path = public_file(name)
    report = ingest_paths(study, [path])
    assert report.errors == []
    series = Series.objects.get(pk=report.series_created[0])
    np.testing.assert_array_equal(np.asarray(frame_stack(series)), pixel_frames(path))


def test_colour_ultrasound_keeps_the_original_beside_the_grey_array(study):
    path = public_file("US1_J2KR.dcm")
    series = Series.objects.get(pk=ingest_paths(study, [path]).series_created[0])
    rgb = pixel_frames(path)
    np.testing.assert_array_equal(np.asarray(frame_stack(series, color=True)), rgb)
    np.testing.assert_array_equal(np.asarray(frame_stack(series)), luma(rgb))
    assert series.modality == "US"
    assert series.layout == "clip"


def test_a_shuffled_cine_is_assembled_by_position_then_trigger_time(study, tmp_path: Path):
    expected = synthetic_cine(tmp_path / "cine", n_slices=3, n_phases=4)
    files = sorted((tmp_path / "cine").glob("*.dcm"))
    random.Random(5).shuffle(files)
    report = ingest_paths(study, files)
    series = Series.objects.get(pk=report.series_created[0])
    assert series.layout == "cine"
    assert series.shape == [3, 4, 12, 12]
    stored = np.asarray(get_pixel_store().open(series.store_key))
    np.testing.assert_array_equal(stored, expected)
    assert series.pixel_spacing_mm == [1.25, 1.5]
    assert series.slice_spacing_mm == pytest.approx(10.0)
    assert series.slice_thickness_mm == pytest.approx(8.0)
    assert series.frame_time_ms == pytest.approx(40.0)
    rows = list(series.instances.order_by("first_frame"))
    assert [(r.slice_index, r.phase_index) for r in rows[:5]] == [(0, 0), (0, 1), (0, 2), (0, 3), (1, 0)]
    assert [r.trigger_time_ms for r in rows[:4]] == [0.0, 40.0, 80.0, 120.0]


def test_an_ultrasound_clip_becomes_frames_by_h_by_w_with_its_frame_time(study, tmp_path: Path):
    frames = synthetic_clip(tmp_path / "clip.dcm", n_frames=6)
    series = Series.objects.get(pk=ingest_paths(study, [tmp_path / "clip.dcm"]).series_created[0])
    assert series.shape == [6, 10, 14]
    assert series.frame_time_ms == pytest.approx(33.3)
    assert series.pixel_spacing_mm == pytest.approx([0.3, 0.3])
    np.testing.assert_array_equal(np.asarray(frame_stack(series)), frames)


def test_resending_the_same_instances_creates_no_duplicate(study, tmp_path: Path):
    synthetic_cine(tmp_path / "cine", n_slices=2, n_phases=2)
    files = sorted((tmp_path / "cine").glob("*.dcm"))
    first = ingest_paths(study, files)
    again = ingest_paths(study, files + files[:1])
    assert len(first.series_created) == 1
    assert again.series_created == []
    assert again.duplicates == 5
    assert Series.objects.count() == 1
    assert Instance.objects.count() == 4


def test_bad_files_are_reported_by_name_and_good_series_still_stored(study, tmp_path: Path):
    bad = tmp_path / "junk.dcm"
    bad.write_bytes(b"nonsense" * 100)
    report = ingest_paths(study, [public_file("MR_small.dcm"), bad])
    assert len(report.series_created) == 1
    assert report.errors == ["junk.dcm: is not a DICOM file (no DICM preamble and no recognisable header)"]


def test_all_or_nothing_stores_nothing_when_one_file_is_bad(study, tmp_path: Path):
    bad = tmp_path / "junk.dcm"
    bad.write_bytes(b"nonsense" * 100)
    report = ingest_paths(study, [public_file("MR_small.dcm"), bad], all_or_nothing=True)
    assert report.series_created == []
    assert Series.objects.count() == 0


def test_a_failed_series_transaction_leaves_no_array_behind(study, tmp_path: Path, monkeypatch):
    def explode(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Case.objects, "create", explode)
    before = set(get_pixel_store().root.rglob("*.npy")) if get_pixel_store().root.exists() else set()
    with pytest.raises(RuntimeError):
        ingest_paths(study, [public_file("MR_small.dcm")])
    after = set(get_pixel_store().root.rglob("*.npy"))
    assert after == before
    assert Series.objects.count() == 0


def test_a_failed_array_write_rolls_the_series_back_and_leaves_no_file(study, monkeypatch):
    from atrium.imaging.pixel_store import PixelStore

    real_write = PixelStore.write

    def write_then_fail(self, key, array):
        real_write(self, key, array)  # the file is there when the failure comes (a mirror upload, say)
        raise OSError("no space left on device")

    monkeypatch.setattr(PixelStore, "write", write_then_fail)
    store = get_pixel_store()
    before = set(store.root.rglob("*.npy")) if store.root.exists() else set()
    with pytest.raises(OSError, match="no space"):
        ingest_paths(study, [public_file("MR_small.dcm")])
    assert set(store.root.rglob("*.npy")) == before
    assert Series.objects.count() == 0 and Case.objects.count() == 0


def test_originals_are_kept_only_when_the_study_opts_in(study, tmp_path: Path):
    source = tmp_path / "mr.dcm"
    shutil.copy(public_file("MR_small.dcm"), source)
    ingest_paths(study, [source])
    assert Instance.objects.get().original_key == ""
    study.keep_original_dicom = True
    study.save()
    Instance.objects.all().delete()
    Case.objects.all().delete()
    Series.objects.all().delete()
    ingest_paths(study, [source])
    kept = get_pixel_store().path(Instance.objects.get().original_key)
    assert kept.read_bytes() == source.read_bytes()
