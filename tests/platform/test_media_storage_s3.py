"""ATRIUM_STORAGE=s3: pixel arrays and model weights go to S3-compatible storage, MEDIA_ROOT is a cache.

The object store is moto's S3 server on loopback (a real HTTP endpoint that boto3 and django-storages talk
to as they would to MinIO or AWS); nothing is mocked inside the process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from django.conf import settings
from django.test import override_settings

from tests.factories import CaseFactory, SeriesFactory

moto_server = pytest.importorskip("moto.server", reason="moto[server] is a dev dependency")
boto3 = pytest.importorskip("boto3")

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "atrium-media-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    )
    client.create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture
def bucket(s3_endpoint):
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id="k",
        aws_secret_access_key="s",
        region_name="us-east-1",
    )
    storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": s3_endpoint,
            "region_name": "us-east-1",
            "access_key": "k",
            "secret_key": "s",
            "default_acl": None,
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
    with override_settings(ATRIUM_STORAGE="s3", STORAGES={**settings.STORAGES, "default": storage}):
        yield client
    for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def object_names(client) -> set[str]:
    return {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}


def test_a_written_array_is_uploaded_and_a_pod_without_the_file_fetches_it(bucket):
    from atrium.imaging.pixel_store import get_pixel_store

    store = get_pixel_store()
    key = store.new_key()
    array = np.arange(2 * 3 * 4, dtype=np.uint16).reshape(2, 3, 4)
    store.write(key, array)
    assert f"pixels/{key}" in object_names(bucket)

    store.path(key).unlink()  # another pod: its MEDIA_ROOT cache has never seen this series
    assert store.exists(key)
    np.testing.assert_array_equal(store.open(key), array)
    assert store.path(key).exists()  # cached for the next read

    store.delete(key)
    assert f"pixels/{key}" not in object_names(bucket)
    assert not store.exists(key)


def test_frames_are_served_from_object_storage_after_the_local_cache_is_wiped(
    bucket, study, people, api_client
):
    from atrium.imaging.pixel_store import get_pixel_store

    series = SeriesFactory(shape=[2, 3, 8, 10], dtype="uint16")
    CaseFactory(study=study, series=series)
    expected = np.asarray(get_pixel_store().open(series.store_key)).reshape(-1, 8, 10).copy()
    assert f"pixels/{series.store_key}" in object_names(bucket)

    shutil.rmtree(settings.PIXEL_STORE_ROOT)
    response = api_client(people.annotator).get(f"/api/series/{series.pk}/frames/4/")
    assert response.status_code == 200
    np.testing.assert_array_equal(np.frombuffer(response.content, dtype="<u2").reshape(8, 10), expected[4])


def test_model_weights_are_uploaded_and_loaded_back_on_a_pod_without_them(bucket, study):
    from atrium.learning.registry import load_weights, models_root, register_model_version

    model = torch.nn.Linear(3, 2)
    version = register_model_version(
        study=study, family="segmentation", model=model, config={}, training_set=[], metrics={}
    )
    assert f"models/{version.weights_key}" in object_names(bucket)
    (models_root() / version.weights_key).unlink()
    weights = load_weights(version)
    torch.testing.assert_close(weights["weight"], model.weight.detach())


def test_ready_checks_the_bucket(bucket, client, db):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert "object storage" in response.json()["checks"]["storage"]


def test_ready_fails_when_the_bucket_is_unreachable(client, db):
    storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": BUCKET,
            "endpoint_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
            "access_key": "k",
            "secret_key": "s",
            "region_name": "us-east-1",
        },
    }
    with override_settings(ATRIUM_STORAGE="s3", STORAGES={**settings.STORAGES, "default": storage}):
        response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["checks"]["storage"].startswith("error:")


def settings_error(env: dict[str, str]) -> str:
    code = "import django; django.setup()"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ATRIUM_STORAGE"))},
        "DJANGO_SETTINGS_MODULE": "atrium.settings.local",
        "PYTHONPATH": f"{ROOT / 'platform'}:{ROOT}",
        **env,
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode != 0
    return result.stderr


def test_s3_without_a_bucket_name_fails_with_the_variable_named():
    assert "AWS_STORAGE_BUCKET_NAME" in settings_error({"ATRIUM_STORAGE": "s3"})


def test_an_unknown_storage_kind_is_named():
    assert "ATRIUM_STORAGE='tape'" in settings_error({"ATRIUM_STORAGE": "tape"})
