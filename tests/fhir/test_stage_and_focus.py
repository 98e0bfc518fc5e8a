"""TNM stage Observations, their `focus` and a Condition's `stage.assessment`
(CLINICAL_RULES v3 §2, §6.1): read, resolved through the read's index, on every path."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.engine.record import ObservationFact, Record
from service.fhir.fingerprint import _references
from tests.fhir.support import read_bundle, transaction
from tests.fhir.test_reading import PATIENT, SCLC

TODAY = date(2026, 11, 21)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
AJCC = "http://cancerstaging.org"


def stage_observation(
    ident: str, code: str, value: dict[str, Any], *, system: str = LOINC, **fields: Any
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2025-01-05",
        "valueCodeableConcept": value,
        **fields,
    }


def read(doc: dict[str, Any], *, full: bool = False) -> Record:
    return read_bundle(doc, today=TODAY, full=full)


def observation(record: Record, ref: str) -> ObservationFact:
    return next(o for o in record.observations if o.ref == ref)


def test_focus_and_stage_assessment_resolve_through_urn_uuid_full_urls() -> None:
    """A transaction bundle naming records by urn:uuid: the Observation's focus is the
    Condition's ref, the Condition's stage.assessment the Observation's; a reference to
    nothing in the input is kept as written."""
    condition = {
        **SCLC,
        "subject": {"reference": "urn:uuid:pat"},
        "stage": [{"assessment": [{"reference": "urn:uuid:obs"}]}],
    }
    stage = stage_observation(
        "o1",
        "21908-9",
        {"coding": [{"system": AJCC, "code": "4A", "display": "IVA"}]},
        subject={"reference": "urn:uuid:pat"},
        focus=[
            {"reference": "urn:uuid:cond"},
            {"reference": "urn:uuid:elsewhere"},
            {"reference": "Condition/absent"},
            {"display": "no reference at all"},
        ],
    )
    doc = transaction(
        ("urn:uuid:pat", PATIENT), ("urn:uuid:cond", condition), ("urn:uuid:obs", stage)
    )
    for full in (False, True):
        record = read(doc, full=full)
        (read_condition,) = record.conditions
        assert read_condition.stage_assessments == ("Observation/o1",)
        assert observation(record, "Observation/o1").focus == (
            "Condition/c1",
            "urn:uuid:elsewhere",
            "Condition/absent",
        )


@pytest.mark.parametrize(
    ("code", "system"),
    [
        ("21908-9", LOINC),  # Stage group.clinical
        ("21902-2", LOINC),  # Stage group.pathology
        ("21907-1", LOINC),  # Distant metastases.clinical
        ("21901-4", LOINC),  # Distant metastases.pathology
        ("399537006", SNOMED),  # Clinical TNM stage grouping (mCODE STU2+)
        ("399387003", SNOMED),  # cM category (mCODE STU2+)
    ],
)
def test_stage_observations_are_read_on_the_fast_path(code: str, system: str) -> None:
    """A stage Observation is no measure of §10, yet it is in the record (with its value's
    text), old or not, on the hook's reading with today's date."""
    stage = stage_observation(
        "o1",
        code,
        {"coding": [{"system": AJCC, "code": "cM1c"}], "text": "cM1c"},
        system=system,
        effectiveDateTime="2019-03",
    )
    record = read(transaction(("urn:uuid:p", PATIENT), ("urn:uuid:c", SCLC), ("urn:uuid:o", stage)))
    fact = observation(record, "Observation/o1")
    assert fact.value_text == "cM1c"
    assert fact.value_codes[0].code == "cM1c"
    assert (fact.effective, fact.effective_estimated) == (date(2019, 3, 1), True)


def test_a_value_string_is_read_as_the_value_text() -> None:
    """valueString "Stage IIIA" is the value's text."""
    stage = stage_observation("o1", "21908-9", {})
    del stage["valueCodeableConcept"]
    stage["valueString"] = "Stage IIIA"
    record = read(transaction(("urn:uuid:p", PATIENT), ("urn:uuid:o", stage)))
    assert observation(record, "Observation/o1").value_text == "Stage IIIA"


def test_other_tnm_observations_are_not_read() -> None:
    """The T category (21905-5) decides nothing: it is not in the record."""
    t_category = stage_observation("o1", "21905-5", {"coding": [{"code": "cT2"}]})
    record = read(transaction(("urn:uuid:p", PATIENT), ("urn:uuid:o", t_category)))
    assert record.observations == ()


def test_the_fingerprint_names_focus_and_stage_assessments() -> None:
    """What the builder resolves is what a cached reading compares: focus, assessments
    (an STU3 Condition's single stage object too)."""
    observation_json = {"focus": [{"reference": "Condition/c1"}]}
    condition_json = {"stage": [{"assessment": [{"reference": "Observation/o1"}]}]}
    stu3_json = {"stage": {"assessment": [{"reference": "Observation/o2"}]}}
    assert _references(observation_json) == ["Condition/c1"]
    assert _references(condition_json) == ["Observation/o1"]
    assert _references(stu3_json) == ["Observation/o2"]
