"""Progression events (§6), platinum-free interval and sensitivity (§7), decision point (§8).

Line 1 in most tests: carboplatin + etoposide q21d x4, Jan 6 .. Mar 10 2025, so the last
platinum dose is 2025-03-10.
"""

from __future__ import annotations

from datetime import date

import pytest

from service.engine import evaluate
from tests.builders import cycles, d, given, record, sclc, worsened

TODAY = date(2025, 11, 21)
LAST_PLATINUM = d("2025-03-10")


def first_line():
    return [*cycles("carboplatin", "2025-01-06", 4), *cycles("etoposide", "2025-01-06", 4)]


@pytest.mark.parametrize(
    ("progressed", "days", "sensitivity", "window"),
    [
        ("2025-02-20", -18, "refractory", False),  # during therapy: Feb 20 - Mar 10 = -(8 + 10)
        ("2025-03-10", 0, "refractory", False),  # on the last platinum day
        ("2025-03-11", 1, "resistant", False),
        ("2025-06-07", 89, "resistant", False),  # 21 + 30 + 31 + 7
        ("2025-06-08", 90, "sensitive", False),
        ("2025-09-05", 179, "sensitive", False),  # 21 + 30 + 31 + 30 + 31 + 31 + 5
        ("2025-09-06", 180, "sensitive", True),
    ],
)
def test_interval_and_sensitivity_from_the_last_platinum_dose(
    progressed: str, days: int, sensitivity: str, window: bool
) -> None:
    """§7 edges: <= 0 refractory, 1-89 resistant, >= 90 sensitive, >= 180 window."""
    result = evaluate(record(*first_line(), observations=(worsened(progressed),)), today=TODAY)
    assert result.platinum is not None
    assert result.platinum.last_dose == LAST_PLATINUM
    assert (result.platinum.interval_days, result.platinum.sensitivity) == (days, sensitivity)
    assert result.platinum.rechallenge_window is window
    assert result.platinum.estimated is False


def test_interval_counts_from_platinum_not_from_maintenance() -> None:
    """Atezolizumab maintenance to Jun 23; relapse Oct 15: 219 days from Mar 10, not 114."""
    meds = [*first_line(), *cycles("atezolizumab", "2025-01-06", 9)]  # .. Jun 23
    result = evaluate(record(*meds, observations=(worsened("2025-10-15"),)), today=TODAY)
    assert result.lines[0].end == d("2025-06-23")
    assert result.platinum is not None
    assert result.platinum.interval_days == 219  # 21 + 30 + 31 + 30 + 31 + 31 + 30 + 15


def test_relapse_condition_onset_is_the_progression_date() -> None:
    """A separate recurrence Condition with onset Oct 15 after line 1 started."""
    conditions = (sclc("2024-12-20"), sclc("2025-10-15", status="recurrence", ref="Condition/c2"))
    result = evaluate(record(*first_line(), conditions=conditions), today=TODAY)
    assert result.progression is not None
    assert (result.progression.date, result.progression.source) == (d("2025-10-15"), "Condition/c2")
    assert result.platinum is not None and result.platinum.interval_days == 219
    assert result.next_line == 2


def test_relapse_status_on_the_original_condition_uses_recorded_date() -> None:
    """Onset 2024-12-20 is before line 1; recordedDate 2025-10-15 is after it."""
    conditions = (sclc("2024-12-20", status="relapse", recorded="2025-10-15"),)
    result = evaluate(record(*first_line(), conditions=conditions), today=TODAY)
    assert result.progression is not None and result.progression.date == d("2025-10-15")


def test_undated_relapse_gives_unknown_sensitivity_and_a_decision_point() -> None:
    """Relapse status, onset and recorded before line 1: known but undated."""
    conditions = (sclc("2024-12-20", status="relapse", recorded="2024-12-21"),)
    result = evaluate(record(*first_line(), conditions=conditions), today=TODAY)
    assert result.progression is not None and result.progression.date is None
    assert result.platinum is not None
    assert (result.platinum.sensitivity, result.platinum.interval_days) == ("unknown", None)
    assert result.next_line == 2


