"""The demo page in a real browser: Debian's Chromium driven by Playwright.

The page is loaded from 127.0.0.1 and told to call the service at localhost, so the
browser makes cross-origin hook calls (CORS preflight included), as an EHR page would.
Screenshots go to test-output/ (or $TEST_OUTPUT). Skipped only when Chromium is missing
on a developer's machine; under CI a missing browser fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.cards import patient_view_cards
from tests.conftest import ROOT
from tests.http.test_real_process import Live, running_service
from tests.test_cards import evaluation_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("TEST_OUTPUT", ROOT / "test-output"))
# Flags for a closed network (no background calls home) and root in a sandbox.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _browser_available() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must have Chromium at {CHROMIUM} (.ci/run installs it)")
    pytest.skip(f"Chromium is not installed ({CHROMIUM}); apt-get install -y chromium")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    _browser_available()
    with running_service(tmp_path_factory.mktemp("demo")) as service:
        yield service


@pytest.fixture(scope="module")
def page(live: Live) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1200, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.errors = errors
        yield page
        browser.close()


def open_patient(page: Any, live: Live, patient: str) -> None:
    port = live.base.rsplit(":", 1)[1]
    page.goto(f"{live.base}/demo?service=http://localhost:{port}")
    page.wait_for_selector("#patient-select option[value='third-line']", state="attached")
    page.select_option("#patient-select", patient)
    page.wait_for_function(
        "name => document.querySelector('#status').textContent.startsWith('Showing')"
        " || document.querySelector('#status').classList.contains('error')",
        arg=patient,
    )
    assert "error" not in (page.get_attribute("#status", "class") or ""), page.inner_text("#status")


def summaries(scenario: str) -> list[str]:
    return [c["summary"] for c in patient_view_cards(evaluation_of(scenario))]


def test_decision_point_patient_shows_timeline_interval_and_cards(page: Any, live: Live) -> None:
    """third-line: two line bars, 147-day interval (tests/expected/README.md), ten cards."""
    open_patient(page, live, "third-line")
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / "demo-third-line.png"), full_page=True)
    assert page.locator("#timeline rect.bar").count() == 2
    assert page.locator("#timeline rect.bar-maintenance").count() == 1
    assert page.text_content("#pfi-label") == "Platinum-free interval: 147 days (sensitive)"
    shown = page.locator("#cards .card .summary").all_inner_texts()
    assert shown == summaries("third-line")
    assert len(shown) == 10
    assert "Third" in page.inner_text("#patient-header")
    assert page.errors == []


def test_first_line_patient_shows_one_bar_and_only_the_summary_card(page: Any, live: Live) -> None:
    """ongoing-first-line: one bar, no interval yet, one summary card."""
    open_patient(page, live, "ongoing-first-line")
    page.screenshot(path=str(OUTPUT / "demo-ongoing-first-line.png"), full_page=True)
    assert page.locator("#timeline rect.bar").count() == 1
    assert page.locator("#pfi-label").count() == 0
    shown = page.locator("#cards .card .summary").all_inner_texts()
    assert shown == summaries("ongoing-first-line")
    assert len(shown) == 1 and "line 1 ongoing" in shown[0]
    assert "No progression after the last platinum line" in page.inner_text("#timeline")
    assert page.errors == []


def test_a_pasted_bundle_is_shown_like_a_fixture(page: Any, live: Live) -> None:
    """A bundle made by the generator, pasted: sensitive relapse 219 days after Mar 10."""
    import json

    from service.synth import PatientSpec, bundle_for, parse_regimen

    bundle = bundle_for(
        PatientSpec(
            id="pasted-patient",
            regimens=(parse_regimen("carboplatin+etoposide@2025-01-06x4"),),
            progressions=(date(2025, 10, 15),),
        )
    )
    page.goto(f"{live.base}/demo")
    page.click("details.paste > summary")
    page.fill("#bundle-text", json.dumps(bundle))
    page.click("#bundle-run")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Showing')")
    assert "Pasted Patient" in page.inner_text("#patient-header")
    assert page.locator("#timeline rect.bar").count() == 1
    assert page.text_content("#pfi-label") == "Platinum-free interval: 219 days (sensitive)"
    assert page.locator("#cards .card").count() > 1
