"""Websocket consumers: members join their case's group and hear saves; others are refused."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator

from annotation_ui.routing import websocket_urlpatterns
from tests.factories import CaseFactory, SeriesFactory

SQUARE = [[2, 2], [10, 2], [10, 10], [2, 10]]


def communicator(path: str, user) -> WebsocketCommunicator:
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    comm.scope["user"] = user
    return comm


@pytest.mark.django_db(transaction=True)
def test_a_member_hears_a_contour_saved_on_the_case(people, study):
    from atrium.annotations.services import create_annotation

    case = CaseFactory(study=study, series=SeriesFactory(shape=[2, 3, 16, 16]))

    async def scenario():
        comm = communicator(f"/ws/cases/{case.pk}/", people.annotator2)
        connected, _ = await comm.connect()
        assert connected
        assert (await comm.receive_json_from())["type"] == "hello"
        await sync_to_async(create_annotation)(
            case=case,
            author=people.annotator,
            kind="contour",
            data={"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE},
        )
        event = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return event

    event = async_to_sync(scenario)()
    assert event["type"] == "annotation.saved"
    assert event["annotation"]["author"]["username"] == "ann"


@pytest.mark.django_db(transaction=True)
def test_a_non_member_is_refused_a_case_socket(people, study):
    case = CaseFactory(study=study, series=SeriesFactory(shape=[2, 3, 16, 16]))

    async def scenario():
        comm = communicator(f"/ws/cases/{case.pk}/", people.outsider)
        connected, code = await comm.connect()
        return connected, code

    connected, code = async_to_sync(scenario)()
    assert not connected and code == 4403


@pytest.mark.django_db(transaction=True)
def test_in_a_blind_study_other_readers_do_not_hear_a_save(people, study):
    from atrium.annotations.services import create_annotation

    study.blind = True
    study.save()
    case = CaseFactory(study=study, series=SeriesFactory(shape=[2, 3, 16, 16]))

    async def scenario():
        other = communicator(f"/ws/cases/{case.pk}/", people.annotator2)
        assert (await other.connect())[0]
        await other.receive_json_from()
        mine = communicator("/ws/queue/", people.annotator)
        assert (await mine.connect())[0]
        await mine.receive_json_from()
        await sync_to_async(create_annotation)(
            case=case,
            author=people.annotator,
            kind="contour",
            data={"structure": "lv_endo", "slice": 0, "phase": 0, "points": SQUARE},
        )
        own_event = await mine.receive_json_from(timeout=5)
        other_heard = not await other.receive_nothing(timeout=0.5)
        await other.disconnect()
        await mine.disconnect()
        return own_event, other_heard

    own_event, other_heard = async_to_sync(scenario)()
    assert own_event["type"] == "annotation.saved"
    assert other_heard is False
