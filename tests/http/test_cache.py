"""Every cache of a hook call (`service.cache`), in one place: what is answered from a
cache must always be the fresh answer, and `SCLC_CDS_CACHE=false` turns every cache off.

By what the reader reads (`AssessmentCache.get`/`put`): a call whose reading is equal,
value for value, to a cached call's is answered from it; any change the engine reads is
evaluated afresh.

By the content of the request (`recall`/`remember`): `service.hooks.call` keys it on
everything an assessment depends on when nothing is fetched: the service, the rendered
templates, the patient, date, thresholds, card base URL and the prefetch byte for byte
as sent (cut from the body unparsed: `service.hooks.body.sent_prefetch`). Only what
varies from call to call for the same chart (hookInstance, the user, the access token)
may differ. Anything read from a FHIR server is never remembered; a body that cannot be
cut (not strict JSON, an unknown field) is read whole every time.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cache import CONTENT_BYTES, CONTENT_BYTES_EACH, AssessmentCache
from service.engine import Thresholds
from service.errors import InputError
from service.fetch.templates import render_template, template_values
from service.fhir import RawResource, resources_from_json
from service.hooks import call as hook_call
from service.hooks.body import MAX_NUMBER_DIGITS
from service.http.factory import create_app
from service.http.state import EXTENSION
from service.pipeline import assess
from tests.conftest import FIXTURES
from tests.http.conftest import AppFactory
from tests.http.support import (
    SERVICE_IDS,
    CheckedClient,
    hook_request,
    serving,
)
from tests.http.test_fhir_fetch import TOKEN, fetching_request


def cache_of(app: Flask) -> AssessmentCache:
    """The app's cache (one per app, in each worker process)."""
    cache: AssessmentCache = app.extensions[EXTENSION].cache
    return cache


# --- by what the reader reads --------------------------------------------------

TODAY = date(2026, 11, 21)
THRESHOLDS = Thresholds()
PATIENT = "trial-eligible"
Bundle = dict[str, Any]


def bundle() -> Bundle:
    found: Bundle = json.loads((FIXTURES / f"{PATIENT}.json").read_text())
    return found


def raw(document: Bundle) -> list[RawResource]:
    return resources_from_json(document)[0]


def call(
    document: Bundle,
    cache: AssessmentCache,
    *,
    today: date = TODAY,
    thresholds: Thresholds = THRESHOLDS,
    base_url: str = "http://localhost:8080",
    warnings: tuple[str, ...] = (),
    patient: str = PATIENT,
) -> Any:
    return assess(
        raw(document),
        patient_id=patient,
        today=today,
        thresholds=thresholds,
        warnings=warnings,
        base_url=base_url,
        cache=cache,
    )


def fresh(document: Bundle, **options: Any) -> Any:
    return call(document, AssessmentCache(), **options)


def resource(document: Bundle, kind: str, number: int = 0) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        e["resource"] for e in document["entry"] if e["resource"]["resourceType"] == kind
    ]
    return found[number]


def test_the_same_record_again_is_served_from_the_cache() -> None:
    """A second call reading the same resources gets the cached assessment, same cards."""
    cache = AssessmentCache()
    first = call(bundle(), cache)
    second = call(bundle(), cache)
    assert (cache.hits, second) == (1, first)
    assert second.cards == fresh(bundle()).cards


def _birth(d: Bundle) -> None:
    resource(d, "Patient")["birthDate"] = "1950-01-01"


def _drug_date(d: Bundle) -> None:
    statement = resource(d, "MedicationStatement")
    statement["effectivePeriod"]["start"] = "2025-01-02"


def _lab_value(d: Bundle) -> None:
    labs = [e["resource"]["valueQuantity"] for e in d["entry"] if "valueQuantity" in e["resource"]]
    assert labs, "the fixture has lab values"
    for quantity in labs:
        quantity["value"] = quantity["value"] + 1


def _newer_lab(d: Bundle) -> None:
    lab = copy.deepcopy(next(e["resource"] for e in d["entry"] if "valueQuantity" in e["resource"]))
    lab["id"] = "newer"
    lab["effectiveDateTime"] = "2026-11-20"
    d["entry"].append({"resource": lab})


