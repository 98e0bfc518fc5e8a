"""The SMART app (`/app`) launched against the fixture EHR, with the Flask test client:
EHR and standalone launch, PKCE and state, the record it shows, and every way it can
fail showing a clear message, never a blank page."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask

from service.smart import AccessToken, DemoTokens
from tests.http.conftest import AppFactory
from tests.http.fhir_server import FhirServer
from tests.http.smart_flow import (
    OWN_FHIR,
    TIMELINE_CONTEXT,
    approve,
    finish,
    grant_of,
    launch_id,
    query,
    redirected,
    set_grant,
    sign_in,
    start,
    with_query,
)
from tests.http.support import CheckedClient, fixture_bundle, hook_request, without_uuids

USER_TOKEN = "user-token-of-the-ehr-5d1a"  # noqa: S105 - a fake token of the tests
OTHER_TOKEN = "another-token-9c3e"  # noqa: S105 - a fake token of the tests
EXPIRED = "Your session has expired; launch the app again from the EHR."
NOT_ALLOWED = "This FHIR server is not one this app may use."
RESOURCES = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Observation",
    "Procedure",
    "Medication",
)


def client_of(app: Flask) -> CheckedClient:
    return app.test_client()  # type: ignore[return-value]


def page_text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def test_ehr_launch_asks_for_pkce_state_aud_launch_and_v2_read_scopes(
    client: CheckedClient,
) -> None:
    """The authorization request: code flow, S256 challenge, state, aud=iss, the launch,
    and patient/X.rs for exactly the eight resource types the engine reads."""
    launch = launch_id(client, "third-line", TIMELINE_CONTEXT)
    authorize_url = start(client, launch=launch)
    assert authorize_url.startswith(f"{OWN_FHIR}/auth/authorize?")
    params = query(authorize_url)
    assert params["response_type"] == "code"
    assert params["client_id"] == "sclc-relapse-app"
    assert params["redirect_uri"] == "http://localhost/app/callback"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43  # base64url of a SHA-256
    assert len(params["state"]) >= 20
    assert params["aud"] == OWN_FHIR
    assert params["launch"] == launch
    assert params["scope"].split() == ["launch", *(f"patient/{k}.rs" for k in RESOURCES)]


def test_ehr_launch_shows_the_launched_patient_from_the_same_pipeline_as_the_hook(
    client: CheckedClient,
) -> None:
    """launch → authorize → token → /app/view, and /app/api/record holds third-line's
    header, timeline, ranked options with evidence, pre-screen, and the hook's cards."""
    sign_in(client, "third-line")
    view = client.get("/app/view")
    assert view.status_code == 200
    assert "/app/static/app.js" in page_text(view)
    record = client.get("/app/api/record").get_json()
    assert record["header"]["name"] == "Third Fixture"
    assert record["server"] == OWN_FHIR
    assert [line["number"] for line in record["timeline"]["lines"]] == [1, 2]
    assert record["timeline"]["platinum"]["label"] == "Platinum-free interval: 147 days (sensitive)"
    assert [o["rank"] for o in record["options"]] == list(range(1, len(record["options"]) + 1))
    first = record["options"][0]
    assert first["regimen"] and first["evidence"] and first["sources"]
    assert all(item["source"]["label"] for item in first["evidence"])
    assert record["trials"][0]["id"] == "NCT07632209"
    assert {c["result"] for c in record["trials"][0]["criteria"]} <= {"met", "not-met", "unknown"}
    hook = client.post(  # the hook, reading the same FHIR server
        "/cds-services/sclc-relapse-patient-view",
        json=hook_request(bundle=fixture_bundle("third-line"), prefetch={}, fhirServer=OWN_FHIR),
    ).get_json()
    assert without_uuids(record["cards"]) == without_uuids(hook["cards"])


def test_standalone_launch_picks_the_patient_at_the_ehr(client: CheckedClient) -> None:
    """Standalone: launch/patient scope; the demo EHR offers its patients, and the one
    picked is the one the app shows."""
    authorize_url = start(client)
    assert query(authorize_url)["scope"].split()[0] == "launch/patient"
    assert "launch" not in query(authorize_url)
    picker = client.get(authorize_url)
    assert picker.status_code == 200 and "sensitive-late-relapse" in page_text(picker)
    finish(client, approve(client, with_query(authorize_url, patient="sensitive-late-relapse")))
    record = client.get("/app/api/record").get_json()
    assert record["evaluation"]["patient"]["id"] == "sensitive-late-relapse"


def test_standalone_form_offers_the_own_fhir_server(client: CheckedClient) -> None:
    """GET /app/ is the standalone form, its default server the service's own /fhir."""
    page = client.get("/app/")
    assert page.status_code == 200
    assert f'value="{OWN_FHIR}"' in page_text(page)


