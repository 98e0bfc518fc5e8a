"""CLINICAL_RULES v3 on engine facts: §4, §5, §6 as real charts write them.

Each test pins one v3 rule at or around its threshold; every date difference is worked
out by hand in the docstring ("A → B = x + … = N" counts the days left in A's month,
then whole months, then the days of B's month).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from service.engine import evaluate
from service.engine.record import Code, ConditionFact, ObservationFact, ProcedureFact
from tests.builders import cycles, given, other_cancer, record, sclc, worsened

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
TODAY = date(2026, 11, 21)


def status_obs(day: str, code: str, *, ref: str, focus: tuple[str, ...] = ()) -> ObservationFact:
    return ObservationFact(
        ref=ref,
        codes=(Code(LOINC, "97509-4"),),
        status="final",
        effective=date.fromisoformat(day),
        value_codes=(Code(SNOMED, code),),
        focus=focus,
    )


def chemo(first: str = "2025-01-06") -> list:
    """Carboplatin + etoposide, 4 cycles: 2025-01-06, 01-27, 02-17, 03-10."""
    return [*cycles("carboplatin", first, 4), *cycles("etoposide", first, 4)]


PROSTATE = replace(
    other_cancer("Condition/pca", "Malignant tumor of prostate"), onset=date(2019, 1, 10)
)


# --- §6.1 the focus of a disease status ---------------------------------------------------


def test_a_disease_status_about_another_cancer_is_not_an_sclc_progression() -> None:
    """The issue's unsafe case: 'worsened' with focus Condition/pca. Without it the patient
    has no progression, so no decision point and no options; the record is named."""
    obs = status_obs("2025-09-29", "271299001", ref="Observation/psa", focus=("Condition/pca",))
    result = evaluate(
        record(*chemo(), conditions=(sclc("2025-01-02"), PROSTATE), observations=(obs,)),
        today=TODAY,
    )
    assert result.progression is None
    assert result.next_line is None and result.options == ()
    assert [w for w in result.warnings if w.startswith("Observation/psa")] == [
        "Observation/psa: disease status '271299001' is about Condition/pca, not the SCLC; "
        "not read as an SCLC progression"
    ]


@pytest.mark.parametrize("focus", [(), ("Condition/c1",), ("Condition/pca", "Condition/c1")])
def test_a_disease_status_about_the_sclc_or_about_nothing_counts(focus: tuple[str, ...]) -> None:
    """Last platinum 2025-03-10 → 2025-09-29 = 21 + 30+31+30+31+31 + 29 = 203 days."""
    obs = status_obs("2025-09-29", "271299001", ref="Observation/o1", focus=focus)
    result = evaluate(
        record(*chemo(), conditions=(sclc("2025-01-02"), PROSTATE), observations=(obs,)),
        today=TODAY,
    )
    assert result.progression is not None and result.progression.source == "Observation/o1"
    assert result.platinum is not None and result.platinum.interval_days == 203
    assert result.next_line == 2


# --- §6.1 progression findings and values not understood ------------------------------------


@pytest.mark.parametrize("code", ["419835002", "255314001", "246450006"])
def test_a_snomed_progression_finding_is_a_progression(code: str) -> None:
    """Tumour progression / progressive: 2025-03-10 → 2025-06-16 = 21 + 30+31 + 16 = 98."""
    obs = status_obs("2025-06-16", code, ref="Observation/o1")
    result = evaluate(record(*chemo(), observations=(obs,)), today=TODAY)
    assert result.platinum is not None
    assert (result.platinum.interval_days, result.platinum.sensitivity) == (98, "sensitive")


def test_a_disease_status_value_not_understood_after_line_1_is_named() -> None:
    """Line 1 starts 2025-01-06. A value outside the known set on 2025-06-16 is named; one on
    2025-01-06 (not after the start) and a known 'stable' value are not."""
    unknown_late = status_obs("2025-06-16", "123456789", ref="Observation/late")
    unknown_early = status_obs("2025-01-06", "123456789", ref="Observation/early")
    stable = status_obs("2025-07-01", "359746009", ref="Observation/stable")
    result = evaluate(
        record(*chemo(), observations=(unknown_late, unknown_early, stable)), today=TODAY
    )
    assert result.progression is None
    assert result.warnings == (
        "Observation/late: disease status value '123456789' is not understood; "
        "not read as a progression",
    )


# --- §6.2 a Condition named as a recurrence -------------------------------------------------


def recurrent(text: str, onset: str, status: str = "active") -> ConditionFact:
    return ConditionFact(
        ref="Condition/rec",
        codes=(),
        text=text,
        clinical_status=status,
        verification_status="confirmed",
        onset=date.fromisoformat(onset),
        recorded=None,
    )


def test_a_recurrent_sclc_condition_is_a_dated_relapse_whatever_its_status() -> None:
    """'Recurrent small cell lung cancer', active, onset 2025-10-20: 2025-03-10 → 2025-10-20
    = 21 + 30+31+30+31+31+30 + 20 = 224 days: re-challenge window, recommended at line 2."""
    conditions = (sclc("2025-01-02"), recurrent("Recurrent small cell lung cancer", "2025-10-20"))
    result = evaluate(record(*chemo(), conditions=conditions), today=TODAY)
    assert result.progression is not None
    assert (result.progression.date, result.progression.source) == (
        date(2025, 10, 20),
        "Condition/rec",
    )
    assert result.platinum is not None and result.platinum.interval_days == 224
    assert result.options[0].id == "platinum-rechallenge"
    assert result.options[0].status == "recommended"


def test_history_of_sclc_is_not_a_relapse() -> None:
    """'History of … recurrent episode' is not a relapse record (§6.2 v3)."""
    conditions = (
        sclc("2025-01-02"),
        recurrent("History of small cell lung cancer, recurrent episode", "2025-10-20"),
    )
    result = evaluate(record(*chemo(), conditions=conditions), today=TODAY)
    assert result.progression is None and result.next_line is None


# --- §4 the 30-day rule ---------------------------------------------------------------------


def test_an_sclc_condition_entered_at_relapse_keeps_the_first_line_given_elsewhere() -> None:
    """The only SCLC Condition is 'Recurrent small cell lung cancer', onset 2025-10-20, so the
    diagnosis date is 2025-10-20 and carboplatin-etoposide from 2025-01-06 started 287 days
    before it. v2 dropped that line; v3 keeps SCLC agents when no other cancer is dated
    before them. The same Condition is the relapse: 2025-03-10 → 2025-10-20 = 224 days."""
    conditions = (recurrent("Recurrent small cell lung cancer", "2025-10-20"),)
    result = evaluate(record(*chemo(), conditions=conditions), today=TODAY)
    assert result.diagnosis.diagnosed == date(2025, 10, 20)
    (line,) = result.lines
    assert line.agents == ("carboplatin", "etoposide")
    assert result.platinum is not None and result.platinum.interval_days == 224
    assert result.next_line == 2
    assert result.warnings == ()


def test_an_sclc_agent_after_another_cancer_long_before_the_diagnosis_is_not_sclc() -> None:
    """Prostate cancer 2019-01-10; carboplatin 2020-03-02 with no reason, SCLC diagnosed
    2025-01-02: more than 30 days earlier and after another cancer → not an SCLC line, and
    named under Check the record."""
    early = given("carboplatin", "2020-03-02", ref="MedicationStatement/old")
    result = evaluate(
        record(early, *chemo(), conditions=(sclc("2025-01-02"), PROSTATE)), today=TODAY
    )
    assert [line.start for line in result.lines] == [date(2025, 1, 6)]
    assert (
        "MedicationStatement/old: carboplatin started 2020-03-02, more than 30 days before the "
        "SCLC diagnosis (2025-01-02), after Condition/pca (another cancer); not counted in the "
        "SCLC lines"
    ) in result.warnings


@pytest.mark.parametrize(
    ("start", "in_lines"),
    [("2024-12-03", True), ("2024-12-02", False)],
    ids=["30-days-before", "31-days-before"],
)
def test_a_non_sclc_agent_follows_the_30_day_rule(start: str, in_lines: bool) -> None:
    """Diagnosis 2025-01-02. Docetaxel 2024-12-03 is 28 + 2 = 30 days before (kept: > 30
    excludes); 2024-12-02 is 31 days before and docetaxel is not an SCLC drug (excluded)."""
    result = evaluate(
        record(given("docetaxel", start), conditions=(sclc("2025-01-02"),)), today=TODAY
    )
    assert bool(result.lines) is in_lines
    assert any("not an SCLC drug" in w for w in result.warnings) is not in_lines


def test_a_drug_for_another_cancer_is_named_on_the_option_it_would_have_hidden() -> None:
    """Docetaxel for Condition/pca in 2019 leaves `taxane` shown, with a note."""
    taxane = given("docetaxel", "2019-03-04", reasons=("Condition/pca",))
    result = evaluate(
        record(
            taxane,
            *chemo(),
            conditions=(sclc("2025-01-02"), PROSTATE),
            observations=(worsened("2025-09-29"),),
        ),
        today=TODAY,
    )
    assert "taxane" in [o.id for o in result.options]
    (note,) = result.other_cancer_for("taxane")
    assert dict(note.values) == {"agent": "docetaxel", "condition": "Condition/pca", "year": 2019}
    assert result.other_cancer_for("topotecan") == ()


# --- §5.4 maintenance timing ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "lines"),
    [("2025-04-21", 1), ("2025-04-22", 2)],
    ids=["42-days-maintenance", "43-days-new-line"],
)
def test_a_checkpoint_inhibitor_is_maintenance_only_within_42_days_of_chemotherapy(
    start: str, lines: int
) -> None:
    """Last carboplatin/etoposide 2025-03-10. Nivolumab 2025-04-21 = 21 + 21 = 42 days after
    → maintenance of line 1; 2025-04-22 = 43 days → line 2 (its start is the proxy
    progression: 2025-03-10 → 2025-04-22 = 43 days, resistant)."""
    result = evaluate(record(*chemo(), *cycles("nivolumab", start, 3, every=14)), today=TODAY)
    assert len(result.lines) == lines
    if lines == 1:
        assert result.lines[0].maintenance_agents == ("nivolumab",)
    else:
        assert result.lines[1].agents == ("nivolumab",)
        assert result.platinum is not None
        assert (result.platinum.interval_days, result.platinum.estimated) == (43, True)


def test_nivolumab_six_months_after_chemotherapy_is_a_new_line() -> None:
    """The issue's case: nivolumab from 2025-09-22, 196 days after 2025-03-10 → line 2."""
    result = evaluate(
        record(*chemo(), *cycles("nivolumab", "2025-09-22", 4, every=14)), today=TODAY
    )
    assert [line.agents for line in result.lines] == [("carboplatin", "etoposide"), ("nivolumab",)]
    assert result.progression is not None and result.progression.proxy


