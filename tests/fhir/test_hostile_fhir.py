"""Hostile FHIR into the reader (hypothesis, bounded): whatever arrives, the reader and
the engine answer with an evaluation and warnings, never an exception."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cards import patient_view_cards
from service.engine import evaluate
from service.fhir import build_record, resources_from_json

TODAY = date(2026, 11, 21)
KINDS = [
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Observation",
    "Bundle",
]
FIELDS = [
    "id",
    "status",
    "subject",
    "patient",
    "code",
    "clinicalStatus",
    "verificationStatus",
    "onsetDateTime",
    "recordedDate",
    "effectiveDateTime",
    "effectivePeriod",
    "authoredOn",
    "medicationCodeableConcept",
    "medicationReference",
    "valueQuantity",
    "valueCodeableConcept",
    "birthDate",
    "deceasedBoolean",
    "stage",
    "note",
    "entry",
    "reasonReference",
    "reasonCode",
    "dispenseRequest",
    "intent",
    "component",
    "contained",
]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "",
            "2025",
            "2025-13",
            "2025-02-30",
            "2026-11-21T25:00:00Z",
            "Patient/p1",
            "Patient/other",
            "#m1",
            "urn:uuid:x",
            "carboplatin",
            "254632001",
            "C34.90",
            "active",
            "completed",
            "entered-in-error",
            "\u0000",
            "<script>",
            "ｏａｔ ｃｅｌｌ",
        ]
    ),
    st.text(max_size=20),
)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    *FIELDS,
                    "system",
                    "code",
                    "display",
                    "text",
                    "reference",
                    "start",
                    "end",
                    "value",
                    "unit",
                    "coding",
                    "resource",
                    "resourceType",
                ]
            ),
            children,
            max_size=5,
        ),
    ),
    max_leaves=25,
)
resources = st.builds(
    lambda kind, fields: {"resourceType": kind, **fields},
    # mostly a type the engine reads; else anything, a list or an object included
    st.one_of(st.sampled_from(KINDS), st.sampled_from(KINDS), json_values),
    st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=8),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(resources, max_size=12))
def test_any_json_shaped_like_fhir_gives_an_evaluation(found: list[dict[str, Any]]) -> None:
    """The reader, the engine and the cards never raise on hostile input."""
    document = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in found],
    }
    raw, warnings = resources_from_json(document)
    record = build_record(raw, patient_id="p1", warnings=warnings)
    evaluation = evaluate(record, today=TODAY)
    cards = patient_view_cards(evaluation, base_url="http://localhost:8080")
    assert isinstance(evaluation.to_json(cards=cards), dict)
