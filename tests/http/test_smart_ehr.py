"""The fixture `/fhir` as a SMART EHR: discovery, the sandbox's launch endpoint, the demo
authorization server (PKCE S256 required, codes used once, aud and redirect checked),
and `/fhir` behind its tokens when SCLC_CDS_DEMO_FHIR_AUTH says so."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.http.conftest import AppFactory
from tests.http.smart_flow import APP_LAUNCH, OWN_FHIR, approve, query, token_for, with_query
from tests.http.support import CheckedClient, fixture_bundle, hook_request

CALLBACK = "http://localhost/app/callback"
BEARER = "Bearer"  # noqa: S105 - the token type, not a secret
VERIFIER = "a-verifier-of-the-app-" + "x" * 30


def authorize_url(**changes: str) -> str:
    """A standalone authorization request for sensitive-late-relapse (changes applied)."""
    params = {
        "response_type": "code",
        "client_id": "sclc-relapse-app",
        "redirect_uri": CALLBACK,
        "scope": "launch/patient patient/Patient.rs patient/Condition.read",
        "state": "the-state-of-the-app",
        "aud": OWN_FHIR,
        "patient": "sensitive-late-relapse",
        "code_challenge": create_s256_code_challenge(VERIFIER),
        "code_challenge_method": "S256",
    }
    return with_query(f"{OWN_FHIR}/auth/authorize", **{**params, **changes})


def redeem(client: CheckedClient, code: str, **changes: str) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": "sclc-relapse-app",
        "code_verifier": VERIFIER,
        **changes,
    }
    return client.post("/fhir/auth/token", data={k: v for k, v in form.items() if v})


def test_smart_configuration_offers_s256_v1_v2_and_both_launches(client: CheckedClient) -> None:
    """Discovery: the endpoints under /fhir, S256 only, v2 and v1 read scopes, and the
    capabilities SMART 2.0 names for EHR and standalone launch of a public client."""
    config = client.get("/fhir/.well-known/smart-configuration").get_json()
    assert config["authorization_endpoint"] == f"{OWN_FHIR}/auth/authorize"
    assert config["token_endpoint"] == f"{OWN_FHIR}/auth/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert {"patient/Observation.rs", "patient/Observation.read"} <= set(config["scopes_supported"])
    assert {
        "launch-ehr",
        "launch-standalone",
        "client-public",
        "context-ehr-patient",
        "context-standalone-patient",
        "permission-v2",
        "permission-v1",
    } <= set(config["capabilities"])


def test_the_sandbox_launch_endpoint_names_a_fixture_patient(client: CheckedClient) -> None:
    """POST _services/smart/Launch: a launch id for a fixture patient; 400 for another."""
    ok = client.post(
        "/fhir/_services/smart/Launch",
        json={"launchUrl": APP_LAUNCH, "parameters": {"patient": "third-line"}},
    )
    assert ok.status_code == 200 and ok.get_json()["launch_id"]
    for parameters in ({"patient": "nobody"}, {}, {"patient": "third-line", "appContext": 3}):
        bad = client.post(
            "/fhir/_services/smart/Launch",
            json={"launchUrl": APP_LAUNCH, "parameters": parameters},
        )
        assert bad.status_code == 400


def test_a_code_is_redeemed_only_with_its_pkce_verifier_and_only_once(
    client: CheckedClient,
) -> None:
    """A wrong or missing verifier is refused (and does not spend the code); the right one
    gets a Bearer token with the patient; a second use of the code is refused."""
    code = query(approve(client, authorize_url()))["code"]
    wrong = redeem(client, code, code_verifier="z" * 43)
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "invalid_grant"
    missing = redeem(client, code, code_verifier="")
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"
    token = redeem(client, code)
    assert token.status_code == 200, token.get_json()
    body = token.get_json()
    assert body["token_type"] == BEARER and body["patient"] == "sensitive-late-relapse"
    assert body["scope"] == "launch/patient patient/Patient.rs patient/Condition.read"
    assert body["expires_in"] > 0 and body["access_token"]
    again = redeem(client, code)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "changes",
    [
        {"code_challenge": "", "code_challenge_method": ""},
        {"code_challenge_method": "plain", "code_challenge": VERIFIER},
        {"aud": "http://elsewhere.example/fhir"},
        {"patient": "nobody"},
        {"scope": "launch patient/Patient.rs", "patient": ""},  # EHR launch without a launch
        {"scope": "launch patient/Patient.rs", "launch": "forged"},
        {"scope": "launch/patient patient/Encounter.rs"},  # beyond what the server offers
    ],
    ids=[
        "no-pkce",
        "plain-pkce",
        "wrong-aud",
        "unknown-patient",
        "no-launch",
        "forged-launch",
        "unoffered-scope",
    ],
)
def test_bad_authorization_requests_go_back_to_the_app_with_an_error(
    client: CheckedClient, changes: dict[str, str]
) -> None:
    """Each bad request returns to the app's redirect_uri with an error and the state."""
    back = approve(client, authorize_url(**{k: v for k, v in changes.items()}))
    assert back.startswith(CALLBACK)
    assert query(back)["error"] in ("invalid_request", "invalid_scope")
    assert query(back)["state"] == "the-state-of-the-app"


