"""Prefetch first, then the CDS client's FHIR server; 412 when neither gives the data.

Every FHIR server here is `tests.http.fhir_server.FhirServer`, a real HTTP server on
127.0.0.1 that the test starts and stops.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from service.errors import InputError
from service.fhir.client import render_template
from tests.http.conftest import AppFactory
from tests.http.fhir_server import FhirServer
from tests.http.support import (
    SERVICE_IDS,
    CheckedClient,
    fixture_bundle,
    free_port,
    hook_request,
    patient_of,
    prefetch_for,
)

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
TOKEN = "opaque-access-token-4f1c"  # noqa: S105 - a fake token of the tests
SEARCHED = {
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Observation",
}


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


def test_same_cards_from_the_fhir_server_as_from_prefetch(
    client: CheckedClient, prefetch_cards: list[dict[str, Any]]
) -> None:
    """No prefetch: the service reads the server and answers exactly the same cards."""
    with FhirServer(fixture_bundle(), token=TOKEN) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards
    kinds = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.searches()}
    assert kinds == SEARCHED


def test_the_bearer_token_arrives_with_every_fhir_request(client: CheckedClient) -> None:
    """fhirAuthorization.access_token is sent as `Authorization: Bearer …`, every time."""
    with FhirServer(fixture_bundle(), token=TOKEN, page_size=2) as server:
        assert client.post(PATIENT_VIEW, json=fetching_request(server.base_url)).status_code == 200
    assert len(server.seen) > 6  # one read, five searches, further pages
    assert {s.authorization for s in server.seen} == {f"Bearer {TOKEN}"}


def test_searches_are_posted_so_urls_hold_no_patient_id(client: CheckedClient) -> None:
    """`POST Type/_search` with a form body; only the Patient read names the id."""
    bundle = fixture_bundle()
    patient_id = patient_of(bundle)["id"]
    with FhirServer(bundle) as server:
        client.post(PATIENT_VIEW, json=fetching_request(server.base_url, token=None))
    reads = [s for s in server.seen if s.method == "GET"]
    assert [(s.path, s.query) for s in reads] == [(f"/fhir/Patient/{patient_id}", "")]
    searches = list(server.searches())
    assert searches
    for seen in searches:
        assert seen.method == "POST" and seen.path.endswith("/_search")
        assert patient_id not in seen.path + seen.query
        assert f"patient={patient_id}" in seen.body


def test_next_links_are_followed_across_pages(
    client: CheckedClient, prefetch_cards: list[dict[str, Any]]
) -> None:
    """One entry a page: every page is read and the cards are unchanged."""
    with FhirServer(fixture_bundle(), page_size=1) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url, token=None))
    assert response.json["cards"] == prefetch_cards
    assert sum("_page=" in s.query for s in server.seen) >= 5


def test_paging_stops_at_the_page_cap(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """SCLC_CDS_FHIR_PAGE_CAP bounds the requests per key; the cap is logged."""
    client = make_app(FHIR_PAGE_CAP=1).test_client()
    with FhirServer(fixture_bundle(), page_size=1) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 200
    assert len(server.seen) == 6  # one request per key, no next page
    events = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
    assert any(e.get("event") == "fhir-page-cap" for e in events)


def test_only_missing_prefetch_keys_are_fetched(client: CheckedClient) -> None:
    """Keys the client sent are not asked for again."""
    given = {
        k: v for k, v in prefetch_for(fixture_bundle()).items() if k in ("patient", "conditions")
    }
    with FhirServer(fixture_bundle()) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=given))
    assert response.status_code == 200
    asked = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.seen}
    assert asked == SEARCHED - {"Condition"}


def test_a_prefetched_patient_of_another_id_is_read_from_the_server(
    client: CheckedClient, prefetch_cards: list[dict[str, Any]]
) -> None:
    """CLINICAL_RULES §1: the `patient` prefetch names someone else, so it is unusable and
    the Patient of context.patientId is read from the server; the cards are that patient's."""
    prefetch = prefetch_for(fixture_bundle())
    prefetch["patient"] = {**patient_of(fixture_bundle("nsclc")), "id": "someone-else"}
    with FhirServer(fixture_bundle()) as server:
        response = client.post(
            PATIENT_VIEW, json=fetching_request(server.base_url, prefetch=prefetch)
        )
    assert response.status_code == 200
    assert response.json["cards"] == prefetch_cards
    asked = {s.path.removeprefix("/fhir/").split("/")[0] for s in server.seen}
    assert asked == {"Patient"}


def test_an_operation_outcome_in_prefetch_counts_as_missing(client: CheckedClient) -> None:
    """The client's prefetch error for a key makes the service query that key itself."""
    prefetch = prefetch_for(fixture_bundle())
    prefetch["conditions"] = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "timeout"}],
    }
    with FhirServer(fixture_bundle()) as server:
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
    client: CheckedClient, prefetch_cards: list[dict[str, Any]]
) -> None:
    """A client that paginates prefetch: the service reads the following pages."""
    with FhirServer(fixture_bundle(), page_size=2) as server:
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