# --- §5.5 holds -----------------------------------------------------------------------------


def maintenance_with_gap(resume: str) -> list:
    """Atezolizumab with the chemotherapy (4 cycles) and alone 2025-03-31, 04-21, 05-12
    (last before the gap: 05-12), then resumed on `resume` for 3 doses."""
    return [
        *chemo(),
        *cycles("atezolizumab", "2025-01-06", 7),
        *cycles("atezolizumab", resume, 3),
    ]


@pytest.mark.parametrize(
    ("resume", "gap", "held"),
    [("2025-08-09", 89, False), ("2025-08-10", 90, True), ("2025-08-11", 91, True)],
)
def test_a_held_maintenance_agent_stays_in_its_line(resume: str, gap: int, held: bool) -> None:
    """May has 19 days left after 05-12, June 30, July 31: 05-12 → 08-09 = 19 + 30 + 31 + 9
    = 89, → 08-10 = 90, → 08-11 = 91. No progression: one line either
    way; at 90 days or more a warning names the gap (v2 opened line 2 at 90)."""
    result = evaluate(record(*maintenance_with_gap(resume)), today=TODAY)
    (line,) = result.lines
    assert line.maintenance_agents == ("atezolizumab",)
    holds = [w for w in result.warnings if "read as a hold" in w]
    assert len(holds) == int(held)
    if held:
        assert f"after {gap} days without it (last given 2025-05-12" in holds[0]


