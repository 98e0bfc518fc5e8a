"""Reading FHIR input: bundles, references, validation failures, NDJSON, folders, requests."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.engine import evaluate
from service.errors import InputError
from service.fhir import build_records, load_path, resources_from_json

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
TODAY = date(2026, 11, 21)

PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}
SCLC = {
    "resourceType": "Condition",
    "id": "c1",
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "code": {"coding": [{"system": "http://snomed.info/sct", "code": "254632001"}]},
    "subject": {"reference": "Patient/p1"},
    "onsetDateTime": "2025-01-02",
}


def statement(
    ident: str, drug: dict[str, Any], day: str = "2025-01-06", **extra: Any
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": day,
        **drug,
        **extra,
    }


def collection(*resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }


def evaluate_doc(doc: Any) -> Any:
    resources, warnings = resources_from_json(doc)
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def test_transaction_bundle_resolves_urn_uuid_references() -> None:
    """medicationReference and reasonReference given as urn:uuid fullUrls."""
    doc = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:aaa", "resource": PATIENT},
            {
                "fullUrl": "urn:uuid:bbb",
                "resource": {**SCLC, "subject": {"reference": "urn:uuid:aaa"}},
            },
            {
                "fullUrl": "urn:uuid:ccc",
                "resource": {
                    "resourceType": "Medication",
                    "id": "med1",
                    "code": {"coding": [{"system": RXNORM, "code": "1736854"}]},
                },
            },
            {
                "fullUrl": "urn:uuid:ddd",
                "resource": {
                    "resourceType": "MedicationRequest",
                    "id": "mr1",
                    "status": "completed",
                    "intent": "order",
                    "medicationReference": {"reference": "urn:uuid:ccc"},
                    "subject": {"reference": "urn:uuid:aaa"},
                    "authoredOn": "2025-01-06T06:01:37+00:00",
                    "reasonReference": [{"reference": "urn:uuid:bbb"}],
                },
            },
        ],
    }
    result = evaluate_doc(doc)
    assert [(line.agents, line.sources) for line in result.lines] == [
        (("cisplatin",), ("MedicationRequest/mr1",))
    ]
    assert result.lines[0].start == date(2025, 1, 6)  # datetime cut to its day


def test_contained_medication_is_resolved() -> None:
    """A `#m` medicationReference to a contained Medication is read as its agent."""
    drug = {
        "contained": [
            {"resourceType": "Medication", "id": "m", "code": {"text": "Topotecan 1.5 mg/m2"}}
        ],
        "medicationReference": {"reference": "#m"},
    }
    result = evaluate_doc(collection(PATIENT, SCLC, statement("ms1", drug)))
    assert result.lines[0].agents == ("topotecan",)


def test_invalid_resource_is_skipped_with_a_warning_naming_it() -> None:
    """A bad effectivePeriod.start: skipped, named, the rest still evaluated."""
    bad = statement("ms7", {"medicationCodeableConcept": {"text": "topotecan"}})
    del bad["effectiveDateTime"]
    bad["effectivePeriod"] = {"start": "not-a-date"}
    good = statement("ms1", {"medicationCodeableConcept": {"text": "carboplatin"}})
    result = evaluate_doc(collection(PATIENT, SCLC, bad, good))
    assert [line.agents for line in result.lines] == [("carboplatin",)]
    assert any(
        w.startswith("MedicationStatement/ms7: effectivePeriod.start") for w in result.warnings
    )
    assert not any("not-a-date" in w for w in result.warnings)  # values are not echoed


def test_a_validation_message_that_spans_lines_is_named_on_one() -> None:
    """fhir.resources words a Reference holding a resourceType over two indented lines;
    the warning that names the Condition is one line, single-spaced."""
    odd = {**SCLC, "id": "c2", "subject": {"resourceType": "Patient", "reference": "Patient/p1"}}
    result = evaluate_doc(collection(PATIENT, SCLC, odd))
    (warning,) = [w for w in result.warnings if w.startswith("Condition/c2:")]
    assert "\n" not in warning
    assert "  " not in warning
    assert warning.endswith("; skipped")


def test_partial_date_exposure_is_read_as_the_first_day_with_a_warning() -> None:
    """CLINICAL_RULES v2 §1: "2025-03" as a single day is 2025-03-01, estimated, named."""
    partial = statement(
        "ms2", {"medicationCodeableConcept": {"text": "carboplatin"}}, day="2025-03"
    )
    result = evaluate_doc(collection(PATIENT, SCLC, partial))
    assert [(line.start, line.end) for line in result.lines] == [
        (date(2025, 3, 1), date(2025, 3, 1))
    ]
    assert result.warnings == (
        "MedicationStatement/ms2: partial date effectiveDateTime '2025-03' (estimated)",
    )
    assert result.platinum is not None and result.platinum.estimated


def test_unknown_anticancer_looking_drug_is_reported() -> None:
    """§3: an unknown -mab drug (Zorbalimab) gives exactly one warning naming it."""
    odd = statement("ms3", {"medicationCodeableConcept": {"text": "Zorbalimab 200 mg"}})
    result = evaluate_doc(collection(PATIENT, SCLC, odd))
    assert len(result.warnings) == 1 and "'Zorbalimab'" in result.warnings[0]


def test_cds_hooks_request_prefetch_is_read() -> None:
    """A CDS Hooks request is read through its prefetch values; a null prefetch key is skipped."""
    request = {
        "hook": "patient-view",
        "hookInstance": "x",
        "context": {"patientId": "p1", "userId": "Practitioner/1"},
        "prefetch": {
            "patient": PATIENT,
            "conditions": {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": SCLC}],
            },
            "statements": collection(
                statement("ms1", {"medicationCodeableConcept": {"text": "carboplatin"}})
            ),
            "missing": None,
        },
    }
    assert evaluate_doc(request).lines[0].agents == ("carboplatin",)


def test_stu3_condition_is_upgraded_and_said_so() -> None:
    """An STU3 Condition (string clinicalStatus, assertedDate) is read as SCLC, with a warning."""
    stu3 = {
        **SCLC,
        "clinicalStatus": "active",
        "verificationStatus": "confirmed",
        "assertedDate": "2025-01-02",
    }
    result = evaluate_doc(collection(PATIENT, stu3))
    assert result.diagnosis.sclc is True
    assert any("STU3" in w for w in result.warnings)


def test_several_patients_are_split_by_subject() -> None:
    """Two patients in one bundle: one record each, holding the Conditions of its subject."""
    other = {"resourceType": "Patient", "id": "p2"}
    other_condition = {**SCLC, "id": "c2", "subject": {"reference": "Patient/p2"}}
    resources, _ = resources_from_json(collection(PATIENT, other, SCLC, other_condition))
    records = build_records(resources)
    assert [
        (r.patient.ref if r.patient else None, [c.ref for c in r.conditions]) for r in records
    ] == [
        ("Patient/p1", ["Condition/c1"]),
        ("Patient/p2", ["Condition/c2"]),
    ]


def test_ndjson_and_folders_are_merged(tmp_path: Path) -> None:
    """A folder of NDJSON and JSON files is one record; a bad NDJSON line is skipped and named."""
    (tmp_path / "Patient.ndjson").write_text(json.dumps(PATIENT) + "\n")
    lines = [json.dumps(SCLC), "{not json", ""]
    (tmp_path / "Condition.ndjson").write_text("\n".join(lines))
    (tmp_path / "meds.json").write_text(
        json.dumps(statement("ms1", {"medicationCodeableConcept": {"text": "carboplatin"}}))
    )
    resources, warnings = load_path(tmp_path)
    (record,) = build_records(resources, warnings=warnings)
    assert len(record.conditions) == 1 and len(record.medications) == 1
    assert warnings == ["Condition.ndjson line 2: not JSON; skipped"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("{oops", "is not JSON")],
)
def test_unusable_files_raise_input_errors(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """A missing file, or a file that is not JSON, raises InputError saying which."""
    path = tmp_path / "input.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_path(path)
