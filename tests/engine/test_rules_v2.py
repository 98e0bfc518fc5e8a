"""CLINICAL_RULES v2: a record the engine cannot read never silently changes what is shown.

Each test pins one v2 rule at or around its threshold; dates are worked out by hand in
the docstrings. FHIR-level rules (partial dates, undated and unidentified records, the
evaluated patient, ICD-10 C34) go through the reader; the rest use engine facts.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from service.cards import note_words
from service.engine import evaluate
from service.engine.record import Code, ConditionFact, PatientFact
from service.fhir import build_record, build_records, resources_from_json
from service.knowledge import load_knowledge
from tests.builders import cycles, given, lab, other_cancer, patient, record, sclc, worsened

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
TODAY = date(2026, 11, 21)
PATIENT = {"resourceType": "Patient", "id": "p1", "birthDate": "1960-01-01"}


def worded_notes(result: Any, option_id: str) -> tuple[str, ...]:
    """The option's study-population notes (engine values) as the cards word them."""
    wording = load_knowledge().wording
    return tuple(note_words(n, wording) for n in result.notes_for(option_id))


def condition(**fields: Any) -> dict[str, Any]:
    base = {
        "resourceType": "Condition",
        "id": "c1",
        "clinicalStatus": {"coding": [{"code": "active"}]},
        "code": {"coding": [{"system": SNOMED, "code": "254632001"}]},
        "subject": {"reference": "Patient/p1"},
        "onsetDateTime": "2025-01-02",
    }
    return {**base, **fields}


def dose(ident: str, drug: str | dict[str, Any], **dates: Any) -> dict[str, Any]:
    concept = {"text": drug} if isinstance(drug, str) else drug
    return {
        "resourceType": "MedicationStatement",
        "id": ident,
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": concept,
        **dates,
    }


def worsened_obs(ident: str, day: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": "97509-4"}]},
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "271299001"}]},
        "effectiveDateTime": day,
    }


def first_line() -> list[dict[str, Any]]:
    """Carboplatin + etoposide on 2025-01-06, 01-27, 02-17, 03-10 (last platinum 03-10)."""
    days = ["2025-01-06", "2025-01-27", "2025-02-17", "2025-03-10"]
    return [
        dose(f"{drug[:4]}{i}", drug, effectiveDateTime=day)
        for drug in ("carboplatin", "etoposide")
        for i, day in enumerate(days)
    ]


def evaluate_fhir(*resources: dict[str, Any], today: date = TODAY) -> Any:
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    raw, warnings = resources_from_json(doc)
    return evaluate(build_record(raw, patient_id="p1", warnings=warnings), today=today)


def ids(result: Any) -> list[str]:
    return [o.id for o in result.options]


# --- §1 partial dates -----------------------------------------------------------------


def test_partial_month_period_spans_the_whole_months() -> None:
    """start "2025-03" -> 2025-03-01; end "2025-06" -> 2025-06-30 (the last day)."""
    result = evaluate_fhir(
        PATIENT,
        condition(),
        dose("ms1", "carboplatin", effectivePeriod={"start": "2025-03", "end": "2025-06"}),
    )
    (line,) = result.lines
    assert (line.start, line.end) == (date(2025, 3, 1), date(2025, 6, 30))
    assert result.warnings == (
        "MedicationStatement/ms1: partial date effectivePeriod.start '2025-03', "
        "effectivePeriod.end '2025-06' (estimated)",
    )


def test_partial_end_is_never_after_the_evaluation_date() -> None:
    """end "2026" would be 2026-12-31; capped at today 2026-11-21, so the line is ongoing."""
    result = evaluate_fhir(
        PATIENT,
        condition(),
        dose("ms1", "carboplatin", effectivePeriod={"start": "2026-10-05", "end": "2026"}),
    )
    (line,) = result.lines
    assert line.end == TODAY
    assert line.ongoing