def test_a_hold_broken_by_a_progression_is_a_new_line() -> None:
    """A progression on 2025-07-01 lies between the last dose (05-12) and the resumption
    (08-10). The last dose is 90 days before 08-10, more than 42, so this is not treatment
    beyond progression: line 2, and no hold."""
    result = evaluate(
        record(*maintenance_with_gap("2025-08-10"), observations=(worsened("2025-07-01"),)),
        today=TODAY,
    )
    assert len(result.lines) == 2
    assert not any("read as a hold" in w for w in result.warnings)


def test_a_chemotherapy_agent_after_90_days_is_still_a_rechallenge() -> None:
    """Etoposide is not a maintenance agent: 2025-03-10 → 2025-06-08 = 21 + 30 + 31 + 8 = 90
    days → line 2 (§5.3c)."""
    result = evaluate(record(*chemo(), given("etoposide", "2025-06-08")), today=TODAY)
    assert len(result.lines) == 2


# --- §5.6 overlapping records, §7 no negative interval --------------------------------------


def test_a_platinum_record_running_past_the_next_line_ends_the_day_before() -> None:
    """Carboplatin recorded 2026-01-05 → 2026-06-30 (a late stop date); topotecan from
    2026-04-14 opens line 2 (a new agent, 99 days after the start). v2 printed 04-14 − 06-30
    = −77 days. v3: the last dose is 2026-04-13 (estimated), so the proxy progression on
    04-14 gives 1 day: resistant, and both records are named."""
    carbo = given("carboplatin", "2026-01-05", "2026-06-30", ref="MedicationStatement/carbo")
    etop = given("etoposide", "2026-01-05", "2026-03-09", ref="MedicationStatement/etop")
    topo = given("topotecan", "2026-04-14", "2026-06-16", ref="MedicationStatement/topo")
    result = evaluate(record(carbo, etop, topo), today=TODAY)
    assert [line.number for line in result.lines] == [1, 2]
    platinum = result.platinum
    assert platinum is not None
    assert (platinum.last_dose, platinum.interval_days, platinum.sensitivity) == (
        date(2026, 4, 13),
        1,
        "resistant",
    )
    assert platinum.estimated
    (warning,) = [w for w in result.warnings if "last platinum dose is taken" in w]
    assert warning == (
        "MedicationStatement/carbo: carboplatin of line 1 runs to 2026-06-30, after line 2 "
        "starts on 2026-04-14 (MedicationStatement/topo); its last platinum dose is taken as "
        "2026-04-13 (estimated)"
    )


