"""The assessment cache: a record read before is answered at once, and only that record.

A call is served from the cache only when what its reader reads (the resources the fast
path keeps, value for value), its patient, date, thresholds, reader warnings and card
base URL equal a cached call's; anything else is evaluated afresh.
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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service import create_app
from service.engine import Thresholds
from service.fhir import RawResource, resources_from_json
from service.pipeline import AssessmentCache, assess, cache_of
from tests.conftest import FIXTURES

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
    assert cache_of(app.extensions).hits == 1


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
