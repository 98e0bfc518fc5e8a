"""A hook call of the very content of an earlier one is answered without reading it again.

`service.http.hooks` keys the assessment cache's `recall` on everything an assessment
depends on when nothing is fetched: the service, the rendered templates, the patient,
date, thresholds, card base URL and the whole prefetch. Only what varies from call to
call for the same chart (hookInstance, the user, the access token) may differ. Anything
read from a FHIR server is never remembered; a body `json` had to read (NaN, a huge
integer) is never a key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from service.errors import InputError
from service.fhir.client import render_template, template_values
from service.http import hooks as hook_views
from service.pipeline import CONTENT_BYTES, CONTENT_BYTES_EACH, AssessmentCache, cache_of
from tests.http.conftest import AppFactory
from tests.http.support import (
    SERVICE_IDS,
    CheckedClient,
    hook_request,
    serving,
)
from tests.http.test_fhir_fetch import TOKEN, fetching_request

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"


@pytest.fixture
def gathered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a call reads its prefetch (the hook's `_gather`), the service id."""
    calls: list[str] = []
    real: Callable[..., Any] = hook_views._gather

    def counting(service: Any, hook_request: Any) -> Any:
        calls.append(service.id)
        return real(service, hook_request)

    monkeypatch.setattr(hook_views, "_gather", counting)
    return calls


def _post(client: CheckedClient, body: dict[str, Any], path: str = PATIENT_VIEW) -> Any:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.json
    return response.json["cards"]


def _vital_sign(patient_id: str, value: Any) -> dict[str, Any]:
    """An Observation the engine never reads (a heart rate)."""
    return {
        "resource": {
            "resourceType": "Observation",
            "id": "heart-rate-1",
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "effectiveDateTime": "2026-10-01",
            "valueQuantity": {"value": value, "unit": "/min"},
        }
    }


def test_the_same_chart_again_is_not_read_again(
    app: Flask, client: CheckedClient, gathered: list[str]
) -> None:
    """Another hookInstance, user and access token, same prefetch: the first call's
    cards, and the prefetch read once."""
    first = hook_request()
    again = {
        **copy.deepcopy(first),
        "hookInstance": "7d3c0f3e-4b52-4a47-9c3e-0a0c5e8f2b11",
        "context": {**first["context"], "userId": "Practitioner/another"},
    }
    assert _post(client, first) == _post(client, again)
    assert gathered == [SERVICE_IDS["patient-view"]]
    assert cache_of(app.extensions).hits == 1


def test_a_change_anywhere_in_the_prefetch_reads_it_again(
    app: Flask, client: CheckedClient, gathered: list[str]
) -> None:
    """A heart rate added (unread by the engine): the prefetch is read again, and the
    reader's own cache then answers with the same cards."""
    first = hook_request()
    patient_id = first["context"]["patientId"]
    changed = copy.deepcopy(first)
    changed["prefetch"]["observations"]["entry"].append(_vital_sign(patient_id, 72))
    assert _post(client, first) == _post(client, changed)
    assert len(gathered) == 2
    assert cache_of(app.extensions).hits == 1  # the reader's cache, not the request's


def test_another_service_on_the_same_prefetch_reads_it(
    client: CheckedClient, gathered: list[str]
) -> None:
    """The same prefetch to order-select after patient-view: read again for that service."""
    _post(client, hook_request())
    order = hook_request("order-select")
    _post(client, order, f"/cds-services/{SERVICE_IDS['order-select']}")
    assert gathered == [SERVICE_IDS["patient-view"], SERVICE_IDS["order-select"]]


def test_a_body_json_had_to_read_is_never_a_key(client: CheckedClient, gathered: list[str]) -> None:
    """NaN in a heart rate (orjson refuses it; json reads it): read every time, since
    orjson would write NaN as null and make it the key of another body."""
    body = hook_request()
    patient_id = body["context"]["patientId"]
    body["prefetch"]["observations"]["entry"].append(_vital_sign(patient_id, float("nan")))
    assert _post(client, body) == _post(client, copy.deepcopy(body))
    assert len(gathered) == 2


def test_what_was_fetched_from_a_fhir_server_is_never_remembered(
    make_app: AppFactory, gathered: list[str]
) -> None:
    """Keys left to the FHIR server: the same request twice reads the server twice (its
    data may have changed), with the same cards."""
    with serving(make_app, token=TOKEN) as (server, client):
        body = fetching_request(server.base_url)
        first = _post(client, body)
        once = len(server.seen)
        assert _post(client, copy.deepcopy(body)) == first
        twice = len(server.seen)
    assert len(gathered) == 2
    assert once > 0
    assert twice == 2 * once


def test_the_request_keys_are_bounded_in_bytes() -> None:
    """Keys past CONTENT_BYTES_EACH are not kept; the oldest go past CONTENT_BYTES."""
    cache = AssessmentCache(size=1000)
    fit = CONTENT_BYTES // CONTENT_BYTES_EACH  # keys of the largest size the budget holds
    answers = [object() for _ in range(fit + 2)]
    cache.remember(("too large",), CONTENT_BYTES_EACH + 1, answers[0])  # type: ignore[arg-type]
    for number in range(1, fit + 2):
        cache.remember((number,), CONTENT_BYTES_EACH, answers[number])  # type: ignore[arg-type]
    assert cache.recall(("too large",)) is None
    assert cache.recall((1,)) is None  # one key past the budget pushed out the first
    assert [cache.recall((n,)) for n in range(2, fit + 2)] == answers[2 : fit + 2]


def test_a_body_past_the_largest_key_is_never_keyed(
    client: CheckedClient, gathered: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body longer than CONTENT_BYTES_EACH (here made 1 kB): read every time."""
    monkeypatch.setattr(hook_views, "CONTENT_BYTES_EACH", 1024)
    body = hook_request()
    assert _post(client, body) == _post(client, copy.deepcopy(body))
    assert len(gathered) == 2


def test_the_key_holds_the_values_that_render_the_templates() -> None:
    """template_values: each token's value once, in order of first use; equal values
    render every template equally; a missing value is the InputError rendering gives."""
    templates = [
        "Patient/{{context.patientId}}",
        "Condition?patient={{context.patientId}}",
        "Practitioner/{{userPractitionerId}}",
    ]
    one = {"patientId": "p1", "userId": "Practitioner/u1", "encounterId": "e1"}
    other = {**one, "encounterId": "e2"}  # no template names the encounter
    assert template_values(templates, one) == ("p1", "u1")
    assert template_values(templates, other) == template_values(templates, one)
    assert [render_template(t, other) for t in templates] == [
        render_template(t, one) for t in templates
    ]
    with pytest.raises(InputError, match="userPractitionerId"):
        template_values(templates, {"patientId": "p1"})


def test_a_patient_view_answer_is_written_as_the_json_provider_writes_it(
    app: Flask, client: CheckedClient
) -> None:
    """The cards encoded once per assessment: the same bytes, first call and cached one,
    as Flask's JSON provider gives for the same cards."""
    body = hook_request()
    first = client.post(PATIENT_VIEW, json=body)
    again = client.post(PATIENT_VIEW, json=copy.deepcopy(body))
    with app.app_context():
        expected = app.json.response({"cards": first.json["cards"]}).get_data()
    assert first.get_data() == again.get_data() == expected
    assert first.content_type == "application/json"
