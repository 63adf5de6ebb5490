"""Every websocket route against every role: members join, everyone else is refused with a close code.

Columns: anonymous, outsider, annotator, annotator2, ml_engineer, study_lead, admin; True = accepted,
an int = refused with that close code. A route without a row fails the completeness test.
"""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from annotation_ui.routing import websocket_urlpatterns
from tests.factories import CaseFactory, SeriesFactory
from tests.platform.security.world import ROLES

OK = True
#                                           anon  out   ann ann2 mle lead adm
WEBSOCKET_RULES: dict[str, tuple[object, ...]] = {
    "ws/cases/<int:case_id>/": (4403, 4403, OK, OK, OK, OK, OK),
    "ws/queue/": (4401, OK, OK, OK, OK, OK, OK),
    "ws/jobs/<int:job_id>/": (4403, 4403, OK, OK, OK, OK, OK),
}


def test_every_websocket_route_has_a_row():
    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes - set(WEBSOCKET_RULES) == set(), "websocket routes without a row"
    assert set(WEBSOCKET_RULES) - routes == set(), "rows for websocket routes that do not exist"


async def _connect(path: str, user: object) -> tuple[bool, object]:
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), path)
    comm.scope["user"] = user
    connected, code = await comm.connect(timeout=5)
    if connected:
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        await comm.disconnect()
    return connected, code


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("route", sorted(WEBSOCKET_RULES))
def test_each_role_is_accepted_or_refused_as_the_table_says(route, people, study):
    from atrium.learning.models import Job

    case = CaseFactory(study=study, series=SeriesFactory())
    job = Job.objects.create(kind="train", study=study, created_by=people.ml_engineer)
    path = "/" + route.replace("<int:case_id>", str(case.pk)).replace("<int:job_id>", str(job.pk))
    users = {"anonymous": AnonymousUser(), **people.all()}
    wrong = []
    for role, expected in zip(ROLES, WEBSOCKET_RULES[route], strict=True):
        connected, code = async_to_sync(_connect)(path, users[role])
        got = True if connected else code
        if got != expected:
            wrong.append(f"{role}: expected {expected}, got {got}")
    assert not wrong, f"{route}:\n" + "\n".join(wrong)


@pytest.mark.django_db(transaction=True)
def test_a_reader_removed_from_the_study_can_no_longer_open_its_case_socket(people, study):
    from atrium.accounts.models import StudyMembership
    from atrium.accounts.services import remove_member

    case = CaseFactory(study=study, series=SeriesFactory())
    path = f"/ws/cases/{case.pk}/"
    assert async_to_sync(_connect)(path, people.annotator2)[0]
    remove_member(membership=StudyMembership.objects.get(user=people.annotator2, study=study))
    assert async_to_sync(_connect)(path, people.annotator2) == (False, 4403)
