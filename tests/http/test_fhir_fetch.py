"""Prefetch first, then the CDS client's FHIR server; 412 when neither gives the data.

Every FHIR server here is `tests.http.fhir_server.FhirServer`, a real HTTP server on
127.0.0.1 that the test starts and stops; the hostile ones (issue 9) drip, send huge
answers, redirect, or lead next links out of their base. Waits are bounded by the
budget the test configures and by the server's `MAX_ANSWER_SECONDS`.

Since issue 9 the service queries a fhirServer only when SCLC_CDS_FHIR_SERVERS allows
it and the request carries fhirAuthorization, or when it is the service's own fixture
/fhir (read in process): a test that wants its server queried builds its app after
starting the server (`serving`) and sends a token.
"""

from __future__ import annotations

import functools
import json
import ssl
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import flask
import pytest
import requests

from service.errors import InputError
from service.fetch.client import MAX_THREADS
from service.fetch.templates import render_template
from service.fetch.urls import allowed, normalise
from service.hooks import PREFETCH
from tests.http.conftest import AppFactory
from tests.http.fhir_server import MAX_ANSWER_SECONDS, FhirServer, HeaderDrip, silent_port
from tests.http.support import (
    SERVICE_IDS,
    CheckedClient,
    fixture_bundle,
    free_port,
    hook_request,
    patient_of,
    prefetch_for,
    serving,
)
from tests.http.test_exposure import self_signed
from tests.http.test_fhir_endpoint import sandbox_call
from tests.http.test_real_process import running_service

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
TOKEN = "opaque-access-token-4f1c"  # noqa: S105 - a fake token of the tests
SEARCHED = {
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Observation",
    "Procedure",
}
# What the caller learns of any failure of the FHIR server: the same words every time.
UNUSABLE = "the FHIR server could not be used for prefetch 'patient'"
# Why a fhirServer is not queried (service.http.cds_hooks, issue 9 defaults).
NO_ALLOW_LIST = "SCLC_CDS_FHIR_SERVERS names the servers it may query"
NOT_ALLOWED = "the request's fhirServer is not one SCLC_CDS_FHIR_SERVERS allows"
WITHOUT_AUTHORIZATION = "a fhirServer is used only with the request's fhirAuthorization"
OWN_FHIR = "http://localhost/fhir"  # the service's own /fhir, as the test client names it
BUDGET = 1.5  # SCLC_CDS_FHIR_BUDGET_SECONDS of the hostile-server tests
MARGIN = 1.0  # the call answers within the budget and this


