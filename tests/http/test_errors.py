"""Errors are JSON OperationOutcomes with the right status, never HTML or a traceback."""

from __future__ import annotations

import json
from typing import Any

import pytest

import service.pipeline
from tests.http.conftest import AppFactory
from tests.http.support import SERVICE_IDS, CheckedClient, hook_request

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
ORDER_SELECT = f"/cds-services/{SERVICE_IDS['order-select']}"
ORDER_SIGN = f"/cds-services/{SERVICE_IDS['order-sign']}"


def outcome(response: Any, status: int, code: str) -> str:
    """The diagnostics of an error response, after checking its status and shape."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/json"
    body = response.json
    assert body["resourceType"] == "OperationOutcome"
    (issue,) = body["issue"]
    assert issue["severity"] == "error"
    assert issue["code"] == code
    return str(issue["diagnostics"])


def test_malformed_json_is_400_with_where(client: CheckedClient) -> None:
    """A body that does not parse: 400 saying line and column."""
    response = client.post(PATIENT_VIEW, data='{"hook": ', content_type="application/json")
    assert "not valid JSON (line 1, column 10" in outcome(response, 400, "invalid")


def test_a_body_that_is_not_utf8_is_400(client: CheckedClient) -> None:
    """Bytes that are not UTF-8 JSON: 400."""
    response = client.post(PATIENT_VIEW, data=b'{"a": "\xff"}', content_type="application/json")
    assert "not UTF-8" in outcome(response, 400, "invalid")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_a_wrong_content_type_is_400(client: CheckedClient, content_type: str | None) -> None:
    """Only JSON content types are read, whatever the body holds."""
    body = json.dumps(hook_request())
    response = client.post(PATIENT_VIEW, data=body, content_type=content_type)
    assert "Content-Type: application/json" in outcome(response, 400, "invalid")


def test_json_with_a_charset_or_fhir_type_is_read(client: CheckedClient) -> None:
    """`application/json; charset=utf-8` and `application/fhir+json` are JSON."""
    body = json.dumps(hook_request())
    for content_type in ("application/json; charset=utf-8", "application/fhir+json"):
        assert client.post(PATIENT_VIEW, data=body, content_type=content_type).status_code == 200


def _without(path: str, hook: str = "order-select") -> dict[str, Any]:
    request = hook_request(hook)
    *parents, leaf = path.split(".")
    target = request
    for parent in parents:
        target = target[parent]
    del target[leaf]
    return request


@pytest.mark.parametrize(
    ("url", "body", "expected"),
    [
        (PATIENT_VIEW, [], "must be a JSON object"),
        (PATIENT_VIEW, {**hook_request(), "hook": None}, "hook must be a string"),
        (
            PATIENT_VIEW,
            {k: v for k, v in hook_request().items() if k != "hook"},
            "hook is required",
        ),
        (ORDER_SELECT, _without("hookInstance"), "hookInstance is required"),
        (ORDER_SELECT, {**hook_request("order-select"), "hookInstance": ""}, "hookInstance"),
        (ORDER_SELECT, _without("context"), "context is required"),
        (ORDER_SELECT, {**hook_request("order-select"), "context": "p1"}, "context must be a JSON"),
        (ORDER_SELECT, _without("context.patientId"), "context.patientId is required"),
        (ORDER_SELECT, _without("context.selections"), "context.selections is required"),
        (ORDER_SELECT, _without("context.draftOrders"), "context.draftOrders is required"),
        (ORDER_SIGN, _without("context.draftOrders", "order-sign"), "context.draftOrders is"),
        (PATIENT_VIEW, {**hook_request(), "prefetch": []}, "prefetch must be a JSON object"),
        (PATIENT_VIEW, {**hook_request(), "fhirServer": "ftp://x"}, "fhirServer must be"),
    ],
)
def test_a_malformed_request_is_400_naming_the_field(
    client: CheckedClient, url: str, body: Any, expected: str
) -> None:
    """Each REQUIRED field of the request and the hook's context is checked."""
    assert expected in outcome(client.post(url, json=body), 400, "invalid")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"patientId": ""}, "context.patientId must not be blank"),
        ({"patientId": 7}, "context.patientId must be a string"),
        ({"selections": []}, "context.selections must not be empty"),
        ({"selections": [3]}, "context.selections[0] must be a string"),
        ({"draftOrders": {"resourceType": "Patient"}}, "context.draftOrders.resourceType must be"),
        ({"userId": ""}, "context.userId must not be blank"),
    ],
)
def test_a_malformed_context_is_400(
    client: CheckedClient, change: dict[str, Any], expected: str
) -> None:
    """Context values of the wrong type are refused, naming the field."""
    request = hook_request("order-select")
    request["context"].update(change)
    assert expected in outcome(client.post(ORDER_SELECT, json=request), 400, "invalid")


