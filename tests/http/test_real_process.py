"""A real `sclc-cds serve` (gunicorn) on 127.0.0.1, called over HTTP.

One process serves this module's tests (module fixture); the restart test starts two
more on one feedback database. Every process is started on a free port, polled on
/healthz, and always terminated by the test that started it.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from tests.cds_conformance import assert_conforms
from tests.http.conftest import AppFactory
from tests.http.fhir_server import FhirServer
from tests.http.support import (
    SERVICE_IDS,
    TODAY,
    check_exchange,
    fixture_bundle,
    free_port,
    hook_request,
    patient_of,
    without_uuids,
)

SCLC_CDS = Path(sys.executable).with_name("sclc-cds")
PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
MAX_BODY = 256 * 1024
START_SECONDS = 30
TOKEN = "live-token-2b9e"  # noqa: S105 - a fake token of the tests


@dataclass(frozen=True)
class Live:
    """A running service: its base URL and the file its stderr goes to."""

    base: str
    log: Path

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One request, its response checked like every response of the suite."""
        response = requests.request(method, self.base + path, timeout=30, **kwargs)
        check_exchange(
            method,
            urlsplit(response.url).path,
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
        )
        return response


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the gunicorn master (it stops its workers), SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    try:  # the workers are in the process group the test created; none may outlive it
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def running_service(
    folder: Path,
    *,
    host: str = "127.0.0.1",
    scheme: str = "http",
    verify: str | bool = True,
    **env: str,
) -> Iterator[Live]:
    """`sclc-cds serve` on a free port until the block ends (called on 127.0.0.1)."""
    port = free_port()
    log = folder / f"serve-{port}.log"
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCLC_CDS_")}
    environ.update(
        SCLC_CDS_TODAY=TODAY,
        SCLC_CDS_FEEDBACK_DB=str(folder / "feedback.sqlite3"),
        SCLC_CDS_MAX_BODY_BYTES=str(MAX_BODY),
        **env,
    )
    command = [str(SCLC_CDS), "serve", "--host", host, "--port", str(port), "--workers", "2"]
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command, env=environ, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True
        )
    try:
        base = f"{scheme}://127.0.0.1:{port}"
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"sclc-cds serve exited with {process.returncode}: {log.read_text()}")
            try:
                if requests.get(base + "/healthz", timeout=1, verify=verify).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /healthz within {START_SECONDS} s: {log.read_text()}")
            time.sleep(0.1)
        yield Live(base, log)
    finally:
        _stop(process)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with running_service(tmp_path_factory.mktemp("live")) as service:
        yield service


def test_healthz_over_http(live: Live) -> None:
    """The real server is up and answers JSON."""
    assert live.call("GET", "/healthz").json() == {"status": "ok"}


