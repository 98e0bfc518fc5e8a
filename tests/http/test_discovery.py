"""Discovery (`GET /cds-services`) and CORS for browser-based CDS clients."""

from __future__ import annotations

import re

import pytest

from service.fhir import OBSERVATION_CODES
from service.hooks import SERVICES
from tests.http.conftest import AppFactory
from tests.http.support import SERVICE_IDS, CheckedClient

ORIGIN = "https://sandbox.cds-hooks.org"
PREFETCH_KEYS = {
    "patient",
    "conditions",
    "medicationStatements",
    "medicationRequests",
    "medicationAdministrations",
    "observations",
    "procedures",
}
# "Prefetch tokens": context fields and the four user identifiers, nothing else.
_TOKEN = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
_ALLOWED_TOKENS = {
    "context.patientId",
    "context.userId",
    "context.encounterId",
    "userPractitionerId",
    "userPractitionerRoleId",
    "userPatientId",
    "userRelatedPersonId",
}


def test_discovery_lists_the_three_contract_services(client: CheckedClient) -> None:
    """The ids and hooks of CONTRACT.md, each with a title and a description."""
    response = client.get("/cds-services")
    assert response.status_code == 200
    services = response.json["services"]
    assert {s["hook"]: s["id"] for s in services} == SERVICE_IDS
    for entry in services:
        assert entry["title"] and entry["description"] and entry["usageRequirements"]


def test_discovery_is_generated_from_the_registry(client: CheckedClient) -> None:
    """One entry per registered service, in registry order."""
    ids = [s["id"] for s in client.get("/cds-services").json["services"]]
    assert ids == [service.id for service in SERVICES]


@pytest.mark.parametrize("hook", sorted(SERVICE_IDS))
def test_every_service_declares_prefetch_for_the_data_it_reads(
    client: CheckedClient, hook: str
) -> None:
    """Patient, Condition, the three medication resources, the rules' Observations and
    the Procedures (v3 §1)."""
    entry = next(s for s in client.get("/cds-services").json["services"] if s["hook"] == hook)
    prefetch = entry["prefetch"]
    assert set(prefetch) == PREFETCH_KEYS
    assert prefetch["patient"] == "Patient/{{context.patientId}}"
    assert prefetch["conditions"] == "Condition?patient={{context.patientId}}"
    for key, kind in [
        ("medicationStatements", "MedicationStatement"),
        ("medicationRequests", "MedicationRequest"),
        ("medicationAdministrations", "MedicationAdministration"),
    ]:
        assert prefetch[key].startswith(f"{kind}?patient={{{{context.patientId}}}}")
    kind, _, query = prefetch["observations"].partition("?")
    params = dict(p.split("=", 1) for p in query.split("&"))
    assert kind == "Observation"
    assert set(params["code"].split(",")) == OBSERVATION_CODES
    assert prefetch["procedures"] == "Procedure?patient={{context.patientId}}"


def test_prefetch_templates_use_only_specified_tokens(client: CheckedClient) -> None:
    """Every `{{token}}` is a context field or a user identifier of the spec."""
    for entry in client.get("/cds-services").json["services"]:
        for template in entry["prefetch"].values():
            tokens = set(_TOKEN.findall(template))
            assert tokens and tokens <= _ALLOWED_TOKENS, template


@pytest.mark.parametrize(
    "path",
    [
        "/cds-services",
        "/cds-services/sclc-relapse-patient-view",
        "/cds-services/sclc-relapse-order-select",
        "/cds-services/sclc-relapse-order-sign",
        "/cds-services/sclc-relapse-patient-view/feedback",
        "/cds-services/sclc-relapse-order-sign/feedback",
    ],
)
def test_cors_preflight_is_answered(client: CheckedClient, path: str) -> None:
    """A browser's preflight gets the origin, POST/GET and Authorization, Content-Type."""
    response = client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST" if path != "/cds-services" else "GET",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] in (ORIGIN, "*")
    allowed = {
        h.strip().lower() for h in response.headers["Access-Control-Allow-Headers"].split(",")
    }
    assert {"authorization", "content-type"} <= allowed
    methods = response.headers["Access-Control-Allow-Methods"]
    assert "POST" in methods and "GET" in methods


def test_preflight_names_the_headers_even_when_not_asked(client: CheckedClient) -> None:
    """Access-Control-Allow-Headers is exactly Authorization, Content-Type."""
    response = client.options(
        "/cds-services", headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    )
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"


def test_a_public_page_may_call_the_service_on_localhost(client: CheckedClient) -> None:
    """Chrome's Private Network Access preflight (sandbox on https calling localhost) is granted."""
    response = client.options(
        "/cds-services",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"


def test_cors_headers_are_on_errors_too(client: CheckedClient) -> None:
    """A browser can read a 404's OperationOutcome (the origin is allowed)."""
    response = client.post("/cds-services/nope", json={}, headers={"Origin": ORIGIN})
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] in (ORIGIN, "*")


def test_cors_origins_can_be_restricted(make_app: AppFactory) -> None:
    """With SCLC_CDS_CORS_ORIGINS set, another origin gets no CORS grant."""
    app = make_app(CORS_ORIGINS="https://ehr.example.org")
    client = app.test_client()
    allowed = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    other = client.get("/cds-services", headers={"Origin": ORIGIN})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://ehr.example.org"
    assert "Access-Control-Allow-Origin" not in other.headers
