"""The demo and the SMART app in a real browser: Debian's Chromium driven by Playwright.

Against `sclc-cds serve` (two workers: the launch's codes and tokens must work across
them): picking a patient on /demo launches the SMART app on the fixture EHR (/fhir),
and a `smart` card link opens it, from the demo page and from the real CDS Hooks
sandbox (../shared/cds-hooks/sandbox-build): launch → authorize → token → the app's
timeline for that patient; over https, inside the frame of an EHR page of another
site as well. A refused authorization, a wrong iss and an expired session each show a
clear message. A pasted bundle is still shown on /demo, with its cards from
the hook called cross-origin (127.0.0.1 page, localhost service: CORS preflight
included). Screenshots go to test-output/ (or $TEST_OUTPUT). Skipped only when Chromium
is missing on a developer's machine; under CI a missing browser fails.
"""

from __future__ import annotations

import functools
import html
import json
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import FIXTURES, ROOT, SHARED
from tests.http.support import fixture_bundle, hook_request
from tests.http.test_exposure import self_signed
from tests.http.test_real_process import Live, running_service
from tests.test_cards import cards_of

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
OUTPUT = Path(os.environ.get("TEST_OUTPUT", ROOT / "test-output"))
SANDBOX = SHARED / "cds-hooks" / "sandbox-build"
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
WAIT_MS = 20_000
EXPIRED = "Your session has expired; launch the app again from the EHR."


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
def browser(live: Live) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def _watched(page: Any) -> Any:
    """`page` with `page.errors`: its script errors and console errors."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.errors = errors
    return page


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page of its own browser context: no cookie (no session) from another test."""
    context = browser.new_context(viewport={"width": 1200, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    context.on("page", _watched)  # popups (a smart link's new window) too
    yield _watched(context.new_page())
    context.close()


@pytest.fixture
def browser_page_1440(browser: Any) -> Iterator[Any]:
    """A page 1,440 px wide, the width the sandbox page height is measured at."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(WAIT_MS)
    yield _watched(context.new_page())
    context.close()


def sandbox_style_request(live: Live, scenario: str) -> dict[str, Any]:
    """patient-view for a fixture, prefetched as a client would (for the expected cards)."""
    del live
    return hook_request(bundle=fixture_bundle(scenario))


def wait_for_app(page: Any) -> None:
    """The app's page has read the record (or said why not); it must have read it."""
    page.wait_for_url("**/app/view")
    page.wait_for_function(
        "document.querySelector('#status').textContent.startsWith('Showing')"
        " || document.querySelector('#status').classList.contains('error')"
    )
    assert "error" not in (page.get_attribute("#status", "class") or ""), page.inner_text("#status")


def launch_from_demo(page: Any, live: Live, patient: str) -> None:
    page.goto(f"{live.base}/demo")
    page.wait_for_selector(f"#patient-select option[value='{patient}']", state="attached")
    page.select_option("#patient-select", patient)
    wait_for_app(page)


def summaries(scenario: str) -> list[str]:
    return [c["summary"] for c in cards_of(scenario)]


def shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def message_of(page: Any) -> str:
    page.wait_for_selector("#message-title")
    return str(page.inner_text("#message-title"))


def test_picking_a_patient_launches_the_app_with_timeline_options_and_prescreen(
    page: Any, live: Live
) -> None:
    """third-line from /demo: the app shows two line bars, the 147-day interval
    (tests/expected/README.md), the summary, every ranked option and the pre-screen."""
    launch_from_demo(page, live, "third-line")
    shot(page, "app-third-line")
    assert "Third" in page.inner_text("#patient-header")
    assert page.locator("#timeline rect.bar").count() == 2
    assert page.locator("#timeline rect.bar-maintenance").count() == 1
    assert page.text_content("#pfi-label") == "Platinum-free interval: 147 days (sensitive)"
    expected = summaries("third-line")
    assert page.locator("#summary .card .summary").all_inner_texts() == expected[:1]
    assert page.locator("#cards .card .summary").all_text_contents() == expected[1:]
    options = page.locator("#options .option")
    assert options.count() >= 5
    assert options.first.locator("h4", has_text="Evidence").count() == 1
    assert options.first.locator("h4", has_text="Sources").count() == 1
    assert page.locator("#trials table.prescreen tbody tr").count() >= 5
    assert page.errors == []


def test_a_first_line_patient_shows_one_bar_and_no_interval(page: Any, live: Live) -> None:
    """ongoing-first-line: one bar, no interval yet, only the summary card, no options."""
    launch_from_demo(page, live, "ongoing-first-line")
    shot(page, "app-ongoing-first-line")
    assert page.locator("#timeline rect.bar").count() == 1
    assert page.locator("#pfi-label").count() == 0
    assert page.locator("#summary .card .summary").all_inner_texts() == summaries(
        "ongoing-first-line"
    )
    assert "No progression after the last platinum line" in page.inner_text("#timeline")
    assert page.locator("#options-panel").is_hidden()
    assert page.errors == []


def test_a_pasted_bundle_is_shown_on_the_demo_page(page: Any, live: Live) -> None:
    """A generated bundle, pasted, its cards from the hook on another origin: sensitive
    relapse 219 days after Mar 10."""
    from service.demo.synth import PatientSpec, bundle_for, parse_regimen

    bundle = bundle_for(
        PatientSpec(
            id="pasted-patient",
            regimens=(parse_regimen("carboplatin+etoposide@2025-01-06x4"),),
            progressions=(date(2025, 10, 15),),
        )
    )
    port = live.base.rsplit(":", 1)[1]
    page.goto(f"{live.base}/demo?service=http://localhost:{port}")
    page.click("details.paste > summary")
    page.fill("#bundle-text", json.dumps(bundle))
    page.click("#bundle-run")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Showing')")
    assert "Pasted Patient" in page.inner_text("#patient-header")
    assert page.locator("#timeline rect.bar").count() == 1
    assert page.text_content("#pfi-label") == "Platinum-free interval: 219 days (sensitive)"
    assert page.locator("#summary .card").count() == 1
    assert page.locator("#cards .card").count() >= 1
    assert page.errors == []


def test_a_smart_card_link_on_the_demo_page_opens_the_app(page: Any, live: Live) -> None:
    """The summary card's smart link (a fixture patient's bundle pasted): the demo EHR
    asks /fhir for a launch id and opens the app, which shows that patient's timeline."""
    page.goto(f"{live.base}/demo")
    page.click("details.paste > summary")
    page.fill("#bundle-text", (FIXTURES / "third-line.json").read_text(encoding="utf-8"))
    page.click("#bundle-run")
    page.wait_for_function("document.querySelector('#status').textContent.startsWith('Showing')")
    with page.expect_popup() as opened:
        page.click("#summary .card a.smart-link")
    app = opened.value
    wait_for_app(app)
    assert "Third" in app.inner_text("#patient-header")
    assert app.locator("#timeline rect.bar").count() == 2
    assert app.errors == []


@contextmanager
def served(handler: Callable[..., BaseHTTPRequestHandler]) -> Iterator[int]:
    """`handler` answering on a free port of 127.0.0.1 until the block ends: the port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    """The real CDS Hooks sandbox build, served as static files on a free port."""
    if not (SANDBOX / "index.html").is_file():
        pytest.skip(f"{SANDBOX} is absent: the sandbox build lives in ../shared")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    with served(functools.partial(Quiet, directory=str(SANDBOX))) as port:
        yield f"http://127.0.0.1:{port}"


def test_the_sandboxs_smart_card_link_launches_the_app_for_that_patient(
    page: Any, live: Live, sandbox: str
) -> None:
    """The CDS Hooks sandbox on the fixture EHR: card link → POST _services/smart/Launch
    → launch → authorize → token → the app shows third-line's timeline."""
    page.goto(
        f"{sandbox}/?fhirServiceUrl={live.base}/fhir&patientId=third-line"
        f"&serviceDiscoveryURL={live.base}/cds-services"
    )
    link = page.get_by_text("Open relapse timeline").first
    link.wait_for()
    shot(page, "sandbox-third-line")
    with page.expect_popup() as opened:
        link.click()
    app = opened.value
    wait_for_app(app)
    shot(app, "sandbox-app-third-line")
    assert app.url == f"{live.base}/app/view"
    assert "Third" in app.inner_text("#patient-header")
    assert app.locator("#timeline rect.bar").count() == 2
    assert app.errors == []


def test_a_refused_authorization_shows_a_clear_message(page: Any, live: Live) -> None:
    """Standalone launch from /app/, refused on the demo EHR's page: the app says so."""
    page.goto(f"{live.base}/app/")
    page.click("form button[type=submit]")
    page.wait_for_selector("#deny")
    page.click("#deny")
    assert message_of(page) == "The EHR did not authorize the app."
    shot(page, "app-refused")
    assert page.errors == [] or all("403" in e for e in page.errors)


def test_a_wrong_iss_and_no_session_show_clear_messages(page: Any, live: Live) -> None:
    """An iss the app may not use, and /app/view without a session: messages, not blank."""
    page.goto(f"{live.base}/app/launch?iss=http://127.0.0.1:9/fhir")
    assert message_of(page) == "This FHIR server is not one this app may use."
    page.goto(f"{live.base}/app/view")
    assert message_of(page) == EXPIRED


def test_an_expired_token_on_the_open_page_is_said_in_the_page(page: Any, live: Live) -> None:
    """The record's API answers 401 (the token expired while the page was open): the page
    says the session has expired instead of drawing nothing."""
    launch_from_demo(page, live, "third-line")
    page.route(
        "**/app/api/record",
        lambda route: route.fulfill(
            status=401,
            content_type="application/json",
            body=json.dumps(
                {
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "login", "diagnostics": EXPIRED}],
                }
            ),
        ),
    )
    page.reload()
    page.wait_for_function("document.querySelector('#status').classList.contains('error')")
    assert page.inner_text("#status") == EXPIRED
    assert page.locator("#chart").is_hidden()


