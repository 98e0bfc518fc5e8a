"""Lines of therapy (CLINICAL_RULES §5). Every date difference is worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from service.engine import evaluate
from tests.builders import cycles, d, given, record, sclc, worsened

TODAY = date(2026, 11, 21)


def lines_of(*meds, **kwargs):
    result = evaluate(record(*meds, **kwargs), today=TODAY)
    return [
        (line.number, list(line.agents), list(line.maintenance_agents)) for line in result.lines
    ]


def test_agent_starting_on_day_28_joins_the_regimen() -> None:
    """Jan 6 -> Feb 3 is 25 + 3 = 28 days: inside the regimen window."""
    assert lines_of(given("carboplatin", "2025-01-06"), given("topotecan", "2025-02-03")) == [
        (1, ["carboplatin", "topotecan"], [])
    ]


def test_new_agent_on_day_29_starts_a_new_line() -> None:
    """Jan 6 -> Feb 4 is 29 days: outside the window, not a substitution -> line 2."""
    assert lines_of(given("carboplatin", "2025-01-06"), given("topotecan", "2025-02-04")) == [
        (1, ["carboplatin"], []),
        (2, ["topotecan"], []),
    ]


def test_cisplatin_to_carboplatin_switch_stays_in_the_line() -> None:
    """Cisplatin Jan 6, carboplatin Mar 17 (25 + 28 + 17 = 70 days): a substitution."""
    meds = [
        given("cisplatin", "2025-01-06"),
        given("etoposide", "2025-01-06"),
        given("carboplatin", "2025-03-17"),
        given("etoposide", "2025-03-17"),
    ]
    assert lines_of(*meds) == [(1, ["carboplatin", "cisplatin", "etoposide"], [])]


def test_atezolizumab_continued_alone_is_maintenance_of_line_1() -> None:
    """Four q21d cycles Jan 6 .. Mar 10, then atezolizumab alone Mar 31 and Apr 21."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        *cycles("atezolizumab", "2025-01-06", 6),
    ]
    result = evaluate(record(*meds), today=TODAY)
    assert [(n.number, n.agents, n.maintenance_agents) for n in result.lines] == [
        (1, ("atezolizumab", "carboplatin", "etoposide"), ("atezolizumab",))
    ]
    assert result.lines[0].start == d("2025-01-06")
    assert result.lines[0].end == d("2025-04-21")  # Mar 10 + 21 = Mar 31, + 21 = Apr 21


def test_atezolizumab_given_only_with_chemotherapy_is_not_maintenance() -> None:
    """Atezolizumab on the same four days as the chemotherapy: no maintenance phase."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        *cycles("atezolizumab", "2025-01-06", 4),
    ]
    assert lines_of(*meds) == [(1, ["atezolizumab", "carboplatin", "etoposide"], [])]


def test_durvalumab_consolidation_after_chemoradiation_is_line_1_maintenance() -> None:
    """Cisplatin/etoposide Mar 4 .. May 6 2024; durvalumab Jun 17 (105 days after the
    start: 27 + 30 + 31 + 17), outside the window but maintenance."""
    meds = [
        *cycles("cisplatin", "2024-03-04", 4),
        *cycles("etoposide", "2024-03-04", 4),
        *cycles("durvalumab", "2024-06-17", 3, every=28),
    ]
    assert lines_of(*meds, conditions=(sclc("2024-02-20", stage="Limited stage"),)) == [
        (1, ["cisplatin", "durvalumab", "etoposide"], ["durvalumab"])
    ]


def test_durvalumab_after_progression_is_a_new_line() -> None:
    """The same durvalumab after a worsened status on May 20 is no longer maintenance."""
    meds = [
        *cycles("cisplatin", "2024-03-04", 4),
        *cycles("etoposide", "2024-03-04", 4),
        given("durvalumab", "2024-06-17"),
    ]
    got = lines_of(*meds, observations=(worsened("2024-05-20"),))
    assert got == [(1, ["cisplatin", "etoposide"], []), (2, ["durvalumab"], [])]


def test_lurbinectedin_added_to_atezolizumab_maintenance_stays_in_line_1() -> None:
    """IMforte: lurbinectedin Apr 21 beside atezolizumab maintenance (last dose Mar 31)."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        *cycles("atezolizumab", "2025-01-06", 6),
        *cycles("lurbinectedin", "2025-04-21", 2),
    ]
    assert lines_of(*meds) == [
        (
            1,
            ["atezolizumab", "carboplatin", "etoposide", "lurbinectedin"],
            ["atezolizumab", "lurbinectedin"],
        )
    ]