def _cancer(d: Bundle) -> None:
    condition = copy.deepcopy(resource(d, "Condition"))
    condition["id"] = "other-cancer"
    condition["code"] = {"text": "Carcinoma of colon"}
    d["entry"].append({"resource": condition})


CHANGES: dict[str, Callable[[Bundle], None]] = {
    "birth date": _birth,
    "a drug's date": _drug_date,
    "a lab value": _lab_value,
    "a newer lab": _newer_lab,
    "another cancer": _cancer,
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_the_engine_reads_is_evaluated_afresh(change: str) -> None:
    """Changing a resource the engine reads misses the cache; the answer is the fresh one."""
    cache = AssessmentCache()
    call(bundle(), cache)
    changed = bundle()
    CHANGES[change](changed)
    got = call(changed, cache)
    assert cache.hits == 0
    assert got.evaluation == fresh(changed).evaluation


OPTIONS: dict[str, dict[str, Any]] = {
    "date": {"today": TODAY + timedelta(days=1)},
    "thresholds": {"thresholds": replace(THRESHOLDS, sensitive_days=60)},
    "base URL": {"base_url": "https://cds.example.org"},
    "reader warnings": {"warnings": ("prefetch 'observations': read the first 2 pages only",)},
}


@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_a_call_with_other_options_is_evaluated_afresh(option: str) -> None:
    """Another date, thresholds, base URL or reader warnings: never the cached answer."""
    cache = AssessmentCache()
    call(bundle(), cache)
    got = call(bundle(), cache, **OPTIONS[option])
    assert cache.hits == 0
    assert got.cards == fresh(bundle(), **OPTIONS[option]).cards


def test_another_patient_with_the_same_chart_is_evaluated_afresh() -> None:
    """The same resources under another patient id: a miss (the id is part of the key)."""
    cache = AssessmentCache()
    call(bundle(), cache)
    renamed = json.loads(json.dumps(bundle()).replace(PATIENT, "someone-else"))
    got = call(renamed, cache, patient="someone-else")
    assert cache.hits == 0
    assert got.evaluation.patient.id == "someone-else"


def test_a_change_the_engine_never_reads_still_hits() -> None:
    """A non-cancer problem added to the chart: the cached answer, equal to a fresh one."""
    cache = AssessmentCache()
    call(bundle(), cache)
    changed = bundle()
    problem = copy.deepcopy(resource(changed, "Condition"))
    problem.update(id="hypertension", code={"text": "Essential hypertension"})
    problem.pop("stage", None)
    changed["entry"].append({"resource": problem})
    got = call(changed, cache)
    assert cache.hits == 1
    assert got.cards == fresh(changed).cards


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    """Past its size the least recently used entry goes; a used one stays."""
    cache = AssessmentCache(size=2)
    first, second, third = (
        json.loads(json.dumps(bundle()).replace(PATIENT, name)) for name in ("a", "b", "c")
    )
    call(first, cache, patient="a")
    call(second, cache, patient="b")
    call(first, cache, patient="a")  # a is now the most recent
    call(third, cache, patient="c")  # b goes
    call(first, cache, patient="a")
    call(second, cache, patient="b")
    assert (len(cache), cache.hits) == (2, 2)


def test_hook_calls_share_one_cache_per_app(tmp_path: Path) -> None:
    """Through HTTP: the same prefetch twice gives the same cards, the second from the cache."""
    app = create_app({"TESTING": True, "TODAY": "2026-11-21", "FEEDBACK_DB": tmp_path / "f.db"})
    client = app.test_client()
    document = bundle()
    entries = [e["resource"] for e in document["entry"]]
    body = {
        "hook": "patient-view",
        "context": {"patientId": PATIENT, "userId": "Practitioner/1"},
        "prefetch": {
            "patient": next(r for r in entries if r["resourceType"] == "Patient"),
            **{
                key: {
                    "resourceType": "Bundle",
                    "type": "searchset",
                    "entry": [{"resource": r} for r in entries if r["resourceType"] == kind],
                }
                for key, kind in (
                    ("conditions", "Condition"),
                    ("medicationStatements", "MedicationStatement"),
                    ("medicationRequests", "MedicationRequest"),
                    ("medicationAdministrations", "MedicationAdministration"),
                    ("observations", "Observation"),
                    ("procedures", "Procedure"),
                )
            },
        },
    }
    answers = [
        client.post(
            "/cds-services/sclc-relapse-patient-view",
            json={**body, "hookInstance": f"00000000-0000-4000-8000-00000000000{n}"},
        )
        for n in (1, 2)
    ]
    assert [a.status_code for a in answers] == [200, 200]
    assert answers[0].get_json() == answers[1].get_json()
    assert cache_of(app).hits == 1


changes = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=40),
        st.sampled_from(["drop", "status", "date", "value", "text", "id"]),
    ),
    min_size=1,
    max_size=3,
)