@pytest.mark.parametrize(
    "scenario", ["third-line", "sensitive-late-relapse", "trial-eligible", "undated-tarlatamab"]
)
def test_a_decision_point_in_the_sandbox_is_three_cards_on_one_screenful(
    browser_page_1440: Any, live: Live, sandbox: str, scenario: str
) -> None:
    """Issue 10: at most three cards, each shown, the page ≤ 2,500 px tall at 1,440 px wide,
    and every link of the cards answers (the service's own evidence and source pages)."""
    cards = requests.post(
        f"{live.base}/cds-services/sclc-relapse-patient-view",
        json=sandbox_style_request(live, scenario),
        timeout=30,
    ).json()["cards"]
    assert 2 <= len(cards) <= 3
    page = browser_page_1440
    page.goto(
        f"{sandbox}/?fhirServiceUrl={live.base}/fhir&patientId={scenario}"
        f"&serviceDiscoveryURL={live.base}/cds-services"
    )
    for card in cards:
        page.get_by_text(card["summary"], exact=False).first.wait_for()
    page.wait_for_timeout(300)
    shot(page, f"sandbox-1440-{scenario}")
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height <= 2500, height
    for card in cards:
        urls = [card["source"]["url"], *(x["url"] for x in card.get("links", []))]
        for url in urls:
            if url.startswith(live.base) and "/app/launch" not in url:
                assert requests.get(url, timeout=10).status_code == 200, url


