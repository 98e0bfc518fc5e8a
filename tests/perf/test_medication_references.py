"""Drug records naming a Medication elsewhere: the fast path decides them from their JSON
(and the Medication's) and reads them as full validation does."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cards import patient_view_cards
from service.engine import evaluate
from service.fhir import RawResource, build_record, load_path, select
from tests.conftest import FIXTURES
from tests.perf.test_fast_path import BASES, _without_warnings_about

TODAY = date(2026, 11, 21)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
URN = "urn:uuid:5f0c1d2e-0000-4000-8000-000000000001"
concepts = st.sampled_from(
    [
        {"coding": [{"system": RXNORM, "code": "40048", "display": "carboplatin"}]},
        {"coding": [{"system": RXNORM, "code": "4179"}]},
        {"coding": [{"system": RXNORM, "code": "314076", "display": "lisinopril 10 MG"}]},
        {"coding": [{"system": RXNORM, "code": "99999999"}]},
        {"text": "fakeimab 10 mg"},
        {"text": "ondansetron 8 mg"},
        {"text": "metformin"},
    ]
)
displays = st.sampled_from([None, "metformin 500 MG tablet", "carboplatin", "ondansetron", "x"])
targets = st.sampled_from(
    ["Medication/m1", "Medication/m2", "Medication/absent", URN, "http://ehr.example/Medication/m1"]
)
dates = st.sampled_from(
    ["2026-11-20", "2025-06-01", "2026-10-01T10:00:00+02:00", "2026-09", "2025"]
)
STATUSES = {
    "MedicationStatement": ["active", "completed", "entered-in-error", "intended", "not-taken"],
    "MedicationRequest": ["active", "completed", "cancelled", "draft", "stopped"],
    "MedicationAdministration": ["completed", "in-progress", "not-done", "entered-in-error"],
}


@st.composite
def medications(draw: st.DrawFn) -> RawResource:
    """A Medication named by id (maybe twice, with another drug) or by its fullUrl."""
    named = draw(st.sampled_from(["m1", "m2", "urn"]))
    resource = {"resourceType": "Medication", "code": draw(concepts)}
    if named == "urn":
        return RawResource(resource, full_url=URN)
    return RawResource({**resource, "id": named})


@st.composite
def records(draw: st.DrawFn) -> dict[str, Any]:
    """A valid drug record naming its drug by a reference (outside itself, or contained)."""
    kind = draw(st.sampled_from(sorted(STATUSES)))
    reference: dict[str, Any] = {"reference": draw(targets)}
    resource: dict[str, Any] = {
        "resourceType": kind,
        "status": draw(st.sampled_from(STATUSES[kind])),
    }
    if draw(st.integers(0, 5)) == 0:
        reference["reference"] = "#c1"
        resource["contained"] = [{"resourceType": "Medication", "id": "c1", "code": draw(concepts)}]
    display = draw(displays)
    if display is not None:
        reference["display"] = display
    resource["medicationReference"] = reference
    if kind == "MedicationRequest":
        resource["intent"] = draw(st.sampled_from(["order", "plan"]))
        resource["authoredOn"] = draw(dates)
    elif kind == "MedicationStatement":
        resource["effectivePeriod"] = {"start": draw(dates), "end": draw(dates)}
    else:
        resource["effectiveDateTime"] = draw(dates)
    return resource


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(BASES),
    st.lists(medications(), max_size=3),
    st.lists(records(), min_size=1, max_size=6),
)
def test_records_naming_a_medication_read_as_on_the_full_path(
    base: str, found: list[RawResource], drafted: list[dict[str, Any]]
) -> None:
    """Valid records and Medications: the same evaluation and cards on both paths."""
    raw, _ = load_path(FIXTURES / f"{base}.json")
    added = [
        RawResource({**r, "id": f"g{n}", "subject": {"reference": f"Patient/{base}"}})
        for n, r in enumerate(drafted)
    ]
    resources = [*raw, *found, *added]
    fast, full = (_json(resources, base, full_validation=f) for f in (False, True))
    assert fast == full


def _json(resources: list[RawResource], patient: str, *, full_validation: bool) -> Any:
    record = build_record(
        resources, patient_id=patient, today=TODAY, full_validation=full_validation
    )
    evaluation = evaluate(record, today=TODAY)
    return evaluation.to_json(cards=patient_view_cards(evaluation, base_url="http://localhost"))


# A Medication that fails validation (a code that is a number).
INVALID = {"resourceType": "Medication", "id": "m1", "code": {"coding": [{"code": 5}]}}


def _with_request(display: str | None) -> list[RawResource]:
    raw, _ = load_path(FIXTURES / "third-line.json")
    reference = {"reference": "Medication/m1"} | ({"display": display} if display else {})
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "active",
        "intent": "order",
        "medicationReference": reference,
        "subject": {"reference": "Patient/third-line"},
        "authoredOn": "2026-10-01",
    }
    return [*raw, RawResource(INVALID), RawResource(request)]


def test_an_invalid_medication_named_without_a_display_is_read() -> None:
    """Without a display the record's drug hangs on the Medication: both are read, and the
    record is unidentified on both paths (the Medication is skipped, and said)."""
    resources = _with_request(None)
    selection = select(resources, patient_id="third-line", today=TODAY)
    selection.record()
    read = {(r.resource["resourceType"], r.resource["id"]) for r in selection.validated()}
    assert {("Medication", "m1"), ("MedicationRequest", "rx1")} <= read
    fast, full = (_json(resources, "third-line", full_validation=f) for f in (False, True))
    assert fast == full


@pytest.mark.parametrize("display", ["metformin 500 MG tablet", "lisinopril"])
def test_an_invalid_medication_named_with_a_display_is_not_read(display: str) -> None:
    """With a display naming a drug no reading makes anticancer, neither is read: the full
    path says only that the Medication is skipped."""
    resources = _with_request(display)
    selection = select(resources, patient_id="third-line", today=TODAY)
    selection.record()
    read = {r.resource["resourceType"] for r in selection.validated()}
    assert not read & {"Medication", "MedicationRequest"}
    fast, full = (_json(resources, "third-line", full_validation=f) for f in (False, True))
    assert any(w.startswith("Medication/m1: ") for w in full["warnings"])
    gone = {"Medication/m1"}
    assert _without_warnings_about(fast, gone) == _without_warnings_about(full, gone)