def test_treatment_beyond_progression_within_42_days_stays_in_the_line() -> None:
    """Worsened May 1; atezolizumab May 12 is 21 days after its Apr 21 dose: continued.
    Topotecan May 19 is a new agent -> line 2."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        *cycles("atezolizumab", "2025-01-06", 7),  # ... Apr 21, May 12
        given("topotecan", "2025-05-19"),
    ]
    got = lines_of(*meds, observations=(worsened("2025-05-01"),))
    assert got == [
        (1, ["atezolizumab", "carboplatin", "etoposide"], ["atezolizumab"]),
        (2, ["topotecan"], []),
    ]


def test_same_drugs_after_progression_and_43_days_are_a_new_line() -> None:
    """Last carboplatin Mar 10; worsened May 1; carboplatin Jun 2 is 21 + 30 + 31 + 2 = 84
    days later: under the 90-day re-challenge gap, but after progression -> line 2."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        given("carboplatin", "2025-06-02"),
        given("etoposide", "2025-06-02"),
    ]
    got = lines_of(*meds, observations=(worsened("2025-05-01"),))
    assert got == [(1, ["carboplatin", "etoposide"], []), (2, ["carboplatin", "etoposide"], [])]


@pytest.mark.parametrize(
    ("restart", "expected_lines"),
    [
        ("2025-06-07", 1),  # Mar 10 -> Jun 7: 21 + 30 + 31 + 7 = 89 days: same line
        ("2025-06-08", 2),  # 90 days: a re-challenge, new line
    ],
)
def test_reintroducing_an_agent_after_90_days_is_a_new_line(
    restart: str, expected_lines: int
) -> None:
    """§5.3(c): re-challenge after >= 90 days without the agent, no progression recorded."""
    meds = [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        given("carboplatin", restart),
        given("etoposide", restart),
    ]
    assert len(lines_of(*meds)) == expected_lines


def test_supportive_drugs_never_form_a_line() -> None:
    """Filgrastim and trilaciclib are supportive (§3)."""
    meds = [
        given("carboplatin", "2025-01-06"),
        given("filgrastim", "2025-05-01"),
        given("trilaciclib", "2025-07-01"),
    ]
    assert lines_of(*meds) == [(1, ["carboplatin"], [])]


@pytest.mark.parametrize(
    ("start", "attributed"),
    [
        ("2023-12-02", True),  # Dec 2 -> Jan 1: 29 + 1 = 30 days before diagnosis: kept
        ("2023-12-01", False),  # 31 days before: not for this SCLC
    ],
)
def test_exposure_more_than_30_days_before_diagnosis_is_not_sclc(
    start: str, attributed: bool
) -> None:
    """§4, diagnosis 2024-01-01."""
    got = lines_of(given("docetaxel", start), conditions=(sclc("2024-01-01"),))
    assert bool(got) is attributed


def test_drug_given_for_another_cancer_is_not_an_sclc_line() -> None:
    """§4: reasonReference to a colon cancer Condition."""
    from tests.builders import other_cancer

    meds = [
        given("carboplatin", "2025-01-06"),
        given("oxaliplatin", "2025-05-01", reasons=("Condition/other",)),
    ]
    assert lines_of(*meds, conditions=(sclc(), other_cancer())) == [(1, ["carboplatin"], [])]


def test_line_is_ongoing_within_42_days_of_today_only() -> None:
    """Last dose 2026-10-10: 21 + 21 = 42 days before 2026-11-21 -> ongoing; Oct 9 -> 43 days."""
    recent = evaluate(record(given("carboplatin", "2026-10-10")), today=TODAY)
    older = evaluate(record(given("carboplatin", "2026-10-09")), today=TODAY)
    assert (recent.lines[0].ongoing, older.lines[0].ongoing) == (True, False)


def test_active_statement_without_end_keeps_the_line_ongoing() -> None:
    """An active MedicationStatement with no end date: ongoing whatever its age."""
    med = given("atezolizumab", "2025-01-06", status="active", open_ended=True)
    assert evaluate(record(med), today=TODAY).lines[0].ongoing is True


def test_entered_in_error_and_not_taken_records_leave_no_trace() -> None:
    """§1 exclusion lists."""
    meds = [
        given("carboplatin", "2025-01-06"),
        given("topotecan", "2025-06-01", status="entered-in-error"),
        given("topotecan", "2025-06-01", status="not-taken"),
        given("topotecan", "2025-06-01", kind="MedicationRequest", status="cancelled"),
        given("topotecan", "2025-06-01", kind="MedicationAdministration", status="not-done"),
    ]
    assert lines_of(*meds) == [(1, ["carboplatin"], [])]
