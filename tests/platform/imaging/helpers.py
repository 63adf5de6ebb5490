"""Helpers for imaging tests: public pydicom test files, small synthetic cines, ingest shortcuts."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from django.test import Client
from pydicom.data import get_testdata_file
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from atrium.imaging.services import IngestReport, ingest_sources
from atrium.imaging.sources import SourceFile
from atrium.imaging.synthetic_dicom import write_cardiac_cine, write_ultrasound_clip


def public_file(name: str) -> Path:
    """A file from pydicom's or pydicom-data's test set (never downloaded); skip when absent."""
    path = get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not in the installed pydicom test data")
    return Path(path)


def ingest_paths(study: object, paths: list[Path], **kwargs: object) -> IngestReport:
    return ingest_sources(study=study, sources=[SourceFile(name=p.name, path=p) for p in paths], **kwargs)


def synthetic_cine(
    folder: Path, *, n_slices: int = 3, n_phases: int = 4, size: int = 12, index: int = 0
) -> np.ndarray:
    """Write a (S, P, H, W) cine whose pixel values encode (slice, phase); return the uint16 array written."""
    image = np.zeros((n_slices, n_phases, size, size), dtype=np.float64)
    for s in range(n_slices):
        for p in range(n_phases):
            image[s, p] = (s * 10 + p + 1) / 1000.0
    image[:, :, 0, 0] = 0.0  # a dark corner keeps the default window honest
    write_cardiac_cine(
        folder,
        image,
        seed=7,
        index=index,
        manufacturer="Siemens",
        pixel_spacing_mm=(1.25, 1.5),
        slice_thickness_mm=8.0,
        slice_spacing_mm=10.0,
        trigger_times_ms=np.arange(n_phases) * 40.0,
    )
    return np.clip(np.rint(image * 1000.0), 0, 4095).astype(np.uint16)


def synthetic_clip(path: Path, *, n_frames: int = 5, rgb: bool = False, index: int = 0) -> np.ndarray:
    rng = np.random.default_rng(index)
    shape = (n_frames, 10, 14, 3) if rgb else (n_frames, 10, 14)
    frames = rng.integers(0, 256, size=shape).astype(np.uint8)
    write_ultrasound_clip(
        path, frames, seed=3, index=index, manufacturer="GE", frame_time_ms=33.3, pixel_spacing_mm=(0.3, 0.3)
    )
    return frames


def luma(rgb: np.ndarray) -> np.ndarray:
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.clip(rgb.astype(np.float32) @ weights + 0.5, 0, 255).astype(np.uint8)


def pixel_frames(path: Path) -> np.ndarray:
    """pydicom's own pixel_array as (F, H, W[, 3])."""
    ds = pydicom.dcmread(path)
    array = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    return array if frames > 1 else array[np.newaxis]


def zip_bytes(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


DICOMWEB_BASE = "http://testserver/dicomweb"


class DjangoAdapter(BaseAdapter):
    """A requests transport that sends each request through django.test.Client."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def send(self, request: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        parts = urlsplit(request.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in request.headers.items()}
        content_type = headers.pop("HTTP_CONTENT_TYPE", "application/octet-stream")
        headers.pop("HTTP_CONTENT_LENGTH", None)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        django_response = self.client.generic(
            request.method, path, body, content_type=content_type, **headers
        )
        response = requests.Response()
        response.status_code = django_response.status_code
        response.headers = CaseInsensitiveDict(dict(django_response.items()))
        response._content = django_response.content
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


def dicomweb_for(user) -> DICOMwebClient:
    client = Client()
    client.force_login(user)
    session = requests.Session()
    session.mount("http://testserver", DjangoAdapter(client))
    return DICOMwebClient(url=DICOMWEB_BASE, session=session)