# --- §1, §11 procedures ---------------------------------------------------------------------


def procedure(
    ref: str, kind: str, start: str, end: str | None = None, *, reasons: tuple[str, ...] = ()
) -> ProcedureFact:
    return ProcedureFact(
        ref=ref,
        kind=kind,  # type: ignore[arg-type]
        status="completed",
        codes=(),
        text={"systemic": "Chemotherapy", "radiotherapy": "Prophylactic cranial irradiation"}.get(
            kind, "Chemoradiotherapy"
        ),
        start=date.fromisoformat(start),
        end=date.fromisoformat(end) if end else None,
        reason_refs=reasons,
    )


@pytest.mark.parametrize(
    ("day", "named"),
    [("2025-04-07", False), ("2025-04-08", True)],
    ids=["28-days-after-the-line", "29-days-after"],
)
def test_systemic_therapy_recorded_only_as_a_procedure_is_named(day: str, named: bool) -> None:
    """Line 1 ends 2025-03-10. A chemotherapy Procedure up to 28 days later (2025-04-07 =
    21 + 7) is the line's own record; one 29 days later (04-08) is therapy recorded only
    as a procedure: never a line, but named (the line count may be too low)."""
    chemo_procedure = procedure("Procedure/p1", "systemic", day)
    result = evaluate(replace(record(*chemo()), procedures=(chemo_procedure,)), today=TODAY)
    assert len(result.lines) == 1
    assert result.systemic_procedures[0].source == "Procedure/p1"
    assert [w for w in result.warnings if w.startswith("Procedure/p1")] == (
        [
            f"Procedure/p1: systemic anticancer therapy recorded only as a procedure ({day}); "
            "it names no drug, so it is not counted as a line and the line count may be too low"
        ]
        if named
        else []
    )


