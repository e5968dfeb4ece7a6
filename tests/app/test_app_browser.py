# SPDX-License-Identifier: Apache-2.0
"""The workstation in headless Chromium (Debian's package, driven by Playwright; no downloads).

Screenshots go to test-artifacts/ (gitignored).
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from conftest import ARTIFACTS, REPO, start_app, stop_app

pytest.importorskip("trame")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright-python not installed")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        yield b
        b.close()


def _open(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(url)
    page.wait_for_selector("#view3d img", state="attached")
    page.wait_for_function("document.querySelector('#pre-gradient') && "
                           "document.querySelector('#pre-gradient').innerText.trim() !== '-'")
    return page


def _view_png(page) -> bytes:
    time.sleep(1.5)  # let the next server-rendered frame arrive
    return page.locator("#view3d").screenshot()


def test_page_loads_and_shows_3d_view(browser, served_view):
    page = _open(browser, served_view.url)
    box = page.locator("#view3d").bounding_box()
    assert box and box["width"] > 200 and box["height"] > 200
    ok = page.wait_for_function(
        "Array.from(document.querySelectorAll('#view3d img')).some("
        "i => i.naturalWidth > 100 && i.src.startsWith('blob:'))")
    assert ok
    assert page.inner_text("#pre-gradient").strip() == "7.50"
    assert "MLD" in page.inner_text("#lesion-table")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "app_loaded.png"))
    page.close()


def test_choosing_another_device_changes_what_is_shown(browser, served_view):
    page = _open(browser, served_view.url)
    before_txt = page.inner_text("#device-shown")
    before_profile = page.get_attribute("#profile-img", "src")
    before_view = _view_png(page)
    # vuetify puts the id on the select's hidden input: open it through its field
    page.locator(".v-select").filter(has=page.locator("#device-select")).click()
    items = page.locator(".v-overlay-container .v-list-item")
    items.first.wait_for()
    assert items.count() >= 2
    items.nth(items.count() - 1).click()
    page.wait_for_function(f"document.querySelector('#device-shown').innerText !== {before_txt!r}")
    assert page.inner_text("#device-shown") != before_txt
    assert page.get_attribute("#profile-img", "src") != before_profile
    assert _view_png(page) != before_view
    page.screenshot(path=str(ARTIFACTS / "app_device_changed.png"))
    page.close()


def test_simulate_round_trip_updates_gradient(browser, tmp_path):
    pytest.importorskip("hemotwin.pipeline")
    case = REPO / "cases" / "cohort_stenosis" / "stenosis_50.toml"
    app = start_app(case, tmp_path, timeout=90)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(app.url)
        page.wait_for_selector("#view3d img", state="attached", timeout=30_000)
        # the case runs first (in the background) and fills the pre column
        page.wait_for_function("document.querySelector('#pre-gradient').innerText.trim() !== '-'",
                               timeout=180_000)
        assert page.inner_text("#post-gradient").strip() == "-"
        t0 = time.monotonic()
        page.click("#simulate-btn")
        page.wait_for_function("document.querySelector('#post-gradient').innerText.trim() !== '-'",
                               timeout=180_000)
        took = time.monotonic() - t0
        post = float(page.inner_text("#post-gradient"))
        pre = float(page.inner_text("#pre-gradient"))
        assert post < pre, (pre, post)
        page.screenshot(path=str(ARTIFACTS / "app_simulated.png"))
        print(f"Simulate round trip: {took:.1f} s (pre {pre} mmHg -> post {post} mmHg)")
        page.close()
    finally:
        stop_app(app)
