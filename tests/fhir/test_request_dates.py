"""MedicationRequest dates (CLINICAL_RULES v3 §1): validityPeriod, else the dosage
instructions' boundsPeriod, else authoredOn."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.engine import evaluate
from service.engine.record import MedicationFact, Record
from tests.fhir.support import read_resources
from tests.fhir.test_reading import PATIENT
from tests.fhir.test_reading import SCLC as READ_SCLC

TODAY = date(2026, 8, 1)
SCLC = {**READ_SCLC, "onsetDateTime": "2026-01-02"}
BOUNDS = "dosageInstruction.timing.repeat.boundsPeriod"


def bounded(*periods: dict[str, str]) -> list[dict[str, Any]]:
    return [{"timing": {"repeat": {"boundsPeriod": p}}} for p in periods]


def request(ident: str = "mr1", drug: str = "carboplatin", **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": ident,
        "status": "completed",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"text": drug},
        "authoredOn": "2026-01-10",
        **fields,
    }


def record_of(*resources: dict[str, Any], full: bool = False) -> Record:
    return read_resources(PATIENT, SCLC, *resources, today=TODAY, full=full)


def the_request(record: Record) -> MedicationFact:
    (fact,) = record.medications
    return fact


def test_bounds_period_gives_the_dates_not_authored_on() -> None:
    """Authored 2026-01-10, bounds 2026-03-02..2026-05-04: the exposure is the bounds."""
    fact = the_request(
        record_of(request(dosageInstruction=bounded({"start": "2026-03-02", "end": "2026-05-04"})))
    )
    assert (fact.start, fact.end) == (date(2026, 3, 2), date(2026, 5, 4))
    assert not fact.estimated


def test_several_instructions_span_the_earliest_start_to_the_latest_end() -> None:
    """2026-03-02..2026-04-01 and 2026-02-20..2026-05-04 read as 2026-02-20..2026-05-04;
    an instruction without bounds adds nothing."""
    instructions = [
        *bounded({"start": "2026-03-02", "end": "2026-04-01"}),
        {"text": "AUC 5 day 1"},
        *bounded({"start": "2026-02-20T09:00:00+01:00", "end": "2026-05-04"}),
    ]
    fact = the_request(record_of(request(dosageInstruction=instructions)))
    assert (fact.start, fact.end) == (date(2026, 2, 20), date(2026, 5, 4))


def test_bounds_without_an_end_is_its_start_day() -> None:
    """boundsPeriod 2026-03-02 with no end: a single day, as validityPeriod reads."""
    fact = the_request(record_of(request(dosageInstruction=bounded({"start": "2026-03-02"}))))
    assert (fact.start, fact.end) == (date(2026, 3, 2), date(2026, 3, 2))


def test_an_end_only_bounds_period_falls_back_to_authored_on() -> None:
    """A boundsPeriod with no start dates nothing: authoredOn 2026-01-10 is the day."""
    fact = the_request(record_of(request(dosageInstruction=bounded({"end": "2026-05-04"}))))
    assert (fact.start, fact.end) == (date(2026, 1, 10), date(2026, 1, 10))


def test_validity_period_comes_before_the_bounds() -> None:
    """dispenseRequest.validityPeriod 2026-02-01..2026-02-28 wins over the bounds."""
    fact = the_request(
        record_of(
            request(
                dispenseRequest={"validityPeriod": {"start": "2026-02-01", "end": "2026-02-28"}},
                dosageInstruction=bounded({"start": "2026-03-02", "end": "2026-05-04"}),
            )
        )
    )
    assert (fact.start, fact.end) == (date(2026, 2, 1), date(2026, 2, 28))


def test_partial_bounds_are_read_by_the_partial_date_rules() -> None:
    """ "2026-03".."2026-05": 2026-03-01..2026-05-31, estimated, named in one warning."""
    record = record_of(request(dosageInstruction=bounded({"start": "2026-03", "end": "2026-05"})))
    fact = the_request(record)
    assert (fact.start, fact.end) == (date(2026, 3, 1), date(2026, 5, 31))
    assert fact.estimated and fact.end_partial
    assert record.warnings == (
        f"MedicationRequest/mr1: partial date {BOUNDS}.start '2026-03', {BOUNDS}.end "
        "'2026-05' (estimated)",
    )


def test_bounds_that_end_before_they_start_are_read_as_the_start_day() -> None:
    """2026-05-04..2026-03-02: the start day, with the warning every period gets."""
    record = record_of(
        request(dosageInstruction=bounded({"start": "2026-05-04", "end": "2026-03-02"}))
    )
    assert (the_request(record).start, the_request(record).end) == (
        date(2026, 5, 4),
        date(2026, 5, 4),
    )
    assert record.warnings == (
        "MedicationRequest/mr1: period ends before it starts; read as its start day",
    )


def test_the_interval_counts_from_the_end_of_the_bounds() -> None:
    """The issue's case: carboplatin authored 2026-01-10, given 2026-01-12..2026-03-17;
    progression 2026-07-20. Read by authoredOn alone the interval was 191 days
    (Jan 10 -> Jul 20: 21 + 28 + 31 + 30 + 31 + 30 + 20); from the last dose of the bounds
    it is 125 (Mar 17 -> Jul 20: 14 + 30 + 31 + 30 + 20)."""
    period = {"start": "2026-01-12", "end": "2026-03-17"}
    progression = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "97509-4"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2026-07-20",
        "valueCodeableConcept": {
            "coding": [{"system": "http://snomed.info/sct", "code": "271299001"}]
        },
    }
    resources = (
        request("mr1", "carboplatin", dosageInstruction=bounded(period)),
        request("mr2", "etoposide", dosageInstruction=bounded(period)),
        progression,
    )
    result = evaluate(record_of(*resources), today=TODAY)
    assert result.platinum is not None
    assert result.platinum.last_dose == date(2026, 3, 17)
    assert result.platinum.interval_days == 125


@pytest.mark.parametrize(
    "instructions",
    [
        bounded({"start": "2026-03-02", "end": "2026-05-04"}),
        bounded({"start": "2026-03", "end": "2026-05"}),
        bounded({"start": "2026-05-04", "end": "2026-03-02"}),
        bounded({"start": "2026-03-02"}, {"start": "2025", "end": "2026-04-01"}),
    ],
    ids=["plain", "partial", "reversed", "several"],
)
def test_fast_and_full_paths_read_the_bounds_alike(instructions: list[dict[str, Any]]) -> None:
    """Every shape of bounds: the same record whether planned or fully validated."""
    resource = request(dosageInstruction=instructions)
    assert record_of(resource) == record_of(resource, full=True)
