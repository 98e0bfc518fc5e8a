"""Procedures (CLINICAL_RULES v3 §1): systemic therapy and radiotherapy are kept, with
their dates, on every path; surgery, allergen immunotherapy and the like are not."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.engine.record import Code, ProcedureFact, Record
from service.fhir import build_records, load_path
from service.fhir.procedure import procedure_kind
from service.fhir.relevance import procedure_matters
from service.fhir.stu3 import looks_stu3, upgrade_stu3
from tests.conftest import SHARED
from tests.fhir.support import read_bundle, read_resources, transaction
from tests.fhir.test_reading import PATIENT, SCLC

TODAY = date(2026, 11, 21)
SNOMED = "http://snomed.info/sct"


def procedure(
    ident: str = "pr1", *, code: str | None = None, text: str | None = None, **fields: Any
) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    if code is not None:
        concept["coding"] = [{"system": SNOMED, "code": code}]
    if text is not None:
        concept["text"] = text
    return {
        "resourceType": "Procedure",
        "id": ident,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "code": concept,
        "performedDateTime": "2025-02-03",
        **fields,
    }


def read(*resources: dict[str, Any], full: bool = False) -> Record:
    return read_resources(PATIENT, SCLC, *resources, today=TODAY, full=full)


def kept(*resources: dict[str, Any]) -> tuple[ProcedureFact, ...]:
    """The record's Procedures, the same on the fast and the full path."""
    fast, full = read(*resources), read(*resources, full=True)
    assert fast == full
    return fast.procedures


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("367336001", "systemic"),  # Chemotherapy
        ("266719004", "systemic"),  # Oral chemotherapy
        ("265760000", "systemic"),  # Intravenous chemotherapy
        ("897713009", "systemic"),  # Antineoplastic chemoimmunotherapy
        ("76334006", "systemic"),  # Immunotherapy
        ("1217123003", "radiotherapy"),  # Radiotherapy course of treatment
        ("108290001", "radiotherapy"),  # Radiation oncology AND/OR radiotherapy
        ("1156506007", "radiotherapy"),  # External beam radiation therapy using photons
        ("448385000", "radiotherapy"),  # Megavoltage radiation therapy using photons
        ("703423002", "chemoradiotherapy"),  # Combined chemotherapy and radiation therapy
    ],
)
def test_snomed_codes_give_the_kind(code: str, kind: str) -> None:
    """A code alone (no display, no text) names what the Procedure is."""
    (fact,) = kept(procedure(code=code))
    assert fact.kind == kind
    assert fact.codes == (Code(SNOMED, code),)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Chemotherapy cycle 2 (carboplatin AUC 5 + etoposide)", "systemic"),
        ("chemo day 1", "systemic"),
        ("Chemo-immunotherapy", "systemic"),
        ("Immunotherapy infusion", "systemic"),
        ("Systemic anticancer therapy", "systemic"),
        ("Prophylactic cranial irradiation", "radiotherapy"),
        ("PCI 25 Gy in 10 fractions", "radiotherapy"),
        ("SRS to 3 brain metastases", "radiotherapy"),
        ("Stereotactic radiosurgery, left frontal lesion", "radiotherapy"),
        ("Stereotactic body radiation therapy", "radiotherapy"),
        ("Thoracic radiotherapy 45 Gy", "radiotherapy"),
        ("Palliative radiation therapy to spine", "radiotherapy"),
        ("Whole brain irradiation", "radiotherapy"),
        ("Concurrent chemoradiotherapy", "chemoradiotherapy"),
        ("Chemotherapy with thoracic radiotherapy", "chemoradiotherapy"),
    ],
)
def test_words_give_the_kind(text: str, kind: str) -> None:
    """An uncoded Procedure read by the words of its text."""
    (fact,) = kept(procedure(text=text))
    assert (fact.kind, fact.text) == (kind, text)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (None, "Percutaneous coronary intervention (PCI) with stent"),
        (None, "PCI of left anterior descending artery"),
        (None, "Stereotactic biopsy of breast"),
        (None, "Insertion of chemotherapy port"),
        (None, "Tuberculosis chemoprophylaxis"),
        (None, "Transarterial chemoembolization"),
        (None, "Subcutaneous immunotherapy"),  # Synthea's allergen immunotherapy
        ("76334006", "Allergen immunotherapy"),
        (None, "Ultraviolet radiation therapy"),
        (None, "Irradiation of blood products"),
        ("73761001", "Colonoscopy"),
        ("387713003", "Surgical procedure"),
        (None, None),
    ],
)
def test_other_procedures_are_not_kept(code: str | None, text: str | None) -> None:
    """Surgery, a coronary PCI, a port, allergen immunotherapy … are no §1 Procedure."""
    assert kept(procedure(code=code, text=text)) == ()


@pytest.mark.parametrize("status", ["entered-in-error", "not-done"])
def test_void_procedures_are_not_kept(status: str) -> None:
    """Entered in error or not done: nothing happened."""
    assert kept(procedure(code="367336001", status=status)) == ()


def test_a_category_names_the_kind_too() -> None:
    """mCODE puts 108290001 (radiotherapy) in the category of a course summary."""
    resource = procedure(
        text="Course summary",
        category={"coding": [{"system": SNOMED, "code": "108290001"}]},
    )
    (fact,) = kept(resource)
    assert fact.kind == "radiotherapy"


