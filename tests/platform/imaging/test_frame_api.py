"""GET /api/series/{id}/, /frames/{i}/, /frames/?start&stop, /labels/{i}/."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from atrium.imaging.models import Series
from atrium.imaging.pixel_store import get_pixel_store
from atrium.imaging.rendering import apply_window, webp_supported
from atrium.imaging.services import attach_reference_labels
from tests.factories import CaseFactory, SeriesFactory


@pytest.fixture
def cine(study) -> Series:
    series = SeriesFactory(shape=[2, 3, 8, 10], dtype="uint16", window_center=400.0, window_width=600.0)
    CaseFactory(study=study, series=series)
    return series


def stored(series: Series) -> np.ndarray:
    return np.asarray(get_pixel_store().open(series.store_key)).reshape(-1, 8, 10)


def test_a_raw_frame_is_little_endian_bytes_with_shape_and_dtype_headers(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/4/")
    assert response.status_code == 200
    assert response["X-Frame-Shape"] == "8,10"
    assert response["X-Frame-Dtype"] == "uint16"
    frame = np.frombuffer(response.content, dtype="<u2").reshape(8, 10)
    np.testing.assert_array_equal(frame, stored(cine)[4])


def test_a_frame_range_is_the_concatenation_of_frames(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/?start=1&stop=5")
    assert response.status_code == 200
    assert response["X-Frame-Shape"] == "4,8,10"
    frames = np.frombuffer(response.content, dtype="<u2").reshape(4, 8, 10)
    np.testing.assert_array_equal(frames, stored(cine)[1:5])


def test_the_whole_series_comes_back_without_range_parameters(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/")
    assert response["X-Frame-Shape"] == "6,8,10"
    assert len(response.content) == 6 * 8 * 10 * 2


def test_png_is_rendered_with_the_requested_window(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/2/?format=png&wc=500&ww=400")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)))
    np.testing.assert_array_equal(image, apply_window(stored(cine)[2], 500, 400))


def test_png_defaults_to_the_series_window(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/0/?format=png")
    image = np.asarray(Image.open(io.BytesIO(response.content)))
    np.testing.assert_array_equal(image, apply_window(stored(cine)[0], 400, 600))


def test_window_maps_the_window_edges_to_black_and_white():
    frame = np.array([[100, 200, 300, 400, 500]], dtype=np.uint16)
    np.testing.assert_array_equal(apply_window(frame, 300, 200), [[0, 0, 128, 255, 255]])


def test_webp_is_lossless_when_pillow_supports_it_and_refused_otherwise(people, api_client, cine):
    response = api_client(people.annotator).get(f"/api/series/{cine.pk}/frames/1/?format=webp&wc=500&ww=1000")
    if not webp_supported():
        assert response.status_code == 406
        assert "WebP" in response.json()["detail"]
        return
    assert response["Content-Type"] == "image/webp"
    image = np.asarray(Image.open(io.BytesIO(response.content)).convert("L"))
    np.testing.assert_array_equal(image, apply_window(stored(cine)[1], 500, 1000))


def test_unknown_formats_and_bad_parameters_are_400(people, api_client, cine):
    client = api_client(people.annotator)
    assert client.get(f"/api/series/{cine.pk}/frames/0/?format=gif").status_code == 400
    assert client.get(f"/api/series/{cine.pk}/frames/0/?format=png&ww=abc").status_code == 400
    assert client.get(f"/api/series/{cine.pk}/frames/?start=4&stop=2").status_code == 400
    assert client.get(f"/api/series/{cine.pk}/frames/6/").status_code == 404


def test_etag_and_cache_control_give_304_on_if_none_match(people, api_client, cine):
    client = api_client(people.annotator)
    first = client.get(f"/api/series/{cine.pk}/frames/3/")
    assert first["Cache-Control"].startswith("private")
    assert "immutable" in first["Cache-Control"]
    again = client.get(f"/api/series/{cine.pk}/frames/3/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    other = client.get(f"/api/series/{cine.pk}/frames/2/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert other.status_code == 200
    ranged = client.get(f"/api/series/{cine.pk}/frames/?start=0&stop=2")
    assert (
        client.get(
            f"/api/series/{cine.pk}/frames/?start=0&stop=2", HTTP_IF_NONE_MATCH=ranged["ETag"]
        ).status_code
        == 304
    )


def test_outsiders_and_anonymous_users_cannot_see_frames(people, api_client, cine):
    assert api_client(people.outsider).get(f"/api/series/{cine.pk}/frames/0/").status_code == 404
    assert api_client(people.outsider).get(f"/api/series/{cine.pk}/").status_code == 404
    assert api_client().get(f"/api/series/{cine.pk}/frames/0/").status_code in (401, 403)
    assert api_client(people.admin).get(f"/api/series/{cine.pk}/frames/0/").status_code == 200


def test_a_session_login_works_like_the_api_client(people, client, cine):
    client.force_login(people.annotator2)
    assert client.get(f"/api/series/{cine.pk}/frames/0/").status_code == 200


def test_series_meta_follows_the_contract(people, api_client, cine):
    meta = api_client(people.annotator).get(f"/api/series/{cine.pk}/").json()
    assert meta["shape"] == [2, 3, 8, 10]
    assert meta["n_frames"] == 6
    assert meta["layout"] == "cine"
    assert meta["window"] == {"center": 400.0, "width": 600.0}
    assert meta["dtype"] == "uint16"


def test_reference_labels_are_for_ml_engineers_and_leads_only(people, api_client, cine):
    labels = (np.arange(2 * 3 * 8 * 10) % 4).astype(np.uint8).reshape(2, 3, 8, 10)
    attach_reference_labels(series=cine, labels=labels)
    assert api_client(people.annotator).get(f"/api/series/{cine.pk}/labels/4/").status_code == 403
    assert api_client(people.annotator).get(f"/api/series/{cine.pk}/").json()["has_reference_labels"] is False
    for user in (people.ml_engineer, people.study_lead, people.admin):
        response = api_client(user).get(f"/api/series/{cine.pk}/labels/4/")
        assert response.status_code == 200
        np.testing.assert_array_equal(np.frombuffer(response.content, np.uint8).reshape(8, 10), labels[1, 1])
    assert (
        api_client(people.ml_engineer).get(f"/api/series/{cine.pk}/").json()["has_reference_labels"] is True
    )


def test_labels_are_404_when_the_series_has_none(people, api_client, cine):
    assert api_client(people.ml_engineer).get(f"/api/series/{cine.pk}/labels/0/").status_code == 404


def test_per_frame_clip_labels_come_back_as_json(people, api_client, study):
    clip = SeriesFactory(shape=[4, 6, 6], layout="clip", dtype="uint8", modality="US")
    CaseFactory(study=study, series=clip)
    attach_reference_labels(series=clip, labels=np.array([0, 3, 3, 1], dtype=np.uint8))
    assert api_client(people.study_lead).get(f"/api/series/{clip.pk}/labels/2/").json() == {
        "frame": 2,
        "label": 3,
    }


def test_a_byte_range_of_a_frame_range_is_a_206_with_only_those_bytes(people, api_client, cine):
    client = api_client(people.annotator)
    url = f"/api/series/{cine.pk}/frames/?start=1&stop=5"
    whole = client.get(url)
    assert whole["Accept-Ranges"] == "bytes" and len(whole.content) == 4 * 8 * 10 * 2
    part = client.get(url, HTTP_RANGE="bytes=100-259")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 100-259/640"
    assert part.content == whole.content[100:260] and part["ETag"] == whole["ETag"]
    assert client.get(url, HTTP_RANGE="bytes=-10").content == whole.content[-10:]
    assert client.get(url, HTTP_RANGE="bytes=600-").content == whole.content[600:]
    assert client.get(url, HTTP_RANGE="bytes=630-9999")["Content-Range"] == "bytes 630-639/640"
    outside = client.get(url, HTTP_RANGE="bytes=640-700")
    assert outside.status_code == 416 and outside["Content-Range"] == "bytes */640"
    assert client.get(url, HTTP_RANGE="bytes=0-1,5-6").status_code == 200  # several ranges: all of it
    assert client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"other"').status_code == 200
    same = client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE=whole["ETag"])
    assert same.status_code == 206 and same.content == whole.content[:10]
    assert client.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_NONE_MATCH=whole["ETag"]).status_code == 304
