"""The learning-curves page and its REST twin: the plot (one line per strategy, the 95 % target dashed), the
labels-to-95 % table, the simulation form for ML engineers, and who may see them."""

from __future__ import annotations

import re

import pytest

from atrium.learning.models import LearningCurve
from atrium.learning.simulation_plot import labels_to_target, learning_curves_svg, summary


def curve(study, strategy, scores, *, run="r1", full=0.8, batch=2):
    points = [{"n_labelled": 2 + batch * i, "score": s, "round": i} for i, s in enumerate(scores)]
    return LearningCurve.objects.create(
        study=study, family="segmentation", strategy=strategy, metric="dice", points=points,
        full_data_score=full, params={"run": run, "rounds": len(scores) - 1, "batch": batch, "initial": 2},
    )  # fmt: skip


@pytest.fixture
def run(study):
    # 95 % of 0.8 = 0.76: random reaches it at 10 cases, entropy at 6, coreset never.
    return [
        curve(study, "entropy", [0.3, 0.6, 0.77, 0.79, 0.8]),
        curve(study, "random", [0.3, 0.5, 0.6, 0.7, 0.76]),
        curve(study, "coreset", [0.3, 0.4, 0.5, 0.6, 0.7]),
    ]


def test_labels_to_95pct_is_the_first_count_reaching_95_percent_of_full_data(run):
    by = {c.strategy: c for c in run}
    assert labels_to_target(by["random"]) == 10
    assert labels_to_target(by["entropy"]) == 6
    assert labels_to_target(by["coreset"]) is None
    rows = {r["strategy"]: r for r in summary(run)}
    assert rows["entropy"]["vs_random"] == 0.6 and rows["random"]["vs_random"] == 1.0
    assert rows["coreset"]["vs_random"] is None


def test_the_plot_has_one_line_per_strategy_a_dashed_target_a_legend_and_axis_labels(run):
    svg = learning_curves_svg(run)
    assert svg.count('<polyline class="curve"') == 3
    assert set(re.findall(r'data-strategy="([a-z_]+)"', svg)) == {"random", "entropy", "coreset"}
    assert svg.count('class="target"') == 1 and 'stroke-dasharray="5 4"' in svg
    assert "95 % of full data (0.760)" in svg
    assert svg.count('class="legend"') == 3
    assert "labelled cases" in svg and "validation Dice" in svg
    # the target line sits at y(0.76) on a 0..1 axis: top 20, plot height 360 - 20 - 44 = 296
    y = 20 + (1 - 0.76) * 296
    assert f'y1="{y:.1f}" y2="{y:.1f}"' in svg


def test_an_empty_run_draws_a_placeholder(db):
    assert "No learning curves yet" in learning_curves_svg([])


def test_members_see_the_page_with_the_latest_run(client, people, study, run):
    curve(study, "random", [0.1, 0.2], run="r0")  # an older run, listed but not drawn
    LearningCurve.objects.filter(params__run="r0").update(created_at="2020-01-01T00:00:00Z")
    client.force_login(people.annotator)
    page = client.get(f"/studies/{study.slug}/learning-curves/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('<polyline class="curve"') == 3
    assert 'data-testid="labels-to-95"' in html and "not reached" in html
    assert "?run=r0" in html
    assert 'data-testid="simulate-form"' not in html  # annotators do not start jobs
    older = client.get(f"/studies/{study.slug}/learning-curves/?run=r0").content.decode()
    assert older.count('<polyline class="curve"') == 1
    assert client.get(f"/studies/{study.slug}/learning-curves/?run=nope").status_code == 404
    assert b'data-testid="learning-curves-link"' in client.get(f"/studies/{study.slug}/").content


def test_ml_engineers_get_the_simulation_form_only_when_there_is_ground_truth(client, people, study, run):
    client.force_login(people.ml_engineer)
    html = client.get(f"/studies/{study.slug}/learning-curves/").content.decode()
    assert "Run a simulation" in html and "has no ground truth" in html
    assert 'data-testid="simulate-form"' not in html


def test_outsiders_get_404_admins_see_the_page_and_anonymous_users_log_in(client, people, study, run):
    url = f"/studies/{study.slug}/learning-curves/"
    client.force_login(people.outsider)
    assert client.get(url).status_code == 404
    client.force_login(people.admin)
    assert client.get(url).status_code == 200
    client.logout()
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_api_lists_the_latest_run_for_members_only(api_client, people, study, run):
    url = f"/api/studies/{study.slug}/learning-curves/"
    body = api_client(people.study_lead).get(url).json()
    assert body["study"] == study.slug and [r["run"] for r in body["runs"]] == ["r1"]
    got = {c["strategy"]: c for c in body["curves"]}
    assert list(got) == ["random", "coreset", "entropy"]  # random first, then by name
    assert got["entropy"]["labels_to_95pct"] == 6 and got["coreset"]["labels_to_95pct"] is None
    assert got["random"]["points"][-1] == {"n_labelled": 10, "score": 0.76, "round": 4}
    assert api_client(people.outsider).get(url).status_code == 404
    assert api_client(people.admin).get(url).status_code == 200
    assert api_client().get(url).status_code in (401, 403)
    assert api_client(people.annotator).get(f"{url}?run=missing").json()["curves"] == []