def test_undated_relapse_during_an_ongoing_line_is_no_decision_point() -> None:
    """Last dose 2025-11-01 is 20 days before today: the line is ongoing."""
    conditions = (sclc("2024-12-20", status="relapse"),)
    meds = [*first_line(), given("carboplatin", "2025-11-01")]
    result = evaluate(record(*meds, conditions=conditions), today=TODAY)
    assert result.next_line is None


def test_proxy_progression_is_the_next_line_start_and_marked_estimated() -> None:
    """Topotecan Aug 4 with no dated progression: Mar 10 -> Aug 4 is 21+30+31+30+31+4 = 147."""
    meds = [*first_line(), given("topotecan", "2025-08-04")]
    result = evaluate(record(*meds), today=TODAY)
    assert result.progression is not None
    assert (result.progression.date, result.progression.estimated) == (d("2025-08-04"), True)
    assert result.platinum is not None
    assert (result.platinum.interval_days, result.platinum.estimated) == (147, True)
    assert result.platinum.sensitivity == "sensitive"
    assert result.next_line is None  # no progression after line 2 started


def test_no_progression_reports_days_since_last_platinum() -> None:
    """Mar 10 -> Nov 21 2025: 21 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 21 = 256 days."""
    result = evaluate(record(*first_line()), today=TODAY)
    assert result.platinum is not None
    assert result.platinum.interval_days is None
    assert result.platinum.sensitivity is None
    assert result.platinum.days_since_last_platinum == 256
    assert result.next_line is None


def test_no_platinum_line_gives_no_platinum() -> None:
    """§7: topotecan alone, no platinum line: `platinum` is None."""
    result = evaluate(record(given("topotecan", "2025-01-06")), today=TODAY)
    assert result.platinum is None


def test_deceased_patient_keeps_lines_but_gets_no_next_line() -> None:
    """§2: a deceased patient's lines are still reported; no next line, options or trials."""
    from tests.builders import patient

    result = evaluate(
        record(*first_line(), observations=(worsened("2025-10-15"),), pat=patient(deceased=True)),
        today=TODAY,
    )
    assert len(result.lines) == 1
    assert (result.next_line, result.options, result.trials) == (None, (), ())


def test_sclc_with_no_exposures_has_no_lines_and_no_decision() -> None:
    """§8: SCLC with a progression but no exposures: no lines, no next line, no options."""
    result = evaluate(record(observations=(worsened("2025-10-15"),)), today=TODAY)
    assert result.diagnosis.sclc is True
    assert (result.lines, result.next_line, result.options) == ((), None, ())


def test_two_progression_records_on_one_day_name_the_same_source_in_any_order() -> None:
    """Found by the shuffle property: ties resolve by reference, not by input order."""
    a, b = worsened("2025-10-15", ref="Observation/a"), worsened("2025-10-15", ref="Observation/b")
    first = evaluate(record(*first_line(), observations=(a, b)), today=TODAY)
    second = evaluate(record(*first_line(), observations=(b, a)), today=TODAY)
    assert first.progression == second.progression
    assert first.progression is not None and first.progression.source == "Observation/a"


def test_proxy_progression_names_the_record_that_opens_the_next_line() -> None:
    """Line 2 opened by ref 'z-first' (Aug 4) before 'a-later' (Aug 25): sources sort
    the other way round, the proxy still names the opening record."""
    meds = [
        *first_line(),
        given("topotecan", "2025-08-04", ref="MedicationStatement/z-first"),
        given("topotecan", "2025-08-25", ref="MedicationStatement/a-later"),
    ]
    result = evaluate(record(*meds), today=TODAY)
    assert result.lines[1].sources == ("MedicationStatement/a-later", "MedicationStatement/z-first")
    assert result.progression is not None
    assert result.progression.source == "MedicationStatement/z-first"