def test_partial_progression_is_its_first_day_and_estimated() -> None:
    """Worsened "2025-09" -> 2025-09-01: 03-10 -> 09-01 = 21 + 30 + 31 + 30 + 31 + 31 + 1 = 175."""
    result = evaluate_fhir(PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09"))
    assert result.progression.date == date(2025, 9, 1)
    assert result.progression.estimated
    assert result.platinum.interval_days == 175
    assert result.platinum.estimated
    assert result.next_line == 2
    assert "Observation/o1: partial date effectiveDateTime '2025-09' (estimated)" in result.warnings


def test_year_only_progression_is_january_first() -> None:
    """Recurrence onset "2026" -> 2026-01-01: 2025-03-10 -> 2026-01-01 = 21 + 245 + 31 + 1 = 297."""
    relapse = condition(
        id="c2", clinicalStatus={"coding": [{"code": "recurrence"}]}, onsetDateTime="2026"
    )
    result = evaluate_fhir(PATIENT, condition(), relapse, *first_line())
    assert (result.progression.date, result.progression.source) == (
        date(2026, 1, 1),
        "Condition/c2",
    )
    assert result.platinum.interval_days == 297
    assert result.platinum.rechallenge_window


# --- §1 undated and unidentified records ------------------------------------------------


def test_undated_tarlatamab_is_possibly_received_and_not_offered() -> None:
    """Only dosage.text, no date: in no line, tarlatamab withheld, the record named."""
    undated = dose("ms9", "Imdelltra", dosage=[{"text": "10 mg IV every 2 weeks"}])
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), undated
    )
    assert len(result.lines) == 1
    assert "tarlatamab" not in ids(result)
    assert "topotecan" in ids(result)
    assert [(w.option, w.sources) for w in result.withheld] == [
        ("tarlatamab", ("MedicationStatement/ms9",))
    ]
    assert (
        "MedicationStatement/ms9: tarlatamab has no usable date; not placed in a line, "
        "counted as possibly received"
    ) in result.warnings


def test_undated_platinum_withholds_the_rechallenge() -> None:
    """A dated 175-day interval would make re-challenge `consider`; an undated carboplatin
    record may be a later dose, so the re-challenge waits for the record."""
    undated = dose("ms9", "carboplatin")
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), undated
    )
    assert "platinum-rechallenge" not in ids(result)
    assert ("platinum-rechallenge", ("MedicationStatement/ms9",)) in [
        (w.option, w.sources) for w in result.withheld
    ]


def test_bare_unknown_code_is_named_and_withholds_every_drug_option() -> None:
    """A bare RxNorm code the catalogue does not know may be any drug (decisions.md)."""
    bare = dose(
        "ms9", {"coding": [{"system": RXNORM, "code": "99999999"}]}, effectiveDateTime="2025-06-02"
    )
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), bare
    )
    assert ids(result) == ["palliative-radiotherapy", "clinical-trial"]
    assert (
        f"MedicationStatement/ms9: unidentified medication ({RXNORM} 99999999); if this is an "
        "anticancer drug, the line count may be wrong"
    ) in result.warnings


def test_named_non_cancer_drug_is_ignored_silently() -> None:
    """A code the catalogue does not know, with a display naming a non-cancer drug."""
    named = dose(
        "ms9",
        {"coding": [{"system": RXNORM, "code": "6809", "display": "metformin"}]},
        effectiveDateTime="2025-06-02",
    )
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), named
    )
    assert result.warnings == ()
    assert "topotecan" in ids(result)


def test_a_record_failing_validation_still_counts_its_drug_as_possibly_received() -> None:
    """effectivePeriod.start "not-a-date": skipped, but topotecan is not offered."""
    bad = dose("ms9", "topotecan", effectivePeriod={"start": "not-a-date"})
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), bad
    )
    assert "topotecan" not in ids(result)
    (warning,) = [w for w in result.warnings if w.startswith("MedicationStatement/ms9")]
    assert warning.endswith("; skipped; its drug (topotecan) counts as possibly received")
    assert "not-a-date" not in warning


# --- §1 the evaluated patient -----------------------------------------------------------


def test_another_patients_record_in_the_bundle_is_dropped_with_a_warning() -> None:
    """Topotecan of Patient/p2 would otherwise be this patient's line 2."""
    foreign = dose("ms9", "topotecan", effectiveDateTime="2025-10-06")
    foreign["subject"] = {"reference": "Patient/p2"}
    result = evaluate_fhir(
        PATIENT, condition(), *first_line(), worsened_obs("o1", "2025-09-01"), foreign
    )
    assert len(result.lines) == 1
    assert "topotecan" in ids(result)
    assert "MedicationStatement/ms9: belongs to another patient; skipped" in result.warnings
    assert not any("p2" in w for w in result.warnings)


def test_a_patient_with_another_id_is_never_evaluated_in_its_place() -> None:
    """§1: asked for p1, a record holding only Patient p2 has no patient; p2 is not used instead."""
    other = {**PATIENT, "id": "p2"}
    raw, _ = resources_from_json({"resourceType": "Bundle", "entry": [{"resource": other}]})
    assert build_record(raw, patient_id="p1").patient is None


