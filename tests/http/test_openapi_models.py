"""/openapi.json holds the wire models' own schemas, and what the service sends and
accepts matches the document (service.wire is written once and the document follows)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from service import wire
from service.errors import InputError
from tests.http.support import SERVICE_IDS, CheckedClient, hook_request

EXAMPLES = (
    Path(__file__).resolve().parents[2].parent / "shared" / "cds-hooks" / "spec-2.0.1-examples"
)
PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"


def validator(document: dict[str, Any], schema: str) -> Draft202012Validator:
    """A validator of one component, resolving `#/components/...` in the document."""
    root = {"$ref": f"#/components/schemas/{schema}", "components": document["components"]}
    return Draft202012Validator(root)


def test_the_document_holds_the_wire_models_schemas(client: CheckedClient) -> None:
    """Every CDS Hooks component of /openapi.json is exactly the model's generated schema."""
    components = client.get("/openapi.json").json["components"]["schemas"]
    schemas = wire.openapi_schemas()
    assert schemas
    for name, schema in schemas.items():
        assert components[name] == schema, name


def test_the_order_select_context_requires_what_the_code_requires(client: CheckedClient) -> None:
    """The drift that was: the document said only patientId was required for order-select."""
    components = client.get("/openapi.json").json["components"]["schemas"]
    assert set(components["OrderSelectContext"]["required"]) == {
        "patientId",
        "draftOrders",
        "selections",
    }
    with pytest.raises(InputError, match="context.selections is required"):
        wire.parse(
            wire.OrderSelectContext,
            {"patientId": "p1", "draftOrders": {"resourceType": "Bundle"}},
            where="context",
        )


def test_answers_match_the_document(client: CheckedClient) -> None:
    """Discovery, a hook's cards and a feedback answer validate against their components."""
    document = client.get("/openapi.json").json
    validator(document, "DiscoveryResponse").validate(client.get("/cds-services").json)
    cards = client.post(PATIENT_VIEW, json=hook_request()).json
    assert cards["cards"]
    validator(document, "ServiceResponse").validate(cards)
    feedback = {
        "feedback": [
            {
                "card": cards["cards"][0]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2026-11-21T10:05:31Z",
            }
        ]
    }
    validator(document, "FeedbackRequest").validate(feedback)
    answer = client.post(f"{PATIENT_VIEW}/feedback", json=feedback).json
    validator(document, "FeedbackResponse").validate(answer)


@pytest.mark.parametrize(
    ("example", "schema", "model"),
    [
        ("service-request-patient-view.json", "ServiceRequest", wire.ServiceRequest),
        ("service-request-with-extension.json", "ServiceRequest", wire.ServiceRequest),
        ("feedback-accepted.json", "FeedbackRequest", wire.FeedbackRequest),
        ("feedback-overridden.json", "FeedbackRequest", wire.FeedbackRequest),
        ("feedback-overridden-with-reason.json", "FeedbackRequest", wire.FeedbackRequest),
    ],
)
def test_the_specifications_examples_are_accepted_by_model_and_document(
    client: CheckedClient, example: str, schema: str, model: Any
) -> None:
    """The 2.0.1 text's own request examples pass both the models and the document."""
    data = json.loads((EXAMPLES / example).read_text())
    parsed = wire.parse(model, data)
    assert parsed.model_dump(mode="json", exclude_unset=True) == data  # every field kept
    errors = validator(client.get("/openapi.json").json, schema).iter_errors(data)
    assert [error.message for error in errors] == []


def test_a_bad_value_is_named_by_its_field_never_echoed() -> None:
    """Error messages come from field locations and our words, not from what was sent."""
    patient_text = "Jane Doe 1961-02-03"
    with pytest.raises(InputError) as caught:
        wire.parse(wire.FeedbackRequest, {"feedback": [{"card": "c", "outcome": patient_text}]})
    assert str(caught.value) == "feedback[0].outcome must be 'accepted' or 'overridden'"
    with pytest.raises(InputError) as caught:
        wire.parse(
            wire.ServiceRequest,
            {
                "hook": "patient-view",
                "hookInstance": "x",
                "context": {},
                "fhirServer": patient_text,
            },
        )
    assert patient_text not in str(caught.value)
    assert str(caught.value) == "fhirServer must be an absolute http(s) URL"