@pytest.fixture(scope="module")
def live_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, Path]]:
    """The service speaking https itself, and its (self-signed) certificate."""
    _browser_available()
    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(folder)
    with running_service(
        folder,
        SCLC_CDS_TLS_CERT=str(cert),
        SCLC_CDS_TLS_KEY=str(key),
        scheme="https",
        verify=str(cert),
    ) as service:
        yield service, cert


@contextmanager
def ehr_page_framing(url: str) -> Iterator[str]:
    """An EHR's page on another site (http://localhost:…, the app being on 127.0.0.1)
    that shows `url` in a frame, as web EHRs embed SMART apps."""
    page = (
        "<!doctype html><title>EHR</title><h1>Chart</h1>"
        f'<iframe id="app" src="{html.escape(url)}" width="1100" height="900"></iframe>'
    ).encode()

    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, format: str, *args: Any) -> None:
            del format, args

    with served(Page) as port:
        yield f"http://localhost:{port}/"


def test_the_app_launches_inside_an_ehrs_cross_site_frame_over_https(
    browser: Any, live_tls: tuple[Live, Path]
) -> None:
    """An EHR page of another site frames the app's launch URL: over https the app's
    session cookie (SameSite=None, Secure, Partitioned) survives launch → authorize →
    callback inside the frame, and the frame shows third-line's timeline."""
    live, certificate = live_tls
    launch = requests.post(
        f"{live.base}/fhir/_services/smart/Launch",
        json={"launchUrl": f"{live.base}/app/launch", "parameters": {"patient": "third-line"}},
        timeout=10,
        verify=str(certificate),
    ).json()["launch_id"]
    url = f"{live.base}/app/launch?launch={launch}&iss={live.base}/fhir"
    context = browser.new_context(
        viewport={"width": 1200, "height": 1000}, ignore_https_errors=True
    )
    context.set_default_timeout(WAIT_MS)
    try:
        ehr = _watched(context.new_page())
        with ehr_page_framing(url) as ehr_url:
            ehr.goto(ehr_url)
            frame = ehr.frame_locator("#app")
            frame.locator("#status").filter(has_text="Showing").wait_for()
            assert "Third" in frame.locator("#patient-header").inner_text()
            assert frame.locator("#timeline rect.bar").count() == 2
            OUTPUT.mkdir(parents=True, exist_ok=True)
            ehr.screenshot(path=str(OUTPUT / "app-in-ehr-frame.png"), full_page=True)
        app = next(f for f in ehr.frames if f.url.startswith(live.base))
        assert app.url == f"{live.base}/app/view"
        cookie = next(c for c in context.cookies() if c["domain"] == "127.0.0.1")
        assert (cookie["sameSite"], cookie["secure"]) == ("None", True)
        assert ehr.errors == []
    finally:
        context.close()