def test_several_patients_each_get_their_own_resources() -> None:
    """A population input: each Patient's record holds its own resources, no warnings."""
    second = {**PATIENT, "id": "p2"}
    theirs = dose("ms9", "topotecan", effectiveDateTime="2025-10-06")
    theirs["subject"] = {"reference": "Patient/p2"}
    doc = {"resourceType": "Bundle", "entry": [{"resource": r} for r in (PATIENT, second, theirs)]}
    raw, _ = resources_from_json(doc)
    records = {r.patient.ref: r for r in build_records(raw) if r.patient}
    assert [m.ref for m in records["Patient/p2"].medications] == ["MedicationStatement/ms9"]
    assert records["Patient/p1"].medications == ()
    assert records["Patient/p1"].warnings == ()


# --- §2 diagnosis and stage -------------------------------------------------------------


def icd10(code: str, *, text: str | None = None, note: str | None = None) -> dict[str, Any]:
    concept: dict[str, Any] = {
        "coding": [{"system": ICD10CM, "code": code, "display": "Malignant neoplasm of lung"}]
    }
    if text:
        concept["text"] = text
    fields: dict[str, Any] = {"code": concept}
    if note:
        fields["note"] = [{"text": note}]
    return condition(**fields)


@pytest.mark.parametrize(
    ("conditions", "sclc_found"),
    [
        ({"text": "Small cell carcinoma"}, True),
        ({"note": "Oat cell carcinoma"}, True),
        ({"text": "SCLC"}, True),
        ({"text": "Non-small cell carcinoma"}, False),
        ({"text": "Small cell carcinoma", "note": "NSCLC on review"}, False),
        ({}, False),
    ],
)
def test_icd10_c34_needs_small_cell_histology_in_its_text(
    conditions: dict[str, str], sclc_found: bool
) -> None:
    """C34.90 is lung cancer; small-cell or oat-cell text makes it SCLC, NSCLC never."""
    result = evaluate_fhir(PATIENT, icd10("C34.90", **conditions), *first_line())
    assert result.diagnosis.sclc is sclc_found


def test_c34_without_histology_says_why_it_gives_no_cards() -> None:
    """§2: C34.90 without small-cell text: one warning naming the Condition and why not SCLC."""
    result = evaluate_fhir(PATIENT, icd10("C34.90"), *first_line())
    assert result.warnings == (
        "Condition/c1: lung cancer coded C34.90 without small-cell histology in its text; "
        "not counted as SCLC",
    )


def test_c34_non_small_cell_gives_no_warning() -> None:
    """§2: C34.90 with non-small cell text is plainly not SCLC: no warning."""
    result = evaluate_fhir(PATIENT, icd10("C34.90", text="Non-small cell carcinoma"))
    assert result.warnings == ()


@pytest.mark.parametrize("status", ["remission", "inactive", "resolved"])
def test_sclc_in_remission_still_establishes_the_history(status: str) -> None:
    """A quiet status with a later progression: cards, and the disagreement is named."""
    quiet = condition(clinicalStatus={"coding": [{"code": status}]}, recordedDate="2025-04-01")
    result = evaluate_fhir(PATIENT, quiet, *first_line(), worsened_obs("o1", "2025-09-01"))
    assert result.diagnosis.sclc and result.next_line == 2
    assert result.diagnosis.clinical_status == status
    assert (
        f"Condition/c1: clinical status '{status}' but a progression is recorded on "
        "2025-09-01 (Observation/o1)"
    ) in result.warnings


def test_the_latest_staged_condition_gives_the_stage() -> None:
    """Extensive at diagnosis (2024-01-01), limited on a later staged Condition."""
    conditions = (sclc("2024-01-01"), sclc("2024-06-01", stage="Limited stage", ref="Condition/c2"))
    result = evaluate(
        record(*cycles("carboplatin", "2024-01-08", 2), conditions=conditions), today=TODAY
    )
    assert result.diagnosis.stage == "limited"
    assert result.diagnosis.condition == "Condition/c1"  # the diagnosis date's Condition


def test_an_unstaged_later_condition_does_not_override_the_stage() -> None:
    """§2: a later SCLC Condition without a stage leaves the earlier extensive stage in place."""
    conditions = (sclc("2024-01-01"), sclc("2024-06-01", stage=None, ref="Condition/c2"))
    result = evaluate(
        record(*cycles("carboplatin", "2024-01-08", 2), conditions=conditions), today=TODAY
    )
    assert result.diagnosis.stage == "extensive"