def fetching_request(
    server_url: str, *, prefetch: dict[str, Any] | None = None, token: str | None = TOKEN
) -> dict[str, Any]:
    """A patient-view request that leaves the data to `server_url`."""
    request = hook_request(prefetch=prefetch or {}, fhirServer=server_url)
    if token is not None:
        request["fhirAuthorization"] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": "user/*.read",
            "subject": "sclc-relapse-cds",
        }
    return request


@pytest.fixture
def prefetch_cards(client: CheckedClient) -> list[dict[str, Any]]:
    """The cards of the scenario given by full prefetch (what fetching must equal)."""
    response = client.post(PATIENT_VIEW, json=hook_request())
    assert response.status_code == 200
    return list(response.json["cards"])


@pytest.fixture
def own_fhir_cards(client: CheckedClient) -> list[dict[str, Any]]:
    """The scenario's cards given full prefetch filled from the service's own /fhir (its
    fixtures namespace the resource ids, so these are what reading it must equal)."""
    response = sandbox_call(client, patient_of(fixture_bundle())["id"])
    assert response.status_code == 200
    return list(response.json["cards"])


def test_same_cards_from_the_fhir_server_as_from_prefetch(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """No prefetch: the service reads the server and answers exactly the same cards."""
    with serving(make_app, token=TOKEN) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards
    kinds = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.searches()}
    assert kinds == SEARCHED


def test_the_bearer_token_arrives_with_every_fhir_request(make_app: AppFactory) -> None:
    """fhirAuthorization.access_token is sent as `Authorization: Bearer …`, every time."""
    with serving(make_app, token=TOKEN, page_size=2) as (server, client):
        assert client.post(PATIENT_VIEW, json=fetching_request(server.base_url)).status_code == 200
    assert len(server.seen) > 7  # one read, six searches, further pages
    assert {s.authorization for s in server.seen} == {f"Bearer {TOKEN}"}


def test_searches_are_posted_so_urls_hold_no_patient_id(make_app: AppFactory) -> None:
    """`POST Type/_search` with a form body; only the Patient read names the id."""
    bundle = fixture_bundle()
    patient_id = patient_of(bundle)["id"]
    with serving(make_app, bundle) as (server, client):
        client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    reads = [s for s in server.seen if s.method == "GET"]
    assert [(s.path, s.query) for s in reads] == [(f"/fhir/Patient/{patient_id}", "")]
    searches = list(server.searches())
    assert searches
    for seen in searches:
        assert seen.method == "POST" and seen.path.endswith("/_search")
        assert patient_id not in seen.path + seen.query
        assert f"patient={patient_id}" in seen.body


def test_next_links_are_followed_across_pages(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """One entry a page: every page is read and the cards are unchanged."""
    with serving(make_app, page_size=1) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.json["cards"] == prefetch_cards
    assert sum("_page=" in s.query for s in server.seen) >= 5


def test_paging_stops_at_the_page_cap(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """SCLC_CDS_FHIR_PAGE_CAP bounds the requests per key; the cap is logged."""
    with serving(make_app, config={"FHIR_PAGE_CAP": 1}, page_size=1) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 200
    assert len(server.seen) == 7  # one request per key, no next page
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert any(e.get("event") == "fhir-page-cap" for e in events)


def test_only_missing_prefetch_keys_are_fetched(make_app: AppFactory) -> None:
    """Keys the client sent are not asked for again."""
    given = {
        k: v for k, v in prefetch_for(fixture_bundle()).items() if k in ("patient", "conditions")
    }
    with serving(make_app) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=given))
    assert response.status_code == 200
    asked = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.seen}
    assert asked == SEARCHED - {"Condition"}


def test_a_prefetched_patient_of_another_id_is_read_from_the_server(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """CLINICAL_RULES §1: the `patient` prefetch names someone else, so it is unusable and
    the Patient of context.patientId is read from the server; the cards are that patient's."""
    prefetch = prefetch_for(fixture_bundle())
    prefetch["patient"] = {**patient_of(fixture_bundle("nsclc")), "id": "someone-else"}
    with serving(make_app) as (server, client):
        response = client.post(
            PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=prefetch)
        )
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards
    asked = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.seen}
    assert asked == {"Patient"}


def test_an_operation_outcome_in_prefetch_counts_as_missing(make_app: AppFactory) -> None:
    """The client's prefetch error for a key makes the service query that key itself."""
    prefetch = prefetch_for(fixture_bundle())
    prefetch["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    with serving(make_app) as (server, client):
        response = client.post(
            PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=prefetch)
        )
    assert response.status_code == 200
    assert [s.path for s in server.seen] == ["/fhir/Condition/_search"]


def test_an_operation_outcome_in_prefetch_without_a_server_is_412(client: CheckedClient) -> None:
    """A failed prefetch key and nowhere to fetch it: 412."""
    request = hook_request()
    request["prefetch"]["conditions"] = {"resourceType": "OperationOutcome", "issue": []}
    response = client.post(PATIENT_VIEW, json=request)
    assert response.status_code == 412
    assert "'conditions'" in response.json["issue"][0]["diagnostics"]


def test_a_paged_prefetch_is_completed_from_the_server(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """A client that paginates prefetch: the service reads the following pages."""
    with serving(make_app, page_size=2) as (server, client):
        first_page = requests.post(
            f"{server.base_url}/MedicationStatement/_search",
            data={"patient": patient_of(fixture_bundle())["id"]},
            timeout=5,
        ).json()
        assert any(link["relation"] == "next" for link in first_page["link"])
        prefetch = prefetch_for(fixture_bundle())
        prefetch["medicationStatements"] = first_page
        server.seen.clear()
        response = client.post(
            PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=prefetch)
        )
    assert response.json["cards"] == prefetch_cards
    assert server.seen and all("_page=" in s.query for s in server.seen)


def test_a_next_link_to_another_server_is_not_followed(make_app: AppFactory) -> None:
    """The bearer token never leaves the FHIR server's origin: 412 instead."""
    with serving(make_app, page_size=1, next_origin="http://127.0.0.2:9") as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert "could not be used for prefetch" in response.json["issue"][0]["diagnostics"]
    assert not any("_page=" in s.query for s in server.seen)


@pytest.mark.parametrize("next_path", ["/fhir/../admin", "/fhir/%2e%2e/admin", "/fhir-admin"])
def test_a_next_link_out_of_the_base_path_is_not_followed(
    make_app: AppFactory, next_path: str
) -> None:
    """Same origin is not enough: a next link resolving outside `/fhir` (dot segments,
    encoded or not; a sibling path) gets no request, and no token: 412 instead."""
    with serving(make_app, page_size=1, next_path=next_path) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert "could not be used for prefetch" in response.json["issue"][0]["diagnostics"]
    assert [s.path for s in server.seen if "admin" in s.path] == []


def test_a_server_without_post_search_is_searched_by_get(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """405 to `POST _search`: the same search by GET."""
    with serving(make_app, post_search=False) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.json["cards"] == prefetch_cards
    assert any(s.method == "GET" and s.path == "/fhir/Condition" for s in server.seen)


def test_without_fhir_authorization_no_token_is_sent(make_app: AppFactory) -> None:
    """The open FHIR server the sandbox uses (the service's own /fhir, since issue 9 the
    only one read without fhirAuthorization) gets no Authorization header."""
    app = make_app()
    authorizations: list[str | None] = []

    @app.before_request
    def _record() -> None:
        if flask.request.path.startswith("/fhir/"):
            authorizations.append(flask.request.headers.get("Authorization"))

    client = app.test_client()
    response = client.post(PATIENT_VIEW, json=fetching_request(OWN_FHIR, token=None))
    assert response.status_code == 200
    assert len(authorizations) == len(PREFETCH)
    assert set(authorizations) == {None}


def test_the_http_sessions_come_from_the_injected_factory(make_app: AppFactory) -> None:
    """FHIR_SESSION_FACTORY makes a session for each thread of a call (a requests.Session
    is not thread-safe), and every one is closed after the call."""
    made: list[requests.Session] = []
    closed: list[requests.Session] = []

    class Recording(requests.Session):
        def close(self) -> None:
            closed.append(self)
            super().close()

    def factory() -> requests.Session:
        made.append(Recording())
        return made[-1]

    with serving(make_app, config={"FHIR_SESSION_FACTORY": factory}) as (server, client):
        assert client.post(PATIENT_VIEW, json=fetching_request(server.base_url)).status_code == 200
    assert 1 <= len(made) <= MAX_THREADS
    assert sorted(map(id, closed)) == sorted(map(id, made))


# --- 412 ---------------------------------------------------------------------------


def _no_server(client: CheckedClient) -> Any:
    return client.post(PATIENT_VIEW, json=hook_request(prefetch={}))


def _server_down(make_app: AppFactory) -> Any:
    url = f"http://127.0.0.1:{free_port()}/fhir"
    client = make_app(FHIR_SERVERS=url).test_client()
    return client.post(PATIENT_VIEW, json=fetching_request(url))


def _timed(client: Any, request: dict[str, Any]) -> tuple[Any, float]:
    """The response to `request` and the seconds it took."""
    started = time.monotonic()
    response = client.post(PATIENT_VIEW, json=request)
    return response, time.monotonic() - started


def _server(make_app: AppFactory, **behaviour: Any) -> Any:
    with serving(make_app, **behaviour) as (server, client):
        return client.post(PATIENT_VIEW, json=fetching_request(server.base_url))


def test_missing_data_and_no_fhir_server_is_412(client: CheckedClient) -> None:
    """No prefetch and no fhirServer: 412 naming the key and what is missing."""
    response = _no_server(client)
    assert response.status_code == 412
    issue = response.json["issue"][0]
    assert issue["code"] == "incomplete"
    assert (
        issue["diagnostics"] == "prefetch 'patient' is missing and the request names no fhirServer"
    )


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(_server_down, id="server-down"),
        pytest.param(lambda c: _server(c, token="other"), id="server-401"),  # noqa: S106
        pytest.param(lambda c: _server(c, status=403), id="server-403"),
        pytest.param(lambda c: _server(c, status=500), id="server-500"),
        pytest.param(lambda c: _server(c, html=True), id="server-html"),
    ],
)
def test_an_unusable_server_is_412_with_one_message(make_app: AppFactory, call: Any) -> None:
    """412 with an OperationOutcome naming the key, the same words whatever the server
    did (a caller learns nothing about it), never the token."""
    response = call(make_app)
    assert response.status_code == 412
    issue = response.json["issue"][0]
    assert issue["code"] == "incomplete"
    assert issue["diagnostics"] == UNUSABLE
    assert TOKEN not in response.get_data(as_text=True)


def test_a_slow_server_is_412_after_the_read_timeout(make_app: AppFactory) -> None:
    """SCLC_CDS_FHIR_READ_TIMEOUT bounds the wait for each FHIR answer."""
    with serving(make_app, config={"FHIR_READ_TIMEOUT": 0.2}, delay=1.0) as (server, client):
        response, seconds = _timed(client, fetching_request(server.base_url))
    assert seconds < 1.0
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"] == UNUSABLE


def test_fhir_authorization_without_fhir_server_is_a_bad_request(client: CheckedClient) -> None:
    """The spec makes fhirServer REQUIRED with fhirAuthorization: 400."""
    request = fetching_request("http://127.0.0.1:1/fhir")
    del request["fhirServer"]
    response = client.post(PATIENT_VIEW, json=request)
    assert response.status_code == 400
    assert "fhirServer" in response.json["issue"][0]["diagnostics"]


# --- prefetch templates ------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "context", "expected"),
    [
        ("Patient/{{context.patientId}}", {"patientId": "123"}, "Patient/123"),
        (
            "Condition?patient={{ context.patientId }}",
            {"patientId": "a b"},
            "Condition?patient=a%20b",
        ),
        ("{{context.userId}}", {"userId": "Practitioner/9"}, "Practitioner/9"),
        ("Encounter/{{context.encounterId}}", {"encounterId": "e1"}, "Encounter/e1"),
        ("Practitioner/{{userPractitionerId}}", {"userId": "Practitioner/9"}, "Practitioner/9"),
    ],
)
def test_prefetch_tokens_are_filled_from_the_context(
    template: str, context: dict[str, Any], expected: str
) -> None:
    """Context fields and user identifiers replace their tokens, URL-encoded."""
    assert render_template(template, context) == expected


@pytest.mark.parametrize(
    ("template", "context"),
    [
        ("Encounter/{{context.encounterId}}", {"patientId": "1"}),
        ("Patient/{{context.draftOrders}}", {"draftOrders": {"resourceType": "Bundle"}}),
        ("Practitioner/{{userPractitionerId}}", {"userId": "PractitionerRole/9"}),
        ("Patient/{{patient}}", {"patient": "1"}),
    ],
)
def test_an_unfillable_token_is_an_input_error(template: str, context: dict[str, Any]) -> None:
    """A missing or non-primitive field, or no such token: InputError naming the token."""
    with pytest.raises(InputError, match="prefetch token"):
        render_template(template, context)


def test_a_fhir_server_outside_the_allow_list_is_never_queried(make_app: AppFactory) -> None:
    """SCLC_CDS_FHIR_SERVERS: another server gets no request; missing data -> 412."""
    with FhirServer(fixture_bundle(), token=TOKEN) as server:
        app = make_app(FHIR_SERVERS="https://ehr.example.org/fhir")
        client = app.test_client()
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
        assert response.status_code == 412
        assert response.json["issue"][0]["diagnostics"].endswith(NOT_ALLOWED)
        assert server.seen == []
        full = client.post(PATIENT_VIEW, json=hook_request(fhirServer=server.base_url))
        assert full.status_code == 200  # complete prefetch needs no server
        assert server.seen == []


def test_a_fhir_server_on_the_allow_list_is_queried(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """A fhirServer on SCLC_CDS_FHIR_SERVERS is queried: the same cards as with full prefetch."""
    with FhirServer(fixture_bundle(), token=TOKEN) as server:
        client = make_app(
            FHIR_SERVERS=f"https://ehr.example.org/fhir,{server.base_url}"
        ).test_client()
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards


def test_without_an_allow_list_an_outside_server_is_never_queried(
    client: CheckedClient,
) -> None:
    """No SCLC_CDS_FHIR_SERVERS: another server gets no request, even with a token; 412."""
    with FhirServer(fixture_bundle(), token=TOKEN) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"].endswith(NO_ALLOW_LIST)
    assert server.seen == []


def test_an_allowed_server_without_fhir_authorization_is_never_queried(
    make_app: AppFactory,
) -> None:
    """On SCLC_CDS_FHIR_SERVERS but no fhirAuthorization: no request, 412 naming it."""
    with serving(make_app) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url, token=None))
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"].endswith(WITHOUT_AUTHORIZATION)
    assert server.seen == []


def test_the_own_fhir_is_read_in_process_without_allow_list_or_token(
    client: CheckedClient, own_fhir_cards: list[dict[str, Any]]
) -> None:
    """The service's own /fhir needs neither: the missing keys are read, the same cards."""
    response = client.post(PATIENT_VIEW, json=fetching_request(OWN_FHIR, token=None))
    assert response.status_code == 200
    assert response.json["cards"] == own_fhir_cards


def test_without_the_demo_the_own_fhir_is_refused_like_any_server(make_app: AppFactory) -> None:
    """SCLC_CDS_DEMO off: the own /fhir is not served, so naming it is refused: 412."""
    client = make_app(DEMO=False).test_client()
    response = client.post(PATIENT_VIEW, json=fetching_request(OWN_FHIR))
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"].endswith(NO_ALLOW_LIST)


def test_the_host_header_cannot_make_an_outside_server_own(
    client: CheckedClient, own_fhir_cards: list[dict[str, Any]]
) -> None:
    """`Host: 127.0.0.1:<port>` makes `http://127.0.0.1:<port>/fhir` "own": it is read in
    process (the own fixtures' cards), and the server on that port gets no request."""
    with FhirServer(fixture_bundle(), status=500) as server:
        host = server.base_url.removeprefix("http://").removesuffix("/fhir")
        response = client.post(
            PATIENT_VIEW, json=fetching_request(server.base_url), headers={"Host": host}
        )
    assert server.seen == []
    assert response.status_code == 200
    # The same cards as the own /fhir's; only their links follow the Host header.
    assert [(c["summary"], c["detail"]) for c in response.json["cards"]] == [
        (c["summary"], c["detail"].replace("http://localhost", f"http://{host}"))
        for c in own_fhir_cards
    ]


def test_the_allow_list_must_name_http_urls(make_app: AppFactory) -> None:
    """An allow-list entry that is not an http(s) URL is refused when the app is built."""
    with pytest.raises(ValueError, match="SCLC_CDS_FHIR_SERVERS"):
        make_app(FHIR_SERVERS="ftp://x")


# --- bounded fetching (issue 9) -----------------------------------------------------


def test_prefetch_keys_are_fetched_concurrently(
    make_app: AppFactory, prefetch_cards: list[dict[str, Any]]
) -> None:
    """Six keys from a server that takes 0.5 s an answer: about 0.5 s, not 3 s."""
    with serving(make_app, delay=0.5) as (server, client):
        response, seconds = _timed(client, fetching_request(server.base_url))
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards
    assert seconds < 1.5


def test_a_dripping_server_is_cut_at_the_budget(make_app: AppFactory) -> None:
    """One byte every 0.2 s passes every read timeout; the call's budget still ends it:
    412 within the budget and the margin."""
    with serving(make_app, config={"FHIR_BUDGET_SECONDS": BUDGET}, drip=0.2) as (server, client):
        response, seconds = _timed(client, fetching_request(server.base_url))
    assert seconds <= BUDGET + MARGIN
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"] == UNUSABLE


def _verifying(certificate: Path) -> requests.Session:
    """A session trusting `certificate` (a test server's, self-signed), whatever the
    environment's CA bundle says (REQUESTS_CA_BUNDLE would override `verify`)."""
    session = requests.Session()
    session.trust_env = False
    session.verify = str(certificate)
    return session


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_a_server_dripping_its_headers_is_let_go_at_the_budget(
    make_app: AppFactory, tmp_path: Path, scheme: str
) -> None:
    """Headers one byte every 0.2 s, never ended (over TLS too): 412 within the budget
    and the margin, and every connection the call opened is shut by then (its threads
    end), not left reading until the server stops (30 s here)."""
    tls, sessions = None, requests.Session
    if scheme == "https":
        cert, key = self_signed(tmp_path)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(cert, key)
        sessions = functools.partial(_verifying, cert)
    with HeaderDrip(every=0.2, lasting=30.0, tls=tls) as server:
        app = make_app(
            FHIR_SERVERS=server.base_url,
            FHIR_BUDGET_SECONDS=BUDGET,
            FHIR_SESSION_FACTORY=sessions,
        )
        response, seconds = _timed(app.test_client(), fetching_request(server.base_url))
        deadline = time.monotonic() + MARGIN
        while server.open_connections() and time.monotonic() < deadline:
            time.sleep(0.05)
        still_open = server.open_connections()
    assert response.status_code == 412
    assert seconds <= BUDGET + MARGIN
    assert server.taken >= 1
    assert still_open == 0


def test_paging_cut_short_by_the_budget_keeps_the_pages_read(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Pages take 0.4 s each and the budget is 1 s: the call answers 200 on time with the
    pages read, and says the searches were cut short (as the page cap does)."""
    budget = {"FHIR_BUDGET_SECONDS": 1.0}
    with serving(make_app, config=budget, page_size=1, delay=0.4) as (server, client):
        response, seconds = _timed(client, fetching_request(server.base_url))
    assert seconds <= 1.0 + MARGIN
    assert response.status_code == 200
    details = " ".join(card["detail"] for card in response.json["cards"])
    assert "pages only \\(time budget\\)" in details  # "Check the record", in Markdown
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert any(e.get("event") == "fhir-budget" for e in events)


HUGE = 64 * 1024 * 1024  # the answer a hostile server sends
ANSWER_CAP = 1024 * 1024  # SCLC_CDS_FHIR_MAX_ANSWER_BYTES of the test
# What the kernel may still take from the server after the client stopped reading: the
# client's receive buffer (autotuned, a few MiB on loopback) and the server's send buffer.
SOCKET_BUFFERS = 4 * 1024 * 1024


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "no-length"])
def test_a_huge_answer_is_412_quickly_and_read_no_further_than_the_cap(
    make_app: AppFactory, declared: bool
) -> None:
    """A 64 MiB answer against a 1 MiB cap: refused from its Content-Length, or counted
    while it streams; 412 at once, the bytes the server could send bounded by the cap
    (plus socket buffers), and the memory of the call too."""
    cap = {"FHIR_MAX_ANSWER_BYTES": ANSWER_CAP}
    with serving(make_app, config=cap, huge=HUGE, declare_length=declared) as (server, client):
        tracemalloc.start()
        try:
            response, seconds = _timed(client, fetching_request(server.base_url))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        time.sleep(0.2)  # the server's last writes fail once the client has closed
        sent = server.sent
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"] == UNUSABLE
    assert seconds < 2.0
    assert sent <= len(server.seen) * (ANSWER_CAP + SOCKET_BUFFERS) < HUGE
    assert peak < 2 * ANSWER_CAP * MAX_THREADS  # each thread holds one answer at most


def test_the_call_byte_cap_counts_every_answer(make_app: AppFactory) -> None:
    """SCLC_CDS_FHIR_MAX_CALL_BYTES bounds all answers of a call together: each answer
    is under the answer cap, their sum is not, so 412."""
    with serving(make_app, config={"FHIR_MAX_CALL_BYTES": 2048}) as (server, client):
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert "could not be used for prefetch" in response.json["issue"][0]["diagnostics"]


def test_a_redirect_is_not_followed(make_app: AppFactory) -> None:
    """A 302 to another loopback port is an unusable answer: the target sees nothing
    (neither the patient id in the path nor the token), and the call is 412."""
    with FhirServer(fixture_bundle()) as target:
        origin = target.base_url.removesuffix("/fhir")
        with serving(make_app, redirect_to=origin) as (server, client):
            response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert server.seen
    assert target.seen == []
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"] == UNUSABLE


@pytest.mark.parametrize("suffix", ["/../admin", "/%2e%2e/admin", "/..;/admin", "-admin"])
def test_a_fhir_server_escaping_the_allow_list_is_never_queried(
    make_app: AppFactory, suffix: str
) -> None:
    """The allow list is checked on the normalised URL: `…/fhir/../admin` is `/admin`,
    not under `/fhir`; no request, 412 naming SCLC_CDS_FHIR_SERVERS."""
    with FhirServer(fixture_bundle(), token=TOKEN) as server:
        client = make_app(FHIR_SERVERS=server.base_url).test_client()
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url + suffix))
    assert server.seen == []
    assert response.status_code == 412
    assert response.json["issue"][0]["diagnostics"].endswith(NOT_ALLOWED)


def test_a_closed_port_and_a_silent_port_look_the_same(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """A caller probing ports learns nothing: nothing listening and a listener that never
    answers give the same 412, both within the budget; only the log (no URL) tells
    them apart."""
    with silent_port() as port:
        closed_url = f"http://127.0.0.1:{free_port()}/fhir"
        silent_url = f"http://127.0.0.1:{port}/fhir"
        client = make_app(
            FHIR_BUDGET_SECONDS=BUDGET, FHIR_SERVERS=f"{closed_url},{silent_url}"
        ).test_client()
        closed, closed_seconds = _timed(client, fetching_request(closed_url))
        silent, silent_seconds = _timed(client, fetching_request(silent_url))
    assert (closed.status_code, silent.status_code) == (412, 412)
    assert closed.json == silent.json
    assert closed.json["issue"][0]["diagnostics"] == UNUSABLE
    assert max(closed_seconds, silent_seconds) <= BUDGET + MARGIN
    log = capsys.readouterr().err
    errors = [json.loads(line)["error"] for line in log.splitlines() if "fhir-unusable" in line]
    assert errors == ["ConnectionError", "budget"]
    assert "127.0.0.1" not in log and TOKEN not in log


SLOW_CALLS = 16
THREADS = 8  # of each of `running_service`'s 2 gunicorn workers


def _timed_post(url: str, request: dict[str, Any]) -> tuple[int, float]:
    """The status of a call over HTTP and the seconds it took."""
    started = time.monotonic()
    response = requests.post(url, json=request, timeout=30)
    return response.status_code, time.monotonic() - started


def test_slow_fhir_calls_do_not_hold_the_service(tmp_path: Path) -> None:
    """A real `sclc-cds serve`, because the point is gunicorn's threads, shared by every
    call (the test client would give each call a thread of its own and prove nothing).
    16 calls read a dripping FHIR server at once, as many as the service's threads, and
    gunicorn may give one worker more of them than it has threads. Each slow call ends
    at the budget, so every slow call, and an ordinary prefetch-only call sent while
    they run, is answered within a few budgets (at most the queue of one worker ahead
    of it), not after the drip (10 s, as before issue 9)."""
    env = {"SCLC_CDS_FHIR_BUDGET_SECONDS": str(BUDGET), "SCLC_CDS_THREADS": str(THREADS)}
    with (
        FhirServer(fixture_bundle(), drip=0.2) as server,
        running_service(tmp_path, SCLC_CDS_FHIR_SERVERS=server.base_url, **env) as live,
        ThreadPoolExecutor(max_workers=SLOW_CALLS) as callers,
    ):
        request = fetching_request(server.base_url)
        slow = [
            callers.submit(_timed_post, live.base + PATIENT_VIEW, request)
            for _ in range(SLOW_CALLS)
        ]
        deadline = time.monotonic() + BUDGET
        while len(server.seen) < SLOW_CALLS * len(PREFETCH) and time.monotonic() < deadline:
            time.sleep(0.05)  # until the slow calls read the dripping server
        started = time.monotonic()
        ordinary = live.call("POST", PATIENT_VIEW, json=hook_request())
        seconds = time.monotonic() - started
        answered = [call.result() for call in slow]
    assert len(server.seen) >= SLOW_CALLS  # every slow call read the dripping server
    assert ordinary.status_code == 200
    assert seconds < 3 * (BUDGET + MARGIN)
    assert [status for status, _ in answered] == [412] * SLOW_CALLS
    assert max(took for _, took in answered) < 3 * (BUDGET + MARGIN) < MAX_ANSWER_SECONDS


# --- URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://EHR.Example.org:443/fhir", "https://ehr.example.org/fhir"),
        ("http://ehr.example.org:80/fhir/", "http://ehr.example.org/fhir/"),
        ("http://ehr:8080/fhir/../admin", "http://ehr:8080/admin"),
        ("http://ehr/fhir/%2e%2E/admin", "http://ehr/admin"),
        ("http://ehr/fhir/./Patient/%7Ep", "http://ehr/fhir/Patient/~p"),
        ("http://ehr/fhir/Patient?_id=1#top", "http://ehr/fhir/Patient?_id=1"),
        ("http://[0:0::1]:8080/fhir", "http://[::1]:8080/fhir"),
        ("http://ehr", "http://ehr/"),
    ],
)
def test_urls_are_normalised(url: str, expected: str) -> None:
    """Case, default ports, dot segments (encoded too), unreserved escapes, fragments."""
    assert normalise(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ehr/fhir",
        "file:///etc/passwd",
        "https://user:secret@ehr/fhir",
        "https://ehr:99999/fhir",
        "https://ehr/fhir/x%2F..%2F..%2Fadmin",
        "https://ehr/fhir/..;/admin",
        "https://ehr/fhir/%252e%252e/admin",
        "https://ehr/fhir\\..\\admin",
        "https://ehr/fhir /x",
        "https:///fhir",
    ],
)
def test_urls_no_request_may_go_to_are_refused(url: str) -> None:
    """Not http(s), a user, a bad port, a hidden separator, no host: ValueError."""
    with pytest.raises(ValueError, match="URL"):
        normalise(url)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://ehr/fhir", True),
        ("https://ehr/fhir/", True),
        ("https://EHR:443/fhir/Patient/1", True),
        ("https://ehr/fhir?_getpages=abc", True),
        ("https://ehr/fhir-admin", False),
        ("https://ehr/fhir/../admin", False),
        ("https://ehr/admin", False),
        ("http://ehr/fhir/Patient", False),
        ("https://ehr:8443/fhir/Patient", False),
        ("https://evil/fhir/Patient", False),
        ("https://u@ehr/fhir/Patient", False),
    ],
)
def test_the_allow_list_is_an_origin_and_a_path_prefix(url: str, expected: bool) -> None:
    """`https://ehr/fhir` allows its own path and below, on a segment boundary only."""
    assert allowed(url, ["https://ehr/fhir/"]) is expected
    assert allowed(url, ["https://ehr/fhir"]) is expected


def test_without_an_allow_list_any_normalisable_url_is_allowed() -> None:
    """No SCLC_CDS_FHIR_SERVERS: any http(s) URL, still never one with a user."""
    assert allowed("http://127.0.0.1:9/fhir", None)
    assert not allowed("http://user@127.0.0.1:9/fhir", None)