def test_a_next_link_to_another_server_is_not_followed(client: CheckedClient) -> None:
    """The bearer token never leaves the FHIR server's origin: 412 instead."""
    with FhirServer(fixture_bundle(), page_size=1, next_origin="http://127.0.0.2:9") as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert "another server" in response.json["issue"][0]["diagnostics"]


def test_a_server_without_post_search_is_searched_by_get(
    client: CheckedClient, prefetch_cards: list[dict[str, Any]]
) -> None:
    """405 to `POST _search`: the same search by GET."""
    with FhirServer(fixture_bundle(), post_search=False) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.json["cards"] == prefetch_cards
    assert any(s.method == "GET" and s.path == "/fhir/Condition" for s in server.seen)


def test_without_fhir_authorization_no_token_is_sent(client: CheckedClient) -> None:
    """An open FHIR server (the sandbox's) is read with no Authorization header."""
    with FhirServer(fixture_bundle()) as server:
        assert (
            client.post(
                PATIENT_VIEW, json=fetching_request(server.base_url, token=None)
            ).status_code
            == 200
        )
    assert {s.authorization for s in server.seen} == {None}


def test_the_http_session_comes_from_the_injected_factory(make_app: AppFactory) -> None:
    """FHIR_SESSION_FACTORY makes the session of each call, which is closed after it."""
    made: list[requests.Session] = []
    closed: list[requests.Session] = []

    class Recording(requests.Session):
        def close(self) -> None:
            closed.append(self)
            super().close()

    def factory() -> requests.Session:
        made.append(Recording())
        return made[-1]

    client = make_app(FHIR_SESSION_FACTORY=factory).test_client()
    with FhirServer(fixture_bundle()) as server:
        assert client.post(PATIENT_VIEW, json=fetching_request(server.base_url)).status_code == 200
    assert len(made) == 1 and closed == made


# --- 412 ---------------------------------------------------------------------------


def _no_server(client: CheckedClient) -> Any:
    return client.post(PATIENT_VIEW, json=hook_request(prefetch={}))


def _server_down(client: CheckedClient) -> Any:
    return client.post(PATIENT_VIEW, json=fetching_request(f"http://127.0.0.1:{free_port()}/fhir"))


def _server(client: CheckedClient, **behaviour: Any) -> Any:
    with FhirServer(fixture_bundle(), **behaviour) as server:
        return client.post(PATIENT_VIEW, json=fetching_request(server.base_url))


@pytest.mark.parametrize(
    ("call", "reason"),
    [
        pytest.param(_no_server, "names no fhirServer", id="no-fhir-server"),
        pytest.param(_server_down, "could not be reached", id="server-down"),
        pytest.param(lambda c: _server(c, token="other"), "HTTP 401", id="server-401"),  # noqa: S106
        pytest.param(lambda c: _server(c, status=403), "HTTP 403", id="server-403"),
        pytest.param(lambda c: _server(c, status=500), "HTTP 500", id="server-500"),
        pytest.param(lambda c: _server(c, html=True), "not JSON", id="server-html"),
    ],
)
def test_missing_data_and_an_unusable_server_is_412(
    client: CheckedClient, call: Any, reason: str
) -> None:
    """412 with an OperationOutcome naming the key and the reason, never the token."""
    response = call(client)
    assert response.status_code == 412
    issue = response.json["issue"][0]
    assert issue["code"] == "incomplete"
    assert "prefetch 'patient' is missing" in issue["diagnostics"]
    assert reason in issue["diagnostics"]
    assert TOKEN not in response.get_data(as_text=True)


def test_a_slow_server_is_412_after_the_read_timeout(make_app: AppFactory) -> None:
    """SCLC_CDS_FHIR_READ_TIMEOUT bounds the wait for each FHIR answer."""
    client = make_app(FHIR_READ_TIMEOUT=0.2).test_client()
    with FhirServer(fixture_bundle(), delay=1.0) as server:
        response = client.post(PATIENT_VIEW, json=fetching_request(server.base_url))
    assert response.status_code == 412
    assert "did not answer within 0.2 s" in response.json["issue"][0]["diagnostics"]


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
        assert "SCLC_CDS_FHIR_SERVERS" in response.json["issue"][0]["diagnostics"]
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


def test_the_allow_list_must_name_http_urls(make_app: AppFactory) -> None:
    """An allow-list entry that is not an http(s) URL is refused when the app is built."""
    with pytest.raises(ValueError, match="SCLC_CDS_FHIR_SERVERS"):
        make_app(FHIR_SERVERS="ftp://x")
