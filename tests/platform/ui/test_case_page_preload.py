"""The case page asks for the tool's data while the tool's bundle loads: case, annotations, predictions and
the frame the tool opens on (the middle slice's first phase of a cine, frame 0 of a clip)."""

from __future__ import annotations

from atrium.imaging.models import Layout
from tests.factories import CaseFactory, SeriesFactory


def preloads(content: bytes) -> list[str]:
    text = content.decode()
    return [chunk.split('href="', 1)[1].split('"', 1)[0] for chunk in text.split('<link rel="preload"')[1:]]


def test_a_cine_case_page_preloads_its_data_and_the_middle_slices_first_phase(client, people, study):
    series = SeriesFactory(shape=[9, 25, 16, 16])
    case = CaseFactory(study=study, series=series)
    client.force_login(people.annotator)
    page = client.get(f"/cases/{case.pk}/")
    assert page.status_code == 200
    assert preloads(page.content) == [
        f"/api/cases/{case.pk}/",
        f"/api/cases/{case.pk}/annotations/",
        f"/api/cases/{case.pk}/predictions/",
        f"/api/series/{series.pk}/frames/100/",  # slice 4 of 9, phase 0 of 25: 4 * 25
    ]


def test_a_clip_case_page_preloads_its_first_frame(client, people, study):
    series = SeriesFactory(layout=Layout.CLIP, modality="US", shape=[12, 16, 16], dtype="uint8")
    case = CaseFactory(study=study, series=series)
    client.force_login(people.annotator)
    page = client.get(f"/cases/{case.pk}/")
    assert preloads(page.content)[-1] == f"/api/series/{series.pk}/frames/0/"
