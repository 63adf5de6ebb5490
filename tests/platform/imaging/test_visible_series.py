"""visible_series (one plain query) answers what the ORM's series_visible_to answers, for every kind of user."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from atrium.accounts.services import add_member, create_user
from atrium.imaging.selectors import series_visible_to, visible_series
from tests.factories import CaseFactory, SeriesFactory, StudyFactory


@pytest.fixture
def world(db):
    """Two studies; series in one, in both, in none; users in one, in both, in none, and admins."""
    first = StudyFactory(slug="first")
    second = StudyFactory(slug="second")
    only_first = SeriesFactory(shape=[2, 4, 4], dtype="uint8")
    shared = SeriesFactory(shape=[2, 4, 4], dtype="uint8")
    only_second = SeriesFactory(shape=[2, 4, 4], dtype="uint8")
    orphan = SeriesFactory(shape=[2, 4, 4], dtype="uint8")
    CaseFactory(study=first, series=only_first)
    CaseFactory(study=first, series=shared)
    CaseFactory(study=second, series=shared)
    CaseFactory(study=second, series=only_second)
    users = {
        "first": create_user(username="f", password="f-password", role="annotator"),
        "both": create_user(username="b", password="b-password", role="study_lead"),
        "none": create_user(username="n", password="n-password", role="ml_engineer"),
        "admin": create_user(username="a", password="a-password", role="admin"),
        "superuser": create_user(username="s", password="s-password", role="annotator"),
    }
    users["superuser"].is_superuser = True
    users["superuser"].save()
    add_member(user=users["first"], study=first)
    add_member(user=users["both"], study=first)
    add_member(user=users["both"], study=second)
    series = {"only_first": only_first, "shared": shared, "only_second": only_second, "orphan": orphan}
    return users, series


def test_the_plain_query_agrees_with_the_orm_for_every_user_and_series(world):
    users, series = world
    ids = [s.pk for s in series.values()] + [max(s.pk for s in series.values()) + 100]
    for user in users.values():
        for series_id in ids:
            expected = series_visible_to(user).filter(pk=series_id).first()
            assert visible_series(user, series_id) == expected, (user.username, series_id)


def test_hand_checked_cases(world):
    users, series = world
    seen = {name: {key for key, s in series.items() if visible_series(u, s.pk)} for name, u in users.items()}
    assert seen["first"] == {"only_first", "shared"}
    assert seen["both"] == {"only_first", "shared", "only_second"}
    assert seen["none"] == set()
    assert seen["admin"] == seen["superuser"] == set(series)  # orphans included
    assert visible_series(AnonymousUser(), series["shared"].pk) is None


def test_the_series_comes_back_whole(world):
    users, series = world
    found = visible_series(users["first"], series["only_first"].pk)
    assert found is not None
    assert found.shape == [2, 4, 4] and found.n_frames == 2 and found.frame_shape == (4, 4)
    assert found.store_key == series["only_first"].store_key