def test_procedures_for_another_cancer_and_radiotherapy() -> None:
    """Chemotherapy for the prostate cancer is left out (§4); radiotherapy is listed by
    date, never a line."""
    procedures = (
        procedure("Procedure/rt2", "radiotherapy", "2025-06-02", "2025-06-13"),
        procedure("Procedure/pca-chemo", "systemic", "2019-05-06", reasons=("Condition/pca",)),
        procedure("Procedure/rt1", "radiotherapy", "2025-01-13", "2025-02-21"),
    )
    result = evaluate(
        replace(record(*chemo(), conditions=(sclc("2025-01-02"), PROSTATE)), procedures=procedures),
        today=TODAY,
    )
    assert [p.source for p in result.radiotherapy] == ["Procedure/rt1", "Procedure/rt2"]
    assert result.systemic_procedures == ()
    assert not any("Procedure/" in w for w in result.warnings)
    assert len(result.lines) == 1


def test_no_drug_records_but_chemotherapy_procedures_is_not_no_therapy() -> None:
    """SCLC with chemotherapy only as procedures: no lines, one warning naming them all,
    and the card never says no systemic therapy is recorded."""
    from service.cards import patient_view_cards

    procedures = tuple(
        procedure(f"Procedure/c{i}", "systemic", day)
        for i, day in enumerate(["2025-01-06", "2025-01-27", "2025-02-17"], start=1)
    )
    result = evaluate(replace(record(), procedures=procedures), today=TODAY)
    assert result.lines == ()
    assert result.warnings == (
        "Procedure/c1, Procedure/c2, Procedure/c3: systemic anticancer therapy recorded only as "
        "a procedure (2025-01-06 to 2025-02-17); it names no drug, so it is not counted as a "
        "line and the line count may be too low",
    )
    (card,) = patient_view_cards(result, base_url="http://cds.example")
    assert "no systemic therapy" not in (card["summary"] + card["detail"]).lower()
    assert card["indicator"] == "warning"


def test_a_drug_whose_reason_code_names_another_cancer_is_named_by_that_code() -> None:
    """A reason given only as a code (ICD-10 C61, prostate) names the note, never "before
    the SCLC diagnosis" (docetaxel 2025-02-03 is after the 2025-01-02 diagnosis)."""
    taxane = replace(
        given("docetaxel", "2025-02-03"),
        reason_codes=(
            Code("http://hl7.org/fhir/sid/icd-10", "C61", "Malignant neoplasm of prostate"),
        ),
    )
    result = evaluate(record(taxane, *chemo(), observations=(worsened("2025-09-29"),)), today=TODAY)
    (note,) = result.other_cancer_for("taxane")
    assert (note.kind, dict(note.values)["condition"]) == (
        "other_cancer_drug",
        "Malignant neoplasm of prostate",
    )


@pytest.mark.parametrize(
    ("day", "named"),
    [("2024-12-09", False), ("2024-12-08", True)],
    ids=["28-days-before-the-line", "29-days-before"],
)
def test_a_chemotherapy_procedure_just_before_its_line_is_the_lines_own(
    day: str, named: bool
) -> None:
    """Line 1 starts 2025-01-06. A chemotherapy Procedure recorded up to 28 days before
    (2024-12-09 = 22 + 6) belongs to it, as one recorded after it does; 29 days before
    (2024-12-08) it is named."""
    result = evaluate(
        replace(record(*chemo()), procedures=(procedure("Procedure/p1", "systemic", day),)),
        today=TODAY,
    )
    assert any(w.startswith("Procedure/p1") for w in result.warnings) is named
