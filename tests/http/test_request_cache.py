"""A hook call of the very content of an earlier one is answered without reading it again.

`service.http.hooks` keys the assessment cache's `recall` on everything an assessment
depends on when nothing is fetched: the service, the rendered templates, the patient,
date, thresholds, card base URL and the prefetch byte for byte as sent (cut from the
body unparsed: `service.http.body.sent_prefetch`). Only what varies from call to call
for the same chart (hookInstance, the user, the access token) may differ. Anything read
from a FHIR server is never remembered; a body that cannot be cut (not strict JSON, an
unknown field) is read whole every time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from service.errors import InputError
from service.fhir.client import render_template, template_values
from service.http import hooks as hook_views
from service.http.body import MAX_NUMBER_DIGITS
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
    """NaN in a heart rate (not strict JSON; `json` reads it): the body is not cut, and is
    read whole every time, with the same cards."""
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


@pytest.fixture
def parsed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The length of every body the hook view parses whole (`loads`)."""
    sizes: list[int] = []
    real: Callable[[bytes], Any] = hook_views.loads

    def counting(raw: bytes) -> Any:
        sizes.append(len(raw))
        return real(raw)

    monkeypatch.setattr(hook_views, "loads", counting)
    return sizes


def test_a_chart_opened_again_is_answered_without_parsing_its_prefetch(
    client: CheckedClient, gathered: list[str], parsed: list[int]
) -> None:
    """The second call of the same chart (another hookInstance) is answered with the
    first's cards, and its body is never parsed whole."""
    first = hook_request()
    again = {**copy.deepcopy(first), "hookInstance": "1b7e5a4c-9f7d-4f0e-8e7e-2f8c4c3b9a10"}
    assert _post(client, first) == _post(client, again)
    assert len(gathered) == len(parsed) == 1


def test_a_prefetch_written_otherwise_is_read_again_with_the_same_cards(
    app: Flask, client: CheckedClient, gathered: list[str]
) -> None:
    """The same prefetch with other spacing: not the same bytes, so read again; the
    reader's cache then finds the same reading and the cards are the same."""
    body = hook_request()
    compact = json.dumps(body, separators=(",", ":"))
    spaced = json.dumps(body, indent=1)
    cards = [
        client.post(PATIENT_VIEW, data=text, content_type="application/json").json["cards"]
        for text in (compact, spaced, spaced)
    ]
    assert cards[0] == cards[1] == cards[2]
    assert len(gathered) == 2  # the third is the second again, to the byte
    assert cache_of(app.extensions).hits == 2  # the reader's, then the request's


def test_an_extension_is_cut_and_an_unknown_field_is_read_whole(
    client: CheckedClient, gathered: list[str]
) -> None:
    """`extension` (CDS Hooks' own) is a field of the request like any other; a field the
    spec does not name makes the body be read whole each time, with the same cards."""
    extended = hook_request(extension={"com.example.flag": True})
    assert _post(client, extended) == _post(client, copy.deepcopy(extended))
    assert len(gathered) == 1
    unknown = hook_request(somethingElse=1)
    assert _post(client, unknown) == _post(client, copy.deepcopy(unknown))
    assert len(gathered) == 3


def test_a_refused_context_is_refused_as_a_first_call_is(
    make_app: AppFactory, client: CheckedClient
) -> None:
    """A body whose prefetch was answered before but whose context is wrong (no
    patientId, or an integer of too many digits): the 400 a fresh service gives."""
    body = hook_request()
    _post(client, body)
    no_patient = copy.deepcopy(body)
    del no_patient["context"]["patientId"]
    huge = copy.deepcopy(body)
    huge["context"]["n"] = 10**MAX_NUMBER_DIGITS
    fresh = make_app().test_client()
    for refused in (no_patient, huge):
        text = json.dumps(refused)
        answers = [
            c.post(PATIENT_VIEW, data=text, content_type="application/json")
            for c in (client, fresh)
        ]
        assert [a.status_code for a in answers] == [400, 400]
        assert answers[0].json == answers[1].json