def test_callback_with_a_wrong_state_shows_a_clear_message(client: CheckedClient) -> None:
    """A callback whose state is not the one sent: 400 page, no token exchanged."""
    callback = approve(client, start(client, launch=launch_id(client, "third-line")))
    answer = client.get(with_query(callback, state="forged-state-of-another-launch"))
    assert answer.status_code == 400
    assert "This sign-in cannot be completed" in page_text(answer)
    assert "state" in page_text(answer)
    assert client.get("/app/api/record").status_code == 401


def test_callback_without_a_launch_shows_a_clear_message(client: CheckedClient) -> None:
    """A callback the app did not start (no pending launch in the session): 400 page."""
    answer = client.get("/app/callback?code=x&state=y")
    assert answer.status_code == 400
    assert "launch the app again" in page_text(answer)


def test_refused_authorization_shows_a_clear_message(client: CheckedClient) -> None:
    """The EHR refuses (access_denied, with the state): a 403 page saying so."""
    authorize_url = start(client)
    callback = approve(client, with_query(authorize_url, decision="deny"))
    assert query(callback)["error"] == "access_denied"
    assert query(callback)["state"] == query(authorize_url)["state"]
    answer = client.get(callback)
    assert answer.status_code == 403
    assert "The EHR did not authorize the app." in page_text(answer)


@pytest.mark.parametrize(
    "config",
    [{}, {"FHIR_SERVERS": "http://127.0.0.1:1/fhir"}],
    ids=["no-allowlist", "another-server-allowed"],
)
def test_a_wrong_iss_gets_a_400_page_and_no_request(
    make_app: AppFactory, config: dict[str, Any]
) -> None:
    """An iss that is neither the own /fhir nor allowed: 400 page, nothing sent to it."""
    with FhirServer(fixture_bundle()) as server:
        client = client_of(make_app(**config))
        answer = client.get(f"/app/launch?iss={server.base_url}")
        assert answer.status_code == 400
        assert NOT_ALLOWED in page_text(answer)
        assert server.seen == []


def test_the_own_fhir_is_not_an_iss_when_the_demo_is_off(make_app: AppFactory) -> None:
    """Demo off: the fixture /fhir is gone, and the app refuses it as an iss."""
    client = client_of(make_app(DEMO=False))
    answer = client.get(f"/app/launch?iss={OWN_FHIR}")
    assert answer.status_code == 400 and NOT_ALLOWED in page_text(answer)


def test_a_launch_without_iss_gets_a_clear_message(client: CheckedClient) -> None:
    """No iss at all: 400 page saying the launch names no FHIR server."""
    answer = client.get("/app/launch?launch=abc")
    assert answer.status_code == 400 and "names no FHIR server" in page_text(answer)


def test_an_allowed_server_without_smart_gets_a_clear_message(make_app: AppFactory) -> None:
    """An allowed server with no SMART configuration: 502 page; only discovery was asked."""
    with FhirServer(fixture_bundle()) as server:
        client = client_of(make_app(FHIR_SERVERS=server.base_url))
        answer = client.get(f"/app/launch?iss={server.base_url}")
        assert answer.status_code == 502
        assert "does not offer a SMART App Launch" in page_text(answer)
        assert [s.path for s in server.seen] == ["/fhir/.well-known/smart-configuration"]


def test_an_expired_session_shows_the_expired_message(client: CheckedClient) -> None:
    """Past the token's expiry: the page and the API both say the session has expired."""
    sign_in(client, "third-line")
    grant = grant_of(client)
    set_grant(client, **{**grant, "expires_at": time.time() - 1})
    page = client.get("/app/view")
    assert page.status_code == 401 and EXPIRED in page_text(page)
    api = client.get("/app/api/record")
    assert api.status_code == 401
    assert api.get_json()["issue"][0]["diagnostics"] == EXPIRED


def test_no_session_at_all_shows_the_expired_message(client: CheckedClient) -> None:
    """Opening /app/view without a launch: the expired message, not a blank page."""
    page = client.get("/app/view")
    assert page.status_code == 401 and EXPIRED in page_text(page)


def test_a_token_the_fhir_server_refuses_shows_the_expired_message(
    make_app: AppFactory,
) -> None:
    """DEMO_FHIR_AUTH: a token already expired at the EHR (401 there) reads as expired."""
    app = make_app(DEMO_FHIR_AUTH=True)
    client = client_of(app)
    stale = DemoTokens(str(app.secret_key)).access_token(
        AccessToken(
            client_id="sclc-relapse-app",
            scope="launch patient/Patient.rs",
            patient="third-line",
            expires_at=int(time.time()) - 60,
        )
    )
    set_grant(client, iss=OWN_FHIR, access_token=stale, patient="third-line")
    api = client.get("/app/api/record")
    assert api.status_code == 401
    assert api.get_json()["issue"][0]["diagnostics"] == EXPIRED


