"""The raw-line decisions are never stricter than the engine: every SCLC patient is found."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from service.engine.rules import DEFAULT_THRESHOLDS
from service.fhir import load_path
from service.pipeline import assess_each
from service.screen import triage
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)


def line(resource: dict[str, Any]) -> bytes:
    """A resource as a compact NDJSON line."""
    return json.dumps(resource, separators=(",", ":")).encode()


@pytest.mark.parametrize("fixture", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_every_fixture_the_engine_calls_sclc_is_found_from_its_conditions(fixture: str) -> None:
    """For each fixture: SCLC for the engine => a Condition line names the patient."""
    resources, warnings = load_path(FIXTURES / f"{fixture}.json")
    (assessment,) = assess_each(
        resources, today=TODAY, thresholds=DEFAULT_THRESHOLDS, warnings=warnings
    )
    conditions = [r.resource for r in resources if r.resource.get("resourceType") == "Condition"]
    found = {triage.sclc_subject(line(c)) for c in conditions}
    # An export references its patients literally; a Bundle's urn:uuid names nobody there.
    literal = all(c["subject"]["reference"].startswith("Patient/") for c in conditions)
    if assessment.evaluation.diagnosis.sclc and literal:
        assert fixture in found
    else:
        assert found <= {None, fixture}


def condition(**fields: Any) -> dict[str, Any]:
    """A Condition of Patient/p1 with the given fields."""
    return {"resourceType": "Condition", "subject": {"reference": "Patient/p1"}, **fields}


@pytest.mark.parametrize(
    "resource",
    [
        condition(code={"coding": [{"system": "http://snomed.info/sct", "code": "254632001"}]}),
        condition(code={"text": "Small cell carcinoma of the lung"}),
        condition(code={"text": "Oat-cell carcinoma, right lung"}),
        condition(code={"coding": [{"system": "http://snomed.info/sct", "code": 254632001}]}),
        condition(
            code={"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "C34.1"}]},
            note=[{"text": "histology: small cell"}],
        ),
    ],
)
def test_sclc_conditions_are_found_however_they_are_coded(resource: dict[str, Any]) -> None:
    """SNOMED, text, a numeric code, C34 with a small-cell note: all name the patient."""
    assert triage.sclc_subject(line(resource)) == "p1"


def test_a_json_escape_does_not_hide_small_cell() -> None:
    """`small\\u0020cell` in the raw line is still read (JSON escapes are parsed)."""
    raw = b'{"resourceType":"Condition","subject":{"reference":"Patient/p1"},'
    raw += b'"code":{"text":"\\u0053mall cell lung cancer"}}'
    assert triage.sclc_subject(raw) == "p1"


@pytest.mark.parametrize(
    "resource",
    [
        condition(code={"text": "Non-small cell lung cancer"}),
        condition(code={"text": "Hypertension"}),
        condition(code={"text": "Small cell carcinoma metastatic to the lung"}),
        {"resourceType": "Observation", "code": {"text": "small cell lung"}},
    ],
)
def test_other_lines_name_no_sclc_patient(resource: dict[str, Any]) -> None:
    """NSCLC, other diseases, metastases to the lung and non-Conditions: None."""
    assert triage.sclc_subject(line(resource)) is None


@pytest.mark.parametrize(
    ("resource", "owner"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
        ({"subject": {"reference": "Patient/p1"}}, "p1"),
        ({"subject": {"reference": "https://ehr.example/fhir/Patient/p1/_history/3"}}, "p1"),
        ({"patient": {"reference": "Patient/p1"}}, "p1"),
        ({"subject": {"reference": "Group/g1"}}, None),
        ({"subject": {"reference": "urn:uuid:0a4f"}}, None),
        ({"code": {"text": "no subject"}}, None),
    ],
)
def test_the_owner_is_the_patient_subject_or_patient_names(
    resource: dict[str, Any], owner: str | None
) -> None:
    """As service.fhir reads it; a Group or a bundle-only urn:uuid is nobody's."""
    assert triage.owner(resource) == owner


def test_medication_references_are_every_medication_a_resource_names() -> None:
    """medicationReference and any other literal reference to a Medication; not `#id`."""
    resource = {
        "medicationReference": {"reference": "Medication/m1"},
        "contained": [{"resourceType": "Medication", "id": "c"}],
        "partOf": [{"reference": "https://x/fhir/Medication/m2"}],
        "basedOn": [{"reference": "#c"}],
    }
    assert triage.medication_references(resource) == {"Medication/m1", "Medication/m2"}


def test_candidate_ids_hold_referenced_patients_and_own_ids() -> None:
    """A line names its patient by reference, a Patient itself by its id."""
    assert b"p1" in triage.candidate_ids(b'{"subject":{"reference":"Patient/p1"}}')
    assert b"p2" in triage.candidate_ids(b'{"resourceType":"Patient","id":"p2"}')
    assert triage.load(b"not json") is None
    assert triage.load(b"[1, 2]") is None