# --- §4 another active cancer -------------------------------------------------------------


def test_unlinked_drug_beside_another_active_cancer_is_kept_and_named() -> None:
    """§4: carboplatin with no reason beside prostate cancer: kept in the line, both named."""
    conditions = (sclc("2025-01-02"), other_cancer("Condition/prostate", "Prostate cancer"))
    linked = given(
        "etoposide", "2025-01-06", ref="MedicationStatement/e1", reasons=("Condition/c1",)
    )
    unlinked = given("carboplatin", "2025-01-06", ref="MedicationStatement/k1")
    result = evaluate(record(linked, unlinked, conditions=conditions), today=TODAY)
    assert result.lines[0].agents == ("carboplatin", "etoposide")
    assert result.warnings == (
        "MedicationStatement/k1 names no reason and may belong to Condition/prostate "
        "(another active cancer); counted in the SCLC lines",
    )


def test_a_taxane_for_another_cancer_no_longer_hides_the_taxane_option() -> None:
    """Docetaxel for prostate cancer in 2016 is not an SCLC line; v3 §4: a drug given for
    another cancer never hides an option, which names the record instead."""
    conditions = (sclc("2025-01-02"), other_cancer("Condition/prostate", "Prostate cancer"))
    meds = [
        given("docetaxel", "2016-03-01", reasons=("Condition/prostate",)),
        *[
            given("carboplatin", day, reasons=("Condition/c1",))
            for day in ("2025-01-06", "2025-01-27")
        ],
    ]
    result = evaluate(
        record(*meds, conditions=conditions, observations=(worsened("2025-09-01"),)), today=TODAY
    )
    assert len(result.lines) == 1
    assert "taxane" in ids(result)
    assert "anlotinib" in ids(result)
    (note,) = result.other_cancer_for("taxane")
    assert note.kind == "other_cancer_drug"
    assert dict(note.values) == {
        "agent": "docetaxel",
        "condition": "Condition/prostate",
        "year": 2016,
    }
    assert result.notes_for("taxane") == ()


# --- §9 options ---------------------------------------------------------------------------


def chemo(first: str = "2025-01-06") -> list[Any]:
    return [*cycles("carboplatin", first, 4), *cycles("etoposide", first, 4)]


def test_rechallenge_is_recommended_only_at_line_2() -> None:
    """Last platinum 2025-03-10; worsened 2025-10-15 = 21 + 153 + 15 = 219 days (window).
    Topotecan from 2025-10-20 is line 2; worsened 2026-02-02 -> line 3: `consider`."""
    second = evaluate(record(*chemo(), observations=(worsened("2025-10-15"),)), today=TODAY)
    assert ("platinum-rechallenge", "recommended") == (
        second.options[0].id,
        second.options[0].status,
    )
    third = evaluate(
        record(
            *chemo(),
            *cycles("topotecan", "2025-10-20", 3),
            observations=(worsened("2025-10-15"), worsened("2026-02-02")),
        ),
        today=TODAY,
    )
    assert third.next_line == 3
    assert ("platinum-rechallenge", "consider") in [(o.id, o.status) for o in third.options]
    assert third.platinum.rechallenge_window


@pytest.mark.parametrize(
    ("ecog", "day", "status"),
    [
        (3, "2026-11-01", "consider"),  # 20 days old: fresh, poor performance
        (4, "2026-10-22", "consider"),  # 30 days old: still fresh
        (3, "2026-10-21", "recommended"),  # 31 days old: stale, not used
        (2, "2026-11-01", "recommended"),
    ],
)
def test_ecog_3_or_4_keeps_anything_from_being_recommended(
    ecog: int, day: str, status: str
) -> None:
    """Worsened 2026-10-05; carboplatin from 2025-11-03 x4 (11-03, 11-24, 12-15, 2026-01-05):
    2026-01-05 -> 2026-10-05 = 26 + (28 + 31 + 30 + 31 + 30 + 31 + 31 + 30) + 5 = 273 days,
    in the window at line 2."""
    result = evaluate(
        record(
            *chemo("2025-11-03"), observations=(worsened("2026-10-05"), lab("89247-1", day, ecog))
        ),
        today=TODAY,
    )
    assert result.platinum.interval_days == 273
    assert (result.options[0].id, result.options[0].status) == ("platinum-rechallenge", status)
    assert (result.poor_performance is not None) is (status == "consider")


