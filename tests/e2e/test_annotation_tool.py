"""End to end in Debian's headless Chromium, driven by Playwright (no browser download)."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
BUNDLE = Path(__file__).resolve().parents[2] / "annotation_ui" / "static" / "annotation_ui" / "app.js"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def browser():
    if not BUNDLE.exists():
        pytest.fail(
            "the front end is not built: run `cd frontend && npm ci && npm run build` (make test does)"
        )
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the tests' own ORM calls are
    # ordinary synchronous code, so Django's async-safety guard is lifted while this module runs.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            instance = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
            yield instance
            instance.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    from atrium.imaging.demo_data import make_demo_data

    root = tmp_path_factory.mktemp("e2e-demo")
    make_demo_data(root, seed=5, n_cardiac=1, n_ultrasound=1, size=64)
    return root


def make_study(slug, kind, folder, users, *, blind=False):
    from atrium.accounts.services import add_member
    from atrium.imaging.services import ingest_sources
    from atrium.imaging.sources import iter_sources
    from atrium.studies.services import create_study

    study = create_study(slug=slug, name=slug, task_kind=kind, blind=blind, reads_per_case=2)
    report = ingest_sources(study=study, sources=iter_sources(folder))
    assert not report.errors, report.errors
    for user in users:
        add_member(user=user, study=study)
    return study


@pytest.fixture
def readers(db):
    from atrium.accounts.services import create_user

    return [create_user(username=n, password=f"{n}-pass-123", role="annotator") for n in ("ana", "ben")]


def login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def open_case(page, base, case_id):
    page.goto(f"{base}/cases/{case_id}/")
    page.wait_for_selector("#atrium-app[data-ready=true]", timeout=30000)
    page.wait_for_selector("[data-testid=viewport]")


def draw_circle(page, cx, cy, r):
    page.mouse.move(cx + r, cy)
    page.mouse.down()
    for i in range(1, 41):
        angle = 2 * math.pi * i / 40
        page.mouse.move(cx + r * math.cos(angle), cy + r * math.sin(angle))
    page.mouse.up()


def test_an_annotator_draws_an_lv_contour_that_survives_a_reload(browser, live_server, readers, demo_root):
    study = make_study("e2e-cardiac", "cardiac", demo_root / "cardiac", readers)
    case = study.cases.get()
    page = browser.new_page()
    login(page, live_server.url, "ana")
    open_case(page, live_server.url, case.pk)
    page.click("[data-testid=structure-lv_endo]")
    box = page.locator("[data-testid=viewport]").bounding_box()
    draw_circle(
        page, box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, min(box["width"], box["height"]) / 8
    )
    from playwright.sync_api import expect

    expect(page.locator("[data-testid=save-status]")).to_contain_text("saved", timeout=15000)
    from atrium.annotations.models import Annotation

    saved = Annotation.objects.get(case=case, kind="contour")
    assert saved.author.username == "ana" and saved.data["structure"] == "lv_endo"
    assert len(saved.data["points"]) >= 3
    page.reload()
    page.wait_for_selector("#atrium-app[data-ready=true]", timeout=30000)
    page.wait_for_selector("[data-testid=contour-lv_endo]", state="attached", timeout=15000)
    page.close()


def test_a_second_observer_in_a_blind_study_cannot_see_the_first_observers_contour(
    browser, live_server, readers, demo_root
):
    from atrium.annotations.services import create_annotation

    study = make_study("e2e-blind", "cardiac", demo_root / "cardiac", readers, blind=True)
    case = study.cases.get()
    create_annotation(
        case=case,
        author=readers[0],
        kind="contour",
        data={
            "structure": "lv_endo",
            "slice": 0,
            "phase": 0,
            "points": [[10, 10], [30, 10], [30, 30], [10, 30]],
        },
    )
    page = browser.new_page()
    login(page, live_server.url, "ben")
    open_case(page, live_server.url, case.pk)
    page.wait_for_timeout(500)
    assert page.locator("[data-testid=other-contour-lv_endo]").count() == 0
    assert page.locator("[data-testid=contour-lv_endo]").count() == 0
    api = page.request.get(f"{live_server.url}/api/cases/{case.pk}/annotations/")
    assert api.status == 200 and api.json() == []
    page.close()


def test_an_annotator_labels_an_ultrasound_frame_range(browser, live_server, readers, demo_root):
    study = make_study("e2e-fetal", "ultrasound", demo_root / "ultrasound", readers)
    case = study.cases.get()
    page = browser.new_page()
    login(page, live_server.url, "ana")
    open_case(page, live_server.url, case.pk)
    page.wait_for_selector("[data-testid=frame-label-form]")
    page.select_option("[data-testid=plane-select]", value="4CH")
    page.fill("[data-testid=range-start]", "3")
    page.fill("[data-testid=range-end]", "9")
    page.click("[data-testid=label-submit]")
    page.wait_for_selector("[data-testid=label-item][data-plane='4CH']", timeout=15000)
    from atrium.annotations.models import Annotation
    from tests.conftest import wait_for

    saved = wait_for(lambda: Annotation.objects.filter(case=case, kind="plane_label").first(), timeout=10)
    assert saved is not None and saved.data == {"plane": "4CH", "frame_start": 2, "frame_stop": 8}
    page.close()


def test_an_ml_engineer_promotes_an_adapted_version_and_rolls_it_back(browser, live_server, demo_root):
    from atrium.accounts.services import create_user
    from atrium.learning.models import ModelVersion
    from atrium.learning.registry import promote, register_model_version
    from ml.segmentation.fcn import FCN, tiny

    engineer = create_user(username="eve", password="eve-pass-123", role="ml_engineer")
    study = make_study("e2e-versions", "cardiac", demo_root / "cardiac", [engineer])
    config = {"arch": "fcn", "model": tiny().to_dict()}
    v1 = register_model_version(
        study=study, family="segmentation", model=FCN(tiny()), config=config, training_set=[],
        metrics={"dice_mean": 0.8},
    )  # fmt: skip
    promote(version=v1)
    v2 = register_model_version(
        study=study, family="segmentation", model=FCN(tiny()),
        config={**config, "adapted_to": {"vendor": "GE"}}, training_set=[], metrics={"dice_mean": 0.7}, parent=v1,
    )  # fmt: skip
    page = browser.new_page()
    login(page, live_server.url, "eve")
    page.goto(f"{live_server.url}/studies/{study.slug}/")
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    row = page.locator(f"tr[data-version='{v2.pk}']")
    assert "vendor GE" in row.inner_text() and "Dice 0.700" in row.inner_text()
    row.get_by_role("button", name="Promote").click()
    page.wait_for_selector(f"tr[data-version='{v2.pk}'] .version-rollback")
    assert dialogs and "adapted to vendor GE" in dialogs[0]  # asked first: it will serve every site
    assert ModelVersion.objects.get(pk=v2.pk).promoted
    page.locator(f"tr[data-version='{v2.pk}'] .version-rollback").click()
    page.wait_for_selector(f"tr[data-version='{v1.pk}'] .version-rollback")
    assert ModelVersion.objects.get(pk=v1.pk).promoted and not ModelVersion.objects.get(pk=v2.pk).promoted
    page.close()