def test_a_prefetch_value_that_is_not_a_resource_is_400(client: CheckedClient) -> None:
    """Prefetch values are FHIR resources or null."""
    request = hook_request()
    request["prefetch"]["conditions"] = "Condition?patient=1"
    assert "prefetch.conditions must be a JSON object" in outcome(
        client.post(PATIENT_VIEW, json=request), 400, "invalid"
    )


def test_the_wrong_hook_for_the_service_is_400(client: CheckedClient) -> None:
    """patient-view's service refuses an order-sign call, naming both hooks."""
    diagnostics = outcome(
        client.post(PATIENT_VIEW, json=hook_request("order-sign")), 400, "invalid"
    )
    assert diagnostics == "this service answers the patient-view hook, not 'order-sign'"


def test_an_odd_hook_value_is_not_echoed(client: CheckedClient) -> None:
    """A hook that is not a plain token is not repeated back (it could hold anything)."""
    request = {**hook_request(), "hook": "<script>alert(1)</script>"}
    assert "script" not in outcome(client.post(PATIENT_VIEW, json=request), 400, "invalid")


def test_an_oversized_body_is_413(make_app: AppFactory) -> None:
    """A body over SCLC_CDS_MAX_BODY_BYTES: 413, before it is read."""
    client = make_app(MAX_BODY_BYTES=2048).test_client()
    request = hook_request()
    assert len(json.dumps(request)) > 2048
    diagnostics = outcome(client.post(PATIENT_VIEW, json=request), 413, "too-costly")
    assert "larger than" in diagnostics
    feedback = client.post(
        f"{PATIENT_VIEW}/feedback", data="x" * 4096, content_type="application/json"
    )
    outcome(feedback, 413, "too-costly")


@pytest.mark.parametrize(
    "path", ["/cds-services/no-such-service", "/cds-services/no-such-service/feedback"]
)
def test_an_unknown_service_is_404(client: CheckedClient, path: str) -> None:
    """A service id the registry does not hold: 404."""
    assert "no CDS service" in outcome(client.post(path, json=hook_request()), 404, "not-found")


def test_an_unknown_path_is_404_json(client: CheckedClient) -> None:
    """Any other URL: a JSON 404, not Werkzeug's HTML page."""
    response = client.get("/nothing/here")
    assert "no such endpoint" in outcome(response, 404, "not-found")
    assert "<html" not in response.get_data(as_text=True).lower()


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", PATIENT_VIEW, "POST"),
        ("PUT", PATIENT_VIEW, "POST"),
        ("POST", "/cds-services", "GET"),
        ("DELETE", "/cds-services", "GET"),
        ("GET", f"{PATIENT_VIEW}/feedback", "POST"),
        ("POST", "/healthz", "GET"),
        ("POST", "/openapi.json", "GET"),
    ],
)
def test_a_wrong_method_is_405_with_allow(
    client: CheckedClient, method: str, path: str, allowed: str
) -> None:
    """405 as an OperationOutcome, and the Allow header names the right method."""
    response = client.open(path, method=method, json={})
    outcome(response, 405, "not-supported")
    assert allowed in response.headers["Allow"]


def test_an_unexpected_failure_is_500_without_details(
    client: CheckedClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bug gives a JSON 500; the log names the class only, never the message."""

    def broken(evaluation: Any, **options: Any) -> Any:
        raise RuntimeError("Jane Doe, born 1961-02-03, MRN 99812")

    monkeypatch.setattr(service.pipeline, "patient_view_cards", broken)
    response = client.post(PATIENT_VIEW, json=hook_request())
    diagnostics = outcome(response, 500, "exception")
    assert "Jane" not in diagnostics and "Traceback" not in response.get_data(as_text=True)
    err = capsys.readouterr().err
    assert "RuntimeError" in err
    assert "Jane" not in err and "99812" not in err and "Traceback" not in err