def test_options_are_ranked_recommended_first() -> None:
    """§9: `recommended` options come before `consider` ones."""
    result = evaluate(record(*chemo(), observations=(worsened("2025-10-15"),)), today=TODAY)
    statuses = [o.status for o in result.options]
    assert statuses == sorted(statuses, key=lambda s: s != "recommended")


def test_anlotinib_is_shown_from_line_2_after_a_platinum_line_only() -> None:
    """§9: anlotinib at line 2 after a platinum line; not after etoposide alone (nor taxane)."""
    with_platinum = evaluate(record(*chemo(), observations=(worsened("2025-10-15"),)), today=TODAY)
    assert "anlotinib" in ids(with_platinum)
    oral_etoposide = evaluate(
        record(*cycles("etoposide", "2025-01-06", 4), observations=(worsened("2025-10-15"),)),
        today=TODAY,
    )
    assert "anlotinib" not in ids(oral_etoposide)
    assert "taxane" not in ids(oral_etoposide)


def test_anlotinib_names_another_prior_anti_angiogenic_agent() -> None:
    """§9: prior bevacizumab keeps anlotinib shown, with a note naming the agent and its record."""
    meds = [*chemo(), given("bevacizumab", "2025-01-06", ref="MedicationStatement/bev")]
    result = evaluate(record(*meds, observations=(worsened("2025-10-15"),)), today=TODAY)
    assert "anlotinib" in ids(result)
    assert worded_notes(result, "anlotinib") == (
        "prior anti-angiogenic treatment: bevacizumab (MedicationStatement/bev)",
    )


def chemo_io() -> list[Any]:
    return [*chemo(), *cycles("atezolizumab", "2025-01-06", 4)]


def test_annab_population_notes_name_each_value_outside_with_its_date() -> None:
    """Tian et al.: 18–75, ECOG 0–1, platelets >= 90. Born 1948-01-01: 78 on 2026-11-21."""
    observations = (
        worsened("2026-10-05"),
        lab("89247-1", "2026-11-02", 2),
        lab("777-3", "2026-11-02", 80, "10*9/L"),
        lab("751-8", "2026-11-02", 2.0, "10*9/L"),
        lab("26464-8", "2024-05-01", 4.0, "10*9/L"),
    )
    result = evaluate(
        record(*chemo_io(), observations=observations, pat=patient("1948-01-01")), today=TODAY
    )
    assert "nab-paclitaxel-anlotinib" in ids(result)
    assert worded_notes(result, "nab-paclitaxel-anlotinib") == (
        "age 78 (study: 18–75)",
        "ECOG 2 on 2026-11-02 (study: ECOG 0–1)",
        "platelets 80 x10^9/L on 2026-11-02 (study: platelets ≥ 90 x10^9/L)",
        "WBC 4 x10^9/L on 2024-05-01, older than 30 days (study: WBC ≥ 3 x10^9/L)",
        "not in the record: total bilirubin, albumin, creatinine, blood pressure",
    )


def test_blood_pressure_panel_components_are_read() -> None:
    """A 85354-9 panel at 165/95 mmHg: systolic >= 160 is outside the ANNAB population."""
    from service.engine.record import Component, ObservationFact

    panel = ObservationFact(
        ref="Observation/bp",
        codes=(Code(LOINC, "85354-9"),),
        status="final",
        effective=date(2026, 11, 2),
        components=(
            Component((Code(LOINC, "8480-6"),), 165, "mm[Hg]"),
            Component((Code(LOINC, "8462-4"),), 95, "mm[Hg]"),
        ),
    )
    result = evaluate(
        record(*chemo_io(), observations=(worsened("2026-10-05"), panel)), today=TODAY
    )
    notes = worded_notes(result, "nab-paclitaxel-anlotinib")
    assert any(
        n.startswith("systolic blood pressure 165 mmHg on 2026-11-02 (study: ") for n in notes
    )
    assert not any(n.startswith("diastolic") for n in notes)


