"""One JSON line per hook call on stderr, without PHI (STYLE §13)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.http.conftest import AppFactory
from tests.http.support import (
    SERVICE_IDS,
    CheckedClient,
    fixture_bundle,
    hook_request,
    patient_of,
    serving,
)

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
TOKEN = "secret-fhir-token-77a2"  # noqa: S105 - a fake token of the tests


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_one_line_per_hook_call(client: CheckedClient, capsys: pytest.CaptureFixture[str]) -> None:
    """Service id, hookInstance, card count, status and duration; nothing else."""
    capsys.readouterr()
    request = hook_request()
    response = client.post(PATIENT_VIEW, json=request)
    (line,) = lines(capsys)
    assert set(line) == {
        "time",
        "event",
        "service",
        "hookInstance",
        "cards",
        "status",
        "duration_ms",
    }
    assert line["event"] == "hook"
    assert line["service"] == SERVICE_IDS["patient-view"]
    assert line["hookInstance"] == request["hookInstance"]
    assert line["cards"] == len(response.json["cards"])
    assert line["status"] == 200
    assert line["duration_ms"] >= 0


def test_failed_calls_are_logged_with_their_status(
    client: CheckedClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """400, 404 and 412 calls have their line too, with no card count."""
    capsys.readouterr()
    client.post(PATIENT_VIEW, json={"hook": "patient-view"})
    client.post("/cds-services/unknown", json=hook_request())
    client.post(PATIENT_VIEW, json=hook_request(prefetch={}))
    logged = lines(capsys)
    assert [(line["service"], line["status"]) for line in logged] == [
        (SERVICE_IDS["patient-view"], 400),
        ("(unknown)", 404),
        (SERVICE_IDS["patient-view"], 412),
    ]
    assert all("cards" not in line for line in logged)


def test_no_phi_token_or_jwt_reaches_the_log(
    make_app: AppFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Patient id, birth date, names, the FHIR token and the JWT never appear."""
    bundle = fixture_bundle()
    patient = patient_of(bundle)
    bundle["entry"][0]["resource"]["name"] = [{"family": "Quixotically", "given": ["Wilhelmina"]}]
    jwt_text = "eyJhbGciOiJFUzM4NCJ9.eyJpc3MiOiJ4In0.c2lnbmF0dXJl"
    with serving(make_app, bundle) as (server, client):
        capsys.readouterr()
        request = hook_request(bundle=bundle, prefetch={}, fhirServer=server.base_url)
        request["fhirAuthorization"] = {"access_token": TOKEN, "token_type": "Bearer"}
        response = client.post(
            PATIENT_VIEW, json=request, headers={"Authorization": f"Bearer {jwt_text}"}
        )
    assert response.status_code == 200
    err = capsys.readouterr().err
    for secret in (
        patient["id"],
        patient["birthDate"],
        "Quixotically",
        "Wilhelmina",
        TOKEN,
        jwt_text,
        server.base_url,
    ):
        assert secret not in err
    (line,) = [json.loads(x) for x in err.splitlines() if x.strip()]
    assert line["fhir_requests"] == len(server.seen)


def test_a_hook_instance_that_is_not_a_token_is_not_logged(
    client: CheckedClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """hookInstance is logged only when it looks like an identifier."""
    capsys.readouterr()
    client.post(PATIENT_VIEW, json=hook_request(hookInstance="Jane Doe 1961-02-03"))
    (line,) = lines(capsys)
    assert line["hookInstance"] == "(not a token)"


def test_feedback_calls_are_logged_with_their_item_count(
    client: CheckedClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Feedback lines say the service and how many items, not the comments."""
    capsys.readouterr()
    item = {
        "card": "c1",
        "outcome": "overridden",
        "overrideReason": {"userComment": "Mrs Quixotically declined"},
        "outcomeTimestamp": "2021-12-11T10:05:31Z",
    }
    client.post(f"{PATIENT_VIEW}/feedback", json={"feedback": [item]})
    err = capsys.readouterr().err
    assert "Quixotically" not in err
    (line,) = [json.loads(x) for x in err.splitlines() if x.strip()]
    assert (line["event"], line["items"], line["status"]) == ("feedback", 1, 200)
