"""`/fhir`: the read-only R4 endpoint over the fixtures, as a CDS client uses it.

The prefetch-filling client below follows the CDS Hooks 2.0.1 rules ("Prefetch
Template", "Prefetch tokens"): it substitutes `{{context.patientId}}` in each template
of discovery, asks `POST {base}/{Type}/_search` with the query as a form body first and
falls back to `GET`, as the public sandbox does.
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import parse_qsl

from service.cards import patient_view_cards
from tests.cds_conformance import assert_conforms
from tests.http.support import SERVICE_IDS, CheckedClient
from tests.test_cards import evaluation_of

BASE = "http://localhost/fhir"
TOKEN = re.compile(r"\{\{\s*context\.(\w+)\s*\}\}")


def fill_prefetch(
    client: CheckedClient, templates: dict[str, str], context: dict[str, str]
) -> dict[str, Any]:
    """Prefetch as a CDS client fills it: substitute tokens, POST _search, else GET."""
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = TOKEN.sub(lambda m: context[m.group(1)], template)
        path, _, params = query.partition("?")
        if not params:
            response = client.get(f"/fhir/{path}")
        else:
            response = client.post(f"/fhir/{path}/_search", data=dict(parse_qsl(params)))
            if response.status_code in (404, 405):
                response = client.get(f"/fhir/{query}")
        if response.status_code == 200:
            prefetch[key] = response.get_json()
    return prefetch


def sandbox_call(client: CheckedClient, patient_id: str) -> Any:
    """The sandbox flow: discovery, each template filled from /fhir, patient-view called."""
    service = next(
        s for s in client.get("/cds-services").get_json()["services"] if s["hook"] == "patient-view"
    )
    context = {"patientId": patient_id, "userId": "Practitioner/example"}
    prefetch = fill_prefetch(client, service["prefetch"], context)
    assert set(prefetch) == set(service["prefetch"])
    request = {
        "hook": "patient-view",
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch,
    }
    assert service["id"] == SERVICE_IDS["patient-view"]
    return client.post(f"/cds-services/{service['id']}", json=request)


def test_capability_statement_names_r4_and_the_searchable_types(client: CheckedClient) -> None:
    """/fhir/metadata is an R4 (4.0.1) CapabilityStatement naming the searchable types."""
    body = client.get("/fhir/metadata").get_json()
    assert (body["resourceType"], body["fhirVersion"]) == ("CapabilityStatement", "4.0.1")
    kinds = {r["type"] for r in body["rest"][0]["resource"]}
    assert {"Patient", "Condition", "MedicationStatement", "Observation"} <= kinds


def test_read_and_unknown_id(client: CheckedClient) -> None:
    """A read answers application/fhir+json; an unknown id is a 404 OperationOutcome."""
    found = client.get("/fhir/Patient/third-line")
    assert found.status_code == 200 and found.mimetype == "application/fhir+json"
    assert found.get_json()["id"] == "third-line"
    missing = client.get("/fhir/Patient/nobody")
    assert missing.status_code == 404
    assert missing.get_json()["resourceType"] == "OperationOutcome"


def test_plain_patient_listing_pages_with_next_links(client: CheckedClient) -> None:
    """_count=10 over the fixture patients: follow link[next] to the end, each once."""
    seen: list[str] = []
    url = "/fhir/Patient?_count=10"
    pages = 0
    while url:
        body = client.get(url).get_json()
        pages += 1
        seen.extend(e["resource"]["id"] for e in body["entry"])
        following = [link["url"] for link in body["link"] if link["relation"] == "next"]
        url = following[0].removeprefix("http://localhost") if following else ""
    assert len(seen) == len(set(seen)) == body["total"]
    assert pages == -(-body["total"] // 10)


def test_search_by_patient_subject_and_id(client: CheckedClient) -> None:
    """`patient=` and `subject=Patient/` find the same resources; `_id=` finds exactly one."""
    by_patient = client.get("/fhir/MedicationStatement?patient=third-line").get_json()
    by_subject = client.get("/fhir/MedicationStatement?subject=Patient/third-line").get_json()
    assert by_patient["total"] == by_subject["total"] == 8
    one = client.get("/fhir/Condition?_id=third-line-c1").get_json()
    assert [e["resource"]["id"] for e in one["entry"]] == ["third-line-c1"]


def test_post_search_reads_a_form_body(client: CheckedClient) -> None:
    """POST `_search` with a form body searches like a GET query."""
    response = client.post("/fhir/Condition/_search", data={"patient": "third-line"})
    assert response.status_code == 200
    assert response.get_json()["total"] == 1


def test_bad_count_is_a_json_400(client: CheckedClient) -> None:
    """A `_count` that is not a number is a 400 OperationOutcome."""
    response = client.get("/fhir/Patient?_count=many")
    assert response.status_code == 400
    assert response.get_json()["resourceType"] == "OperationOutcome"


def test_every_answer_carries_cors_headers(client: CheckedClient) -> None:
    """The sandbox calls the FHIR server from the browser."""
    origin = {"Origin": "http://localhost:3000"}
    for response in (
        client.get("/fhir/metadata", headers=origin),
        client.get("/fhir/Patient/third-line", headers=origin),
        client.post("/fhir/Observation/_search", data={"patient": "third-line"}, headers=origin),
        client.get("/fhir/Patient/nobody", headers=origin),
    ):
        assert response.headers.get("Access-Control-Allow-Origin") in ("*", origin["Origin"])
    preflight = client.options(
        "/fhir/Observation/_search",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 200
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]


def test_prefetch_filled_from_fhir_gives_the_fixture_cards(client: CheckedClient) -> None:
    """Sandbox flow: discovery, fill each template from /fhir, call patient-view."""
    response = sandbox_call(client, "third-line")
    body = response.get_json()
    assert_conforms("ServiceResponse", body)
    expected = patient_view_cards(evaluation_of("third-line"), base_url="http://localhost")
    assert [(c["summary"], c["indicator"]) for c in body["cards"]] == [
        (c["summary"], c["indicator"]) for c in expected
    ]


def test_include_medication_brings_the_referenced_medications(client: CheckedClient) -> None:
    """`_include=MedicationStatement:medication`, as the service's templates ask."""
    body = client.get(
        "/fhir/MedicationStatement?patient=medication-reference&_include=MedicationStatement:medication"
    ).get_json()
    modes = {(e["resource"]["resourceType"], e["search"]["mode"]) for e in body["entry"]}
    assert ("Medication", "include") in modes
    plain = client.get("/fhir/MedicationStatement?patient=medication-reference").get_json()
    assert plain["entry"]
    assert all(e["resource"]["resourceType"] == "MedicationStatement" for e in plain["entry"])


def test_sandbox_flow_keeps_drugs_named_by_medication_reference(client: CheckedClient) -> None:
    """medication-reference via /fhir prefetch: the same lines as the fixture file."""
    response = sandbox_call(client, "medication-reference")
    expected = patient_view_cards(
        evaluation_of("medication-reference"), base_url="http://localhost"
    )
    assert [c["summary"] for c in response.get_json()["cards"]] == [c["summary"] for c in expected]
    assert not any("medicationReference" in c["detail"] for c in response.get_json()["cards"])
