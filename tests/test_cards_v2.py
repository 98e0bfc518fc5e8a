"""Cards under CLINICAL_RULES v2: §7's two definitions, §11's summary, thresholds read
from the configuration, and record text shown as written."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date

import pytest

from service.cards import patient_view_cards
from service.engine import evaluate
from service.engine.model import Evaluation
from service.engine.rules import Thresholds
from service.fhir import build_records, load_path
from tests.builders import cycles, lab, record, worsened
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)
BASE = "http://localhost:8080"
RECORD_REF = re.compile(
    r"\b(?:MedicationStatement|MedicationRequest|MedicationAdministration"
    r"|Condition|Observation|Procedure|Patient)/[A-Za-z0-9\-.#]+"
)


def evaluation_of(scenario: str, thresholds: Thresholds | None = None) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (found,) = build_records(resources, warnings=warnings)
    return evaluate(found, today=TODAY, thresholds=thresholds or Thresholds())


def summary_of(evaluation: Evaluation) -> dict[str, str]:
    return dict(patient_view_cards(evaluation, base_url=BASE)[0])


def interval_record(progression: str) -> Evaluation:
    """Carboplatin + etoposide x4 from 2026-01-05 (01-05, 01-26, 02-16, last dose 03-09)."""
    meds = [*cycles("carboplatin", "2026-01-05", 4), *cycles("etoposide", "2026-01-05", 4)]
    return evaluate(record(*meds, observations=(worsened(progression),)), today=TODAY)


def test_a_90_to_179_day_interval_states_both_definitions() -> None:
    """2026-03-09 -> 2026-07-20 = 22 + 30 + 31 + 30 + 20 = 133 days."""
    evaluation = interval_record("2026-07-20")
    assert evaluation.platinum is not None and evaluation.platinum.interval_days == 133
    card = summary_of(evaluation)
    assert "resistant by ANNAB's 180 d" in card["summary"]
    assert (
        "**sensitive** by the 90-day definition; **resistant** by the 180-day definition of "
        "the ANNAB study" in card["detail"]
    )
    options = patient_view_cards(evaluation, base_url=BASE)[1]
    rechallenge = next(x for x in options["detail"].splitlines() if x.startswith("1. "))
    # v3: the entry names no class, so it cannot contradict the summary
    assert "**Platinum re-challenge**: consider (133 days platinum-free, under 180)." in rechallenge
    assert "sensitive relapse" in rechallenge and "sensitive by" not in rechallenge


def test_a_late_interval_names_one_class_only() -> None:
    """2026-03-09 -> 2026-09-14 = 22 + 30 + 31 + 30 + 31 + 31 + 14 = 189 days."""
    card = summary_of(interval_record("2026-09-14"))
    assert "ANNAB" not in card["summary"]
    assert "(180 days or more: re-challenge window)" in card["detail"]


def test_cards_state_thresholds_from_the_configuration() -> None:
    """With the window at 80 days and the sensitive cut at 60, an 84-day interval reads back
    those values, never the defaults (the issue's SCLC_CDS_THRESHOLD_RECHALLENGE_WINDOW_DAYS)."""
    meds = [*cycles("carboplatin", "2026-01-05", 4), *cycles("etoposide", "2026-01-05", 4)]
    custom = Thresholds(rechallenge_window_days=80, sensitive_days=60, annab_resistant_days=120)
    evaluation = evaluate(
        record(*meds, observations=(worsened("2026-06-01"),)), today=TODAY, thresholds=custom
    )  # 2026-03-09 -> 2026-06-01 = 22 + 30 + 31 + 1 = 84
    detail = summary_of(evaluation)["detail"]
    assert "**84 days**: **sensitive** by the 60-day definition" in detail
    assert "the 120-day definition of the ANNAB study" in detail
    assert "(80 days or more: re-challenge window)" in detail
    assert "180" not in detail and "90-day" not in detail


def test_a_negative_interval_reads_as_words() -> None:
    """refractory: progression 2026-08-11, last platinum 2026-08-17: 6 days before."""
    card = summary_of(evaluation_of("refractory"))
    assert "-6" not in card["summary"] and "-6" not in card["detail"]
    assert (
        "progressed during platinum therapy (6 days before the last platinum dose): "
        "**refractory**" in card["detail"]
    )


def test_an_estimated_progression_says_so_on_the_summary() -> None:
    """undated-relapse-after-second-line: the progression is line 2's start, estimated."""
    detail = summary_of(evaluation_of("undated-relapse-after-second-line"))["detail"]
    assert "estimated" in detail
    assert "progression on 2025-08-04" not in detail


def test_quotes_in_record_text_are_shown_as_written() -> None:
    """Quotes in record text reach the summary as written, not as HTML entities."""
    evaluation = replace(
        interval_record("2026-07-20"), warnings=("Observation/o1: status 'worsened'",)
    )
    detail = summary_of(evaluation)["detail"]
    assert "status 'worsened'" in detail
    assert "&#x27;" not in detail and "&\\#x27;" not in detail


def test_the_summary_shows_age_and_each_lab_with_its_date_stale_ones_marked() -> None:
    """§11: the summary lists age, ECOG and ANC with their dates; the stale ANC is marked."""
    meds = [*cycles("carboplatin", "2026-01-05", 4)]
    observations = (
        worsened("2026-08-10"),
        lab("89247-1", "2026-11-02", 1),
        lab("751-8", "2024-03-02", 0.8, "10*9/L"),
    )
    detail = summary_of(evaluate(record(*meds, observations=observations), today=TODAY))["detail"]
    assert (
        "**The patient:** age 66; ECOG 1 on 2026\\-11\\-02; "
        "ANC 0\\.8 x10^9/L on 2024\\-03\\-02 (older than 30 days)." in detail
    )


def test_poor_performance_status_is_explained_on_the_summary() -> None:
    """§9: fresh ECOG 3: every option is `consider`; the summary says why none is recommended."""
    meds = [*cycles("carboplatin", "2025-11-03", 4), *cycles("etoposide", "2025-11-03", 4)]
    observations = (worsened("2026-10-05"), lab("89247-1", "2026-11-02", 3))
    evaluation = evaluate(record(*meds, observations=observations), today=TODAY)
    assert [o.status for o in evaluation.options] == ["consider"] * len(evaluation.options)
    assert "nothing is marked recommended" in summary_of(evaluation)["detail"]


SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_summary_is_a_warning_exactly_when_there_is_something_to_check(scenario: str) -> None:
    """§11: indicator `warning` iff "Check the record" is not empty; each item names a
    FHIR record."""
    cards = patient_view_cards(evaluation_of(scenario), base_url=BASE)
    if not cards:
        return
    detail = cards[0]["detail"]
    has_check = "**Check the record**" in detail
    assert (cards[0]["indicator"] == "warning") is has_check
    if has_check:
        section = detail.split("**Check the record**", 1)[1].split("\n\n**Sources**", 1)[0]
        items = [line for line in section.splitlines() if line.startswith("- ")]
        assert items
        for item in items:
            unescaped = item.replace("\\", "")
            assert RECORD_REF.search(unescaped), item


def test_the_annab_card_carries_the_study_population_and_the_patients_place_in_it() -> None:
    """§9: Tian et al.'s eligibility always; where this patient is outside it, by value."""
    meds = [
        *cycles("carboplatin", "2026-01-05", 4),
        *cycles("etoposide", "2026-01-05", 4),
        *cycles("atezolizumab", "2026-01-05", 4),
    ]
    observations = (worsened("2026-09-14"), lab("89247-1", "2026-11-02", 2))
    evaluation = evaluate(record(*meds, observations=observations), today=TODAY)
    (_, card) = patient_view_cards(evaluation, base_url=BASE)
    entry = next(x for x in card["detail"].split("\n") if "**Nab-paclitaxel + anlotinib" in x)
    assert "Study population: ECOG 2 on 2026\\-11\\-02 \\(study: ECOG 0–1\\); not" in entry