def test_the_whole_flow_with_tokens_required_on_fhir(make_app: AppFactory) -> None:
    """DEMO_FHIR_AUTH: the app's own token reads every resource type it needs."""
    client = client_of(make_app(DEMO_FHIR_AUTH=True))
    sign_in(client, "third-line")
    record = client.get("/app/api/record")
    assert record.status_code == 200, record.get_json()
    assert record.get_json()["header"]["name"] == "Third Fixture"


def test_v1_scopes_when_the_server_does_not_offer_v2(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A configuration without permission-v2 or v2 scopes: the app asks patient/X.read,
    and the v1 token reads the record behind DEMO_FHIR_AUTH."""
    from service.demo import authorization as smart_ehr

    v1_only = tuple(s for s in smart_ehr.SCOPES_SUPPORTED if not s.endswith(".rs"))
    monkeypatch.setattr(smart_ehr, "SCOPES_SUPPORTED", v1_only)
    monkeypatch.setattr(
        smart_ehr, "CAPABILITIES", tuple(c for c in smart_ehr.CAPABILITIES if c != "permission-v2")
    )
    client = client_of(make_app(DEMO_FHIR_AUTH=True))
    authorize_url = start(client, launch=launch_id(client, "third-line"))
    assert query(authorize_url)["scope"].split() == [
        "launch",
        *(f"patient/{k}.read" for k in RESOURCES),
    ]
    finish(client, approve(client, authorize_url))
    assert client.get("/app/api/record").get_json()["header"]["name"] == "Third Fixture"


def test_paging_through_an_allowlisted_servers_searches_with_the_users_token(
    make_app: AppFactory,
) -> None:
    """An allowlisted EHR answering two entries a page: every page is read, each request
    with the user's bearer token, and the record is the whole patient's."""
    with FhirServer(fixture_bundle("third-line"), page_size=2, token=USER_TOKEN) as server:
        client = client_of(make_app(FHIR_SERVERS=server.base_url))
        set_grant(client, iss=server.base_url, access_token=USER_TOKEN, patient="third-line")
        record = client.get("/app/api/record")
        assert record.status_code == 200, record.get_json()
        assert [line["number"] for line in record.get_json()["timeline"]["lines"]] == [1, 2]
        assert any("_page=" in s.query for s in server.seen)
        assert {s.authorization for s in server.seen} == {f"Bearer {USER_TOKEN}"}


def test_a_token_the_allowlisted_server_refuses_reads_as_expired(make_app: AppFactory) -> None:
    """The EHR answers 401 to the session's token: the expired message."""
    with FhirServer(fixture_bundle("third-line"), token=USER_TOKEN) as server:
        client = client_of(make_app(FHIR_SERVERS=server.base_url))
        set_grant(client, iss=server.base_url, access_token=OTHER_TOKEN, patient="third-line")
        api = client.get("/app/api/record")
        assert api.status_code == 401
        assert api.get_json()["issue"][0]["diagnostics"] == EXPIRED


def test_a_server_failing_otherwise_gets_its_own_message(make_app: AppFactory) -> None:
    """The EHR answers 500: the page says the FHIR server could not be read (502)."""
    with FhirServer(fixture_bundle("third-line"), status=500) as server:
        client = client_of(make_app(FHIR_SERVERS=server.base_url))
        set_grant(client, iss=server.base_url, access_token=USER_TOKEN, patient="third-line")
        api = client.get("/app/api/record")
        assert api.status_code == 502
        assert "could not be read" in api.get_json()["issue"][0]["diagnostics"]


def test_pages_keep_codes_and_tokens_out_of_caches_and_referers(client: CheckedClient) -> None:
    """App responses: no-store, no Referer; the session cookie is HttpOnly, SameSite=Lax
    over plain http."""
    answer = client.get(f"/app/launch?iss={OWN_FHIR}")
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_launch_redirect_names_the_authorize_endpoint_of_the_iss(
    client: CheckedClient,
) -> None:
    """The browser goes to the EHR's authorization endpoint, not anywhere the request says."""
    location = redirected(client.get(f"/app/launch?iss={OWN_FHIR}&launch=x"))
    assert location.split("?")[0] == f"{OWN_FHIR}/auth/authorize"


@pytest.mark.parametrize(
    "iss", ["javascript:alert(1)", "http://user:pw@localhost/fhir", "http://localhost/fhir-admin"]
)
def test_an_iss_that_is_not_a_plain_url_of_the_own_fhir_is_refused(
    client: CheckedClient, iss: str
) -> None:
    """Not a URL, a URL naming a user, a look-alike path: the 400 page."""
    answer = client.get("/app/launch", query_string={"iss": iss})
    assert answer.status_code == 400 and NOT_ALLOWED in page_text(answer)