@pytest.mark.parametrize(
    "changes",
    [{"redirect_uri": "https://attacker.example/steal"}, {"client_id": "another-app"}],
    ids=["foreign-redirect", "unknown-client"],
)
def test_no_redirect_to_an_unknown_client_or_a_foreign_uri(
    client: CheckedClient, changes: dict[str, str]
) -> None:
    """A redirect_uri off the service, or an unknown client: an error here, no redirect."""
    answer = client.get(authorize_url(**changes))
    assert answer.status_code == 400
    assert answer.get_json()["error"] in ("invalid_request", "invalid_client")


def test_fhir_stays_open_without_demo_fhir_auth(client: CheckedClient) -> None:
    """By default /fhir needs no token (the sandbox and the hook tests rely on it)."""
    assert client.get("/fhir/Patient/third-line").status_code == 200


def test_demo_fhir_auth_requires_a_token_granting_the_patient(make_app: AppFactory) -> None:
    """DEMO_FHIR_AUTH: no token or a forged one 401; a token 200 for its patient's
    records and 403 for another's or an ungranted type; discovery and metadata open."""
    client: CheckedClient = make_app(DEMO_FHIR_AUTH=True).test_client()  # type: ignore[assignment]
    assert client.get("/fhir/Patient/third-line").status_code == 401
    forged = {"Authorization": "Bearer not-a-token"}
    assert client.get("/fhir/Patient/third-line", headers=forged).status_code == 401
    bearer = {"Authorization": f"Bearer {token_for(client, 'third-line')}"}
    assert client.get("/fhir/Patient/third-line", headers=bearer).status_code == 200
    search = client.post(
        "/fhir/Observation/_search", data={"patient": "third-line"}, headers=bearer
    )
    assert search.status_code == 200 and search.get_json()["entry"]
    assert client.get("/fhir/Patient/sensitive-late-relapse", headers=bearer).status_code == 403
    assert client.get("/fhir/Observation?patient=another", headers=bearer).status_code == 403
    assert client.get("/fhir/Observation", headers=bearer).status_code == 403
    assert client.get("/fhir/Condition?patient=third-line", headers=bearer).status_code == 403
    assert client.get("/fhir/metadata").status_code == 200
    assert client.get("/fhir/.well-known/smart-configuration").status_code == 200


def test_the_hook_reads_a_protected_own_fhir_with_the_requests_authorization(
    make_app: AppFactory,
) -> None:
    """DEMO_FHIR_AUTH: a hook call on the own /fhir without prefetch needs its
    fhirAuthorization; with the EHR's token it answers the cards."""
    client: CheckedClient = make_app(DEMO_FHIR_AUTH=True).test_client()  # type: ignore[assignment]
    request = hook_request(bundle=fixture_bundle("third-line"), prefetch={}, fhirServer=OWN_FHIR)
    without = client.post("/cds-services/sclc-relapse-patient-view", json=request)
    assert without.status_code == 412
    from tests.http.smart_flow import grant_of, sign_in

    sign_in(client, "third-line")
    token = grant_of(client)["access_token"]
    request["fhirAuthorization"] = {
        "access_token": token,
        "token_type": BEARER,
        "expires_in": 300,
        "scope": "patient/Patient.rs",
        "subject": "sclc-relapse-patient-view",
    }
    with_token = client.post("/cds-services/sclc-relapse-patient-view", json=request)
    assert with_token.status_code == 200 and with_token.get_json()["cards"]


def test_in_process_answers_name_the_host_the_app_called(client: CheckedClient) -> None:
    """Read in process at 127.0.0.1:8080, the configuration's endpoints and a search's
    next link point there (where the browser and the FHIR client go), not at localhost."""
    from flask import Flask

    from service.http.inprocess import in_process_session

    app: Flask = client.application
    base = "http://127.0.0.1:8080/fhir"
    with in_process_session(app, base) as session:
        config = session.get(f"{base}/.well-known/smart-configuration").json()
        page = session.get(f"{base}/Observation?patient=third-line&_count=1").json()
    assert config["authorization_endpoint"] == f"{base}/auth/authorize"
    next_link = next(link["url"] for link in page["link"] if link["relation"] == "next")
    assert next_link.startswith(f"{base}/Observation?")