def test_discovery_and_preflight_over_http(live: Live) -> None:
    """Discovery conforms; the browser preflight of a service is answered by gunicorn too."""
    assert {s["id"] for s in live.call("GET", "/cds-services").json()["services"]} == set(
        SERVICE_IDS.values()
    )
    preflight = live.call(
        "OPTIONS",
        PATIENT_VIEW,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"


def test_every_service_answers_over_http(live: Live, make_app: AppFactory) -> None:
    """Each hook with prefetch: 200, and the cards the in-process app gives."""
    local = make_app(BASE_URL=live.base).test_client()  # the same links as the live cards
    for hook, service_id in SERVICE_IDS.items():
        request = hook_request(hook)
        response = live.call("POST", f"/cds-services/{service_id}", json=request)
        assert response.status_code == 200
        expected = local.post(f"/cds-services/{service_id}", json=request).json["cards"]
        assert without_uuids(response.json()["cards"]) == without_uuids(expected)


def test_the_fhir_server_gives_the_same_cards_over_http(tmp_path: Path) -> None:
    """No prefetch: the real service, allowed the test's FHIR server by
    SCLC_CDS_FHIR_SERVERS, reads it with the bearer token."""
    with (
        FhirServer(fixture_bundle(), token=TOKEN, page_size=2) as server,
        running_service(tmp_path, SCLC_CDS_FHIR_SERVERS=server.base_url) as live,
    ):
        with_prefetch = live.call("POST", PATIENT_VIEW, json=hook_request()).json()["cards"]
        request = hook_request(prefetch={}, fhirServer=server.base_url)
        request["fhirAuthorization"] = {
            "access_token": TOKEN,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "sclc-relapse-cds",
        }
        response = live.call("POST", PATIENT_VIEW, json=request)
    assert response.status_code == 200
    assert response.json()["cards"] == with_prefetch
    assert server.seen and {s.authorization for s in server.seen} == {f"Bearer {TOKEN}"}


def test_errors_over_http_are_json(live: Live) -> None:
    """412, 400, 404, 405 and 413 from gunicorn are OperationOutcomes, never HTML."""
    assert live.call("POST", PATIENT_VIEW, json=hook_request(prefetch={})).status_code == 412
    bad_json = live.call(
        "POST", PATIENT_VIEW, data="{", headers={"Content-Type": "application/json"}
    )
    assert bad_json.status_code == 400
    wrong_type = live.call("POST", PATIENT_VIEW, data="{}", headers={"Content-Type": "text/plain"})
    assert wrong_type.status_code == 400
    assert live.call("POST", "/cds-services/unknown", json={}).status_code == 404
    assert live.call("GET", PATIENT_VIEW).status_code == 405
    oversized = live.call(
        "POST",
        PATIENT_VIEW,
        data=b"{" + b" " * MAX_BODY + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert oversized.status_code == 413


def test_the_real_process_logs_one_json_line_per_call_without_phi(live: Live) -> None:
    """stderr holds a hook line for a call, and not the patient's id."""
    request = hook_request()
    live.call("POST", PATIENT_VIEW, json=request)
    deadline = time.monotonic() + 5
    while request["hookInstance"] not in live.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    text = live.log.read_text()
    line = next(json.loads(x) for x in text.splitlines() if request["hookInstance"] in x)
    assert (line["event"], line["service"], line["status"]) == (
        "hook",
        SERVICE_IDS["patient-view"],
        200,
    )
    assert patient_of(fixture_bundle())["id"] not in text


def test_feedback_survives_a_restart(tmp_path: Path) -> None:
    """Stored feedback is still there after the process restarts; a redelivery is not re-stored."""
    item = {
        "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
        "outcome": "overridden",
        "overrideReason": {
            "reason": {"code": "not-suitable", "system": "urn:sclc-relapse-cds:override-reason"}
        },
        "outcomeTimestamp": "2026-11-21T10:05:31Z",
    }
    body = {"feedback": [item]}
    assert_conforms("FeedbackRequest", body)
    path = f"{PATIENT_VIEW}/feedback"
    with running_service(tmp_path) as first:
        assert first.call("POST", path, json=body).json() == {"received": 1, "stored": 1}
    with running_service(tmp_path) as second:
        assert second.call("POST", path, json=body).json() == {"received": 1, "stored": 0}
        later = {"feedback": [{**item, "outcomeTimestamp": "2026-11-22T08:00:00Z"}]}
        assert second.call("POST", path, json=later).json() == {"received": 1, "stored": 1}
    with closing(sqlite3.connect(tmp_path / "feedback.sqlite3")) as connection:
        stored = connection.execute(
            "SELECT card, outcome_timestamp FROM feedback ORDER BY id"
        ).fetchall()
    assert stored == [
        (item["card"], "2026-11-21T10:05:31+00:00"),
        (item["card"], "2026-11-22T08:00:00+00:00"),
    ]


def test_service_fills_prefetch_from_its_own_fhir_endpoint(live: Live) -> None:
    """No prefetch, fhirServer = the service's /fhir (no SCLC_CDS_FHIR_SERVERS, no
    fhirAuthorization): it reads it in process, same cards."""
    from service.cards import patient_view_cards
    from tests.test_cards import evaluation_of

    body = {
        "hook": "patient-view",
        "hookInstance": "5f1d7c7e-7c1a-4d0b-9a55-3f3f0e1c2b10",
        "fhirServer": f"{live.base}/fhir",
        "context": {"userId": "Practitioner/example", "patientId": "third-line"},
    }
    response = live.call("POST", PATIENT_VIEW, json=body)
    assert response.status_code == 200
    expected = patient_view_cards(evaluation_of("third-line"), base_url="http://localhost")
    assert [c["summary"] for c in response.json()["cards"]] == [c["summary"] for c in expected]