def test_a_performed_period_gives_start_and_end() -> None:
    """performedPeriod 2025-03-10..2025-03-21 (PCI in ten fractions over 12 days)."""
    resource = procedure(text="PCI", performedPeriod={"start": "2025-03-10", "end": "2025-03-21"})
    del resource["performedDateTime"]
    (fact,) = kept(resource)
    assert (fact.start, fact.end, fact.estimated) == (date(2025, 3, 10), date(2025, 3, 21), False)


def test_a_period_without_an_end_has_none() -> None:
    """A course still going on: its start, and no end."""
    resource = procedure(text="Radiotherapy", performedPeriod={"start": "2026-11-02"})
    del resource["performedDateTime"]
    (fact,) = kept(resource)
    assert (fact.start, fact.end) == (date(2026, 11, 2), None)


def test_partial_dates_are_read_by_the_partial_date_rules() -> None:
    """performedPeriod "2025-03".."2025-04": 2025-03-01..2025-04-30, estimated and said."""
    resource = procedure(
        "pr9", text="Radiotherapy", performedPeriod={"start": "2025-03", "end": "2025-04"}
    )
    del resource["performedDateTime"]
    record = read(resource)
    (fact,) = record.procedures
    assert (fact.start, fact.end) == (date(2025, 3, 1), date(2025, 4, 30))
    assert fact.estimated and fact.end_partial
    assert record.warnings == (
        "Procedure/pr9: partial date performedPeriod.start '2025-03', performedPeriod.end "
        "'2025-04' (estimated)",
    )
    assert read(resource, full=True) == record


def test_an_undated_procedure_is_kept_without_dates() -> None:
    """No performed[x]: kept (the summary names it), start and end None."""
    resource = procedure(code="367336001")
    del resource["performedDateTime"]
    (fact,) = kept(resource)
    assert (fact.start, fact.end) == (None, None)


def test_a_partial_date_of_a_procedure_not_kept_says_nothing() -> None:
    """A colonoscopy of "2019": not read, so not warned about, on either path."""
    resource = procedure(code="73761001", text="Colonoscopy", performedDateTime="2019")
    assert read(resource).warnings == read(resource, full=True).warnings == ()


def test_reasons_are_resolved() -> None:
    """reasonReference to the SCLC Condition, by urn:uuid, is its ref."""
    doc = transaction(
        ("urn:uuid:p", PATIENT),
        ("urn:uuid:c", SCLC),
        ("urn:uuid:x", procedure(code="367336001", reasonReference=[{"reference": "urn:uuid:c"}])),
    )
    (fact,) = read_bundle(doc, today=TODAY).procedures
    assert fact.reason_refs == ("Condition/c1",)


def test_another_patients_procedure_is_dropped() -> None:
    """subject Patient/p2: not this patient's, and said."""
    record = read(procedure(code="367336001", subject={"reference": "Patient/p2"}))
    assert record.procedures == ()
    assert record.warnings == ("Procedure/pr1: belongs to another patient; skipped",)


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Procedure", "status": 7, "code": {"text": "Colonoscopy"}},
        {"resourceType": "Procedure", "status": "completed", "code": {"coding": "x"}},
        {"resourceType": "Procedure", "status": "completed", "code": {"text": ["chemo"]}},
    ],
)
def test_what_is_not_plainly_shaped_is_validated(resource: dict[str, Any]) -> None:
    """The plan reads (and warns about) a Procedure whose JSON it cannot read for sure."""
    assert procedure_matters(resource)


def test_stu3_procedures_are_upgraded() -> None:
    """STU3 `context`, `notDone` and Synthea's single reasonReference object."""
    stu3 = {
        "resourceType": "Procedure",
        "status": "completed",
        "notDone": True,
        "context": {"reference": "urn:uuid:e"},
        "reasonReference": {"reference": "urn:uuid:c"},
    }
    assert looks_stu3(stu3)
    upgraded = upgrade_stu3(stu3)
    assert upgraded["status"] == "not-done" and "notDone" not in upgraded
    assert upgraded["encounter"] == {"reference": "urn:uuid:e"}
    assert upgraded["reasonReference"] == [{"reference": "urn:uuid:c"}]


@pytest.mark.parametrize(
    "name",
    [
        "synthea-r4/Sherman_McGlynn_8ef2ef98-48c5-427e-80d4-5e8f30ac8bf5.json",
        "synthea-stu3/White_Carli_64.json",
    ],
)
def test_synthea_chemoradiation_is_read(name: str) -> None:
    """Synthea's SCLC patients: each "Combined chemotherapy and radiation therapy" record
    (45 and 8 of them) is kept, dated, and nothing else of their procedures."""
    path = SHARED / "external_fhir" / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    resources, warnings = load_path(path)
    (record,) = build_records(resources, warnings=warnings, today=TODAY)
    assert {p.kind for p in record.procedures} == {"chemoradiotherapy"}
    assert len(record.procedures) == (45 if "r4" in name else 8)
    assert all(p.start is not None for p in record.procedures)
    assert not any(w.startswith("Procedure") for w in record.warnings)


def test_kind_reads_codes_of_snomed_only() -> None:
    """367336001 in another system is not SNOMED's Chemotherapy."""
    assert procedure_kind([Code("http://www.ama-assn.org/go/cpt", "367336001")], []) is None
    assert procedure_kind([Code("http://snomed.info/sct", "367336001")], []) == "systemic"
