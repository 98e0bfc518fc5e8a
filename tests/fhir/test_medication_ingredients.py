"""Medication.ingredient names the agents (CLINICAL_RULES §1 v3): an order set whose own
code is absent or generic gives one exposure per anticancer ingredient, whether the
ingredient is a concept or a reference to another Medication, on both reading paths."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.engine.catalogue import load_catalogue
from service.fhir import RawResource, load_path, select
from service.fhir.medication import drug_of, ingredient_targets, medication_targets
from tests.conftest import FIXTURES
from tests.perf.test_medication_references import _json

TODAY = date(2026, 11, 21)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CARBOPLATIN = {"coding": [{"system": RXNORM, "code": "40048", "display": "carboplatin"}]}
ETOPOSIDE = {"coding": [{"system": RXNORM, "code": "4179"}], "text": "etoposide"}
ORDER_SET = {"text": "Chemotherapy order set"}


def _agents(resource: dict[str, Any], medications: dict[str, dict[str, Any]]) -> list[str]:
    drug = drug_of(resource, medications.get)
    return [a.name for a in load_catalogue().match(drug.codes, drug.texts)]


def _record(reference: str, **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationStatement",
        "id": "ms9",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationReference": {"reference": reference},
        "effectiveDateTime": "2025-06-02",
        **extra,
    }


def _ingredient(item: dict[str, Any]) -> dict[str, Any]:
    if "reference" in item:
        return {"itemReference": item}
    return {"itemCodeableConcept": item}


def _medication(ident: str, code: dict[str, Any] | None, *items: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"resourceType": "Medication", "id": ident}
    if code is not None:
        found["code"] = code
    if items:
        found["ingredient"] = [_ingredient(i) for i in items]
    return found


def test_an_ingredient_only_carboplatin_is_carboplatin() -> None:
    """A contained Medication with no code and one ingredient names that ingredient."""
    contained = _medication("m", None, CARBOPLATIN)
    assert _agents(_record("#m", contained=[contained]), {}) == ["carboplatin"]


def test_a_generic_order_set_names_each_ingredient() -> None:
    """'Chemotherapy order set' with carboplatin and etoposide ingredients: both."""
    order_set = _medication("set", ORDER_SET, CARBOPLATIN, ETOPOSIDE)
    assert _agents(_record("Medication/set"), {"Medication/set": order_set}) == [
        "carboplatin",
        "etoposide",
    ]


def test_ingredients_named_by_reference_are_resolved_contained_or_outside() -> None:
    """itemReference to a contained `#id` (looked up where the Medication is) or to a
    Medication the resolver finds; R5's `item` CodeableReference too."""
    carbo = _medication("carbo", CARBOPLATIN)
    etop = _medication("etop", ETOPOSIDE)
    inside = _medication(
        "set", ORDER_SET, {"reference": "#carbo"}, {"reference": "Medication/etop"}
    )
    inside["contained"] = [carbo]
    found = {"Medication/set": inside, "Medication/etop": etop}
    assert _agents(_record("Medication/set"), found) == ["carboplatin", "etoposide"]
    r5 = {"resourceType": "Medication", "id": "set", "code": ORDER_SET}
    r5["ingredient"] = [
        {"item": {"concept": CARBOPLATIN}},
        {"item": {"reference": {"reference": "#e"}}},
    ]
    record = _record("#set", contained=[r5, {**etop, "id": "e"}])
    assert _agents(record, {}) == ["carboplatin", "etoposide"]


def test_a_medication_naming_itself_as_ingredient_is_read_once() -> None:
    """A cycle (A's ingredient is A) is not followed: A's own code, nothing more."""
    loop = _medication("a", ETOPOSIDE, {"reference": "Medication/a"})
    drug = drug_of(_record("Medication/a"), {"Medication/a": loop}.get)
    assert [c.code for c in drug.codes] == ["4179"]
    assert drug.unresolved == ()


def test_ingredients_are_read_one_level_deep() -> None:
    """An ingredient Medication's own ingredients are not followed."""
    inner = _medication("inner", None, CARBOPLATIN)
    outer = _medication("outer", ORDER_SET, {"reference": "Medication/inner"})
    found = {"Medication/outer": outer, "Medication/inner": inner}
    assert _agents(_record("Medication/outer"), found) == []


