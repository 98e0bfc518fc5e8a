"""Hostile JSON bodies get 400, never 500 (issue 9: nesting and number size limits)."""

from __future__ import annotations

import pytest

from service.hooks.body import MAX_DEPTH, MAX_NUMBER_DIGITS
from tests.http.support import SERVICE_IDS, CheckedClient

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
ENDPOINTS = [PATIENT_VIEW, f"{PATIENT_VIEW}/feedback", "/demo/api/evaluate"]


@pytest.mark.parametrize("url", ENDPOINTS)
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests deeper than"),
        ('{"a": ' * 5_000 + "1" + "}" * 5_000, "nests deeper than"),
        ('{"hook": ' + "9" * 5_000 + "}", f"more than {MAX_NUMBER_DIGITS} digits"),
        ('{"n": 1' + "0" * 5_000 + ".5}", "a decimal too large to read"),
        ('{"n": [1.5, -1e400]}', "a decimal too large to read"),
    ],
)
def test_deep_nesting_and_huge_numbers_are_400(
    client: CheckedClient, url: str, body: str, reason: str
) -> None:
    """100k nested brackets, a 5,000-digit integer, an infinite decimal: a JSON 400
    naming the limit."""
    response = client.post(url, data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.content_type == "application/json"
    assert reason in response.json["issue"][0]["diagnostics"]


def test_nesting_at_the_limit_is_read(client: CheckedClient) -> None:
    """MAX_DEPTH levels pass the reader (then fail as a request, with 400, not 413/500)."""
    body = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    response = client.post(PATIENT_VIEW, data=body, content_type="application/json")
    assert response.status_code == 400
    assert "nests deeper" not in response.json["issue"][0]["diagnostics"]


def test_a_record_repeating_one_problem_gets_a_small_answer(client: CheckedClient) -> None:
    """Issue 19 point 8: 15,000 drug records of an unknown code made "Check the record"
    list every one (a 4.9 MB answer). The list now shows three of a kind and counts the
    rest, each item names at most ten records, and the answer stays under 64 KB."""
    from tests.http.support import fixture_bundle, hook_request

    bundle = fixture_bundle("sensitive-late-relapse")
    patient = next(e["resource"]["id"] for e in bundle["entry"] if "birthDate" in e["resource"])
    bundle["entry"] += [
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": f"unknown{i}",
                "status": "completed",
                "subject": {"reference": f"Patient/{patient}"},
                "medicationCodeableConcept": {
                    "coding": [{"system": "http://example.org/local-drugs", "code": f"X{i}"}]
                },
                "effectiveDateTime": "2026-02-02",
            }
        }
        for i in range(15_000)
    ]
    response = client.post(PATIENT_VIEW, json=hook_request(bundle=bundle))
    assert response.status_code == 200
    assert len(response.data) < 64 * 1024, len(response.data)
    summary = response.json["cards"][0]["detail"]
    assert summary.count("unidentified medication") == 4  # three items and the count
    assert "… and 14,997 more records of the same kind: unidentified medication." in summary
    assert "and 14,990 more" in summary  # the records named by "not placed in a line"