def _mutate(document: Bundle, edits: list[tuple[int, str]]) -> Bundle:
    changed = copy.deepcopy(document)
    for number, what in edits:
        entries = changed["entry"]
        if len(entries) < 2:
            break
        entry = entries[1 + number % (len(entries) - 1)]  # never the Patient
        found = entry["resource"]
        if what == "drop":
            entries.remove(entry)
        elif what == "status":
            found["status"] = "entered-in-error"
        elif what == "date":
            for key in ("effectiveDateTime", "onsetDateTime", "authoredOn"):
                if key in found:
                    found[key] = "2026-11-01"
        elif what == "value" and "valueQuantity" in found:
            found["valueQuantity"]["value"] = 0.1
        elif what == "text":
            found["code"] = {"text": "benign polyp"}
        elif what == "id":
            found["id"] = f"{found.get('id')}-x"
    return changed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["trial-eligible", "third-line", "stale-observations"]), changes)
def test_a_cached_answer_is_always_the_fresh_answer(base: str, edits: list[Any]) -> None:
    """Whatever is changed in a chart read before, the answer equals a fresh evaluation."""
    document: Bundle = json.loads((FIXTURES / f"{base}.json").read_text())
    changed = _mutate(document, edits)
    cache = AssessmentCache()
    call(document, cache, patient=base)
    got = call(changed, cache, patient=base)
    expected = fresh(changed, patient=base)
    assert got.evaluation == expected.evaluation
    assert got.cards == expected.cards


# --- by the content of the request --------------------------------------------

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"


@pytest.fixture
def gathered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every time a call reads its prefetch (the call's `_gather`), the service id."""
    calls: list[str] = []
    real: Callable[..., Any] = hook_call._gather

    def counting(call: Any, hook_request: Any) -> Any:
        calls.append(call.service.id)
        return real(call, hook_request)

    monkeypatch.setattr(hook_call, "_gather", counting)
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
    assert cache_of(app).hits == 1


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
    assert cache_of(app).hits == 1  # the reader's cache, not the request's


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
    monkeypatch.setattr(hook_call, "CONTENT_BYTES_EACH", 1024)
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
    """The length of every body a hook call parses whole (`loads`)."""
    sizes: list[int] = []
    real: Callable[[bytes], Any] = hook_call.loads

    def counting(raw: bytes) -> Any:
        sizes.append(len(raw))
        return real(raw)

    monkeypatch.setattr(hook_call, "loads", counting)
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
    assert cache_of(app).hits == 2  # the reader's, then the request's


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


# --- the switch ---------------------------------------------------------------------


def test_with_the_cache_off_every_call_is_read_afresh_with_the_same_cards(
    make_app: AppFactory, gathered: list[str], parsed: list[int]
) -> None:
    """SCLC_CDS_CACHE=false: the same chart three times is parsed, read and evaluated
    three times, and answered with the cards a cached service gives."""
    body = hook_request()
    cached = make_app().test_client()
    expected = _post(cached, body)
    gathered.clear()
    parsed.clear()
    app = make_app(CACHE=False)
    client = app.test_client()
    answers = [_post(client, copy.deepcopy(body)) for _ in range(3)]
    assert answers == [expected] * 3
    assert (len(gathered), len(parsed)) == (3, 3)
    assert (len(cache_of(app)), cache_of(app).hits) == (0, 0)