def test_an_unfound_ingredient_of_a_medication_naming_nothing_else_is_named() -> None:
    """Its reference is what the unidentified warning names (§1)."""
    bare = _medication("m", None, {"reference": "Medication/gone"})
    drug = drug_of(_record("Medication/m"), {"Medication/m": bare}.get)
    assert (drug.missing_reference, drug.unresolved) == ("Medication/gone", ("Medication/gone",))


def test_the_targets_of_ingredients_are_known_to_the_reader() -> None:
    """`medication_targets` gives what contained Medications' ingredients name outside;
    `ingredient_targets` what a Medication's ingredients name outside."""
    contained = _medication("m", None, {"reference": "Medication/carbo"}, {"reference": "#x"})
    assert medication_targets(_record("#m", contained=[contained])) == ["Medication/carbo"]
    outside = _medication("set", ORDER_SET, {"reference": "Medication/carbo"}, CARBOPLATIN)
    assert ingredient_targets(outside) == ["Medication/carbo"]
    assert medication_targets(_record("Medication/set")) == ["Medication/set"]


# --- through the reader -------------------------------------------------------------------


def _with_order_set(*items: dict[str, Any], display: str | None = None) -> list[RawResource]:
    """The third-line fixture with a dated order naming an order-set Medication whose
    ingredients are `items`, and the Medications 'carbo' and 'etop'."""
    raw, _ = load_path(FIXTURES / "third-line.json")
    reference = {"reference": "Medication/set"} | ({"display": display} if display else {})
    request = {
        "resourceType": "MedicationRequest",
        "id": "rx9",
        "status": "completed",
        "intent": "order",
        "subject": {"reference": "Patient/third-line"},
        "medicationReference": reference,
        "authoredOn": "2026-10-01",
    }
    medications = [
        _medication("set", None, *items),
        _medication("carbo", CARBOPLATIN),
        _medication("etop", ETOPOSIDE),
    ]
    return [*raw, *map(RawResource, medications), RawResource(request)]


def test_an_order_set_of_referenced_ingredients_makes_a_line_on_both_paths() -> None:
    """An order set naming carboplatin and etoposide Medications, with a display that
    names nothing: the ingredient Medications are read, on the fast path too."""
    resources = _with_order_set(
        {"reference": "Medication/carbo"}, {"reference": "Medication/etop"}, display="Order set"
    )
    selection = select(resources, patient_id="third-line", today=TODAY)
    record = selection.record()
    read = {(r.resource["resourceType"], r.resource.get("id")) for r in selection.validated()}
    assert {("Medication", "set"), ("Medication", "carbo"), ("Medication", "etop")} <= read
    exposures = [m for m in record.medications if m.ref == "MedicationRequest/rx9"]
    assert [
        sorted(a.name for a in load_catalogue().match(m.codes, m.texts)) for m in exposures
    ] == [["carboplatin", "etoposide"]]
    fast, full = (_json(resources, "third-line", full_validation=f) for f in (False, True))
    assert fast == full
    assert any("MedicationRequest/rx9" in line["sources"] for line in fast["lines"])


concepts = st.sampled_from([CARBOPLATIN, ETOPOSIDE, ORDER_SET, {"text": "metformin"}])
references = st.sampled_from(["Medication/carbo", "Medication/etop", "Medication/absent", "#c"])
items = st.one_of(concepts, references.map(lambda r: {"reference": r}))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(items, max_size=3),
    st.sampled_from([None, "metformin", "Order set"]),
    st.sampled_from([None, "carbo", "etop"]),
)
def test_records_naming_medications_with_ingredients_read_as_on_the_full_path(
    found: list[dict[str, Any]], display: str | None, invalid: str | None
) -> None:
    """Any mix of ingredients (concepts, references found or not) and an invalid
    ingredient Medication: the same evaluation and cards on both paths."""
    resources = _with_order_set(*found, display=display)
    if invalid is not None:
        resources = [
            RawResource({**r.resource, "code": {"coding": [{"code": 5}]}})
            if r.resource.get("id") == invalid
            else r
            for r in resources
        ]
    fast, full = (_json(resources, "third-line", full_validation=f) for f in (False, True))
    gone = {f"Medication/{invalid}"} if invalid else set()
    assert _without(fast, gone) == _without(full, gone)


def _without(found: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    """The evaluation JSON less the warnings about `refs` (invalid Medications the full
    path validates and names, which the fast path may leave unread), and then less the
    cards that word those warnings."""
    if not refs:
        return found
    warnings = [w for w in found["warnings"] if not any(w.startswith(f"{r}:") for r in refs)]
    return {**{k: v for k, v in found.items() if k != "cards"}, "warnings": warnings}
