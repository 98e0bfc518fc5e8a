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