def test_checkpoint_inhibitor_past_progression_is_named() -> None:
    """Atezolizumab 2026-05-18 after worsened 2026-05-11, within 42 days of 04-27: same line."""
    meds = [
        *cycles("carboplatin", "2026-03-16", 3),
        *cycles("etoposide", "2026-03-16", 3),
        given("atezolizumab", "2026-04-27", ref="MedicationStatement/a1"),
        given("atezolizumab", "2026-05-18", ref="MedicationStatement/a2"),
    ]
    result = evaluate(record(*meds, observations=(worsened("2026-05-11"),)), today=TODAY)
    assert len(result.lines) == 1
    assert (
        "MedicationStatement/a2: atezolizumab continued past the progression of 2026-05-11; the "
        "evidence is insufficient to support continuing checkpoint inhibitors after progression"
    ) in result.warnings


# --- §10 trial --------------------------------------------------------------------------


def third_line_record(
    *observations: Any,
    pat: PatientFact | None = None,
    conditions: tuple[ConditionFact, ...] | None = None,
) -> Any:
    return record(
        *chemo(),
        *cycles("topotecan", "2025-06-02", 3),
        observations=(worsened("2025-05-20"), worsened("2026-09-01"), *observations),
        pat=pat,
        conditions=conditions,
    )


def criteria(result: Any) -> dict[str, tuple[str, str | None]]:
    (trial,) = result.trials
    wording = load_knowledge().wording
    return {
        c.criterion: (c.result, note_words(c.detail, wording) if c.detail else None)
        for c in trial.criteria
    }


def test_stale_anc_makes_the_criterion_unknown_and_shows_the_value() -> None:
    """ANC 0.8 on 2024-03-02 is not today's: unknown, not not-met."""
    result = evaluate(third_line_record(lab("751-8", "2024-03-02", 0.8, "10*9/L")), today=TODAY)
    assert criteria(result)["ANC >= 1.5 x10^9/L"] == (
        "unknown",
        "ANC 0.8 x10^9/L on 2024-03-02, older than 30 days",
    )
    assert result.trials[0].verdict == "possibly-eligible"


@pytest.mark.parametrize(("day", "result"), [("2026-10-22", "not-met"), ("2026-10-21", "unknown")])
def test_freshness_ends_at_30_days(day: str, result: str) -> None:
    """2026-11-21 - 2026-10-22 = 30 days (fresh); 10-21 = 31 days (stale)."""
    found = evaluate(third_line_record(lab("751-8", day, 0.8, "10*9/L")), today=TODAY)
    assert criteria(found)["ANC >= 1.5 x10^9/L"][0] == result


def test_limited_at_diagnosis_only_is_unknown_for_the_trial() -> None:
    """§10: limited stage at diagnosis, never restaged: the extensive-stage criterion is unknown."""
    conditions = (sclc("2025-01-02", stage="Limited stage"),)
    result = evaluate(third_line_record(conditions=conditions), today=TODAY)
    assert criteria(result)["extensive-stage SCLC"][0] == "unknown"


def test_limited_staged_at_relapse_is_not_met() -> None:
    """A recurrence staged limited on 2026-09-01, the latest progression's day."""
    conditions = (
        sclc("2025-01-02"),
        sclc("2026-09-01", stage="Limited stage", status="recurrence", ref="Condition/c2"),
    )
    result = evaluate(third_line_record(conditions=conditions), today=TODAY)
    assert criteria(result)["extensive-stage SCLC"][0] == "not-met"
    assert "tarlatamab" not in ids(result)


@pytest.mark.parametrize(
    ("born", "result"), [("1951", "met"), ("1950", "unknown"), ("1949", "not-met")]
)
def test_a_partial_birth_date_decides_the_age_only_when_every_day_agrees(
    born: str, result: str
) -> None:
    """On 2026-11-21: born in 1951 -> 74 or 75; 1950 -> 75 or 76; 1949 -> 76 or 77."""
    earliest, latest = date(int(born), 1, 1), date(int(born), 12, 31)
    pat = PatientFact("Patient/p1", earliest, False, birth_latest=latest)
    found = evaluate(third_line_record(pat=pat), today=TODAY)
    assert criteria(found)["age 18-75"][0] == result


def test_a_possibly_received_anlotinib_makes_the_prior_tki_criterion_unknown() -> None:
    """§1/§10: an undated anlotinib record: prior-TKI criterion unknown, anlotinib not shown."""
    from dataclasses import replace

    base = third_line_record()
    undated = replace(
        given("anlotinib", "2025-06-02", ref="MedicationStatement/u1"), start=None, end=None
    )
    result = evaluate(replace(base, medications=(*base.medications, undated)), today=TODAY)
    assert criteria(result)["no prior lomustine, anlotinib or anti-angiogenic TKI"][0] == "unknown"
    assert "anlotinib" not in ids(result)
