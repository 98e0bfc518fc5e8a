"""Cards under CLINICAL_RULES v3: §7's refractory wording, §9's options-card entries, §10's
trial card, §11's headline."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from service.cards import SUMMARY_LIMIT, order_cards, patient_view_cards
from service.engine import evaluate
from service.engine.model import Evaluation
from service.engine.options import RELAPSE_AGENTS
from service.fhir import build_records, load_path
from service.smart.chart import timeline
from tests.builders import cycles, lab, record, worsened
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)
BASE = "http://localhost:8080"
SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))
# A negative number of days as a card could print it: "-6 d", "−6 days", "\-6 days"
# (markdown-escaped), never a date ("2026-08-11") or a range ("6–9 days").
NEGATIVE_DAYS = re.compile(r"(?<![\w.\\])\\?[-−‑]\s?\d+(?:\.\d+)?\s?(?:d|days?)\b")
DURING_PLATINUM = "progressed during platinum therapy"


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (found,) = build_records(resources, warnings=warnings)
    return evaluate(found, today=TODAY)


def every_card(evaluation: Evaluation) -> list[dict[str, Any]]:
    """The patient-view cards and the order cards of every relapse and platinum drug."""
    agents = sorted(RELAPSE_AGENTS | {"carboplatin", "cisplatin", "etoposide"})
    return [
        *patient_view_cards(evaluation, base_url=BASE),
        *order_cards(evaluation, agents, base_url=BASE),
    ]


def texts(card: dict[str, Any]) -> list[str]:
    return [card["summary"], card.get("detail", "")]


# --- §7: refractory ----------------------------------------------------------------------


def test_the_pattern_finds_negative_day_counts_and_nothing_else() -> None:
    """The pattern of the property below: what it must find and what it must leave."""
    for negative in ("-6 d", "(−6 days)", "\\-6 days", "interval -1 day", "-0.5 d"):
        assert NEGATIVE_DAYS.search(negative), negative
    for other in ("2026-08-11 days", "6–9 days", "a 90-day cut", "2026\\-08\\-11 d", "6 days"):
        assert not NEGATIVE_DAYS.search(other), other


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_card_prints_a_negative_number_of_days(scenario: str) -> None:
    """§7 v3: no card of any fixture (patient-view, or an order of any relapse or platinum
    drug) prints a negative day count; a refractory interval is said in words."""
    evaluation = evaluation_of(scenario)
    for card in every_card(evaluation):
        for text in texts(card):
            assert not NEGATIVE_DAYS.search(text), text


def refractory_on_day(progression: str) -> Evaluation:
    """Carboplatin + etoposide x4 from 2026-01-05, last dose 2026-03-09."""
    meds = [*cycles("carboplatin", "2026-01-05", 4), *cycles("etoposide", "2026-01-05", 4)]
    return evaluate(record(*meds, observations=(worsened(progression),)), today=TODAY)


@pytest.mark.parametrize(
    ("evaluation", "when"),
    [
        (evaluation_of("refractory"), "6 days before the last platinum dose"),
        (refractory_on_day("2026-03-09"), "on the day of the last platinum dose"),
        (refractory_on_day("2026-02-20"), "17 days before the last platinum dose"),
    ],
    ids=["refractory-fixture", "0-days", "-17-days"],
)
def test_a_refractory_interval_reads_progressed_during_platinum_therapy(
    evaluation: Evaluation, when: str
) -> None:
    """§7 v3: the summary line, the summary's platinum section and a platinum order's
    warning each say "progressed during platinum therapy", with no negative day count."""
    assert evaluation.platinum is not None and evaluation.platinum.sensitivity == "refractory"
    summary = patient_view_cards(evaluation, base_url=BASE)[0]
    assert summary["summary"].endswith(f"platinum-refractory: {DURING_PLATINUM}")
    assert f"{DURING_PLATINUM} ({when}): **refractory**" in summary["detail"]
    (order,) = order_cards(evaluation, ["carboplatin"], base_url=BASE)
    assert order["summary"] == "Carboplatin: platinum-refractory relapse"
    assert order["detail"].startswith(f"The cancer {DURING_PLATINUM} ({when}):")
    for card in every_card(evaluation):
        assert not any(NEGATIVE_DAYS.search(text) for text in texts(card))


def test_a_resistant_interval_still_gives_its_days() -> None:
    """An interval of 1–89 days is a number of days after the last dose, as before."""
    (order,) = order_cards(evaluation_of("resistant-relapse"), ["carboplatin"], base_url=BASE)
    assert "progression 84 days after the last platinum dose, under 90 days" in order["detail"]
    assert DURING_PLATINUM not in order["detail"]


def test_the_timeline_labels_a_refractory_interval_in_words() -> None:
    """§7 v3 "a card or timeline": the relapse timeline's interval label too."""
    platinum = timeline(evaluation_of("refractory"))["platinum"]
    assert platinum["label"] == "Progressed during platinum therapy (refractory)"
    assert platinum["interval_days"] == -6  # the evaluation JSON keeps its number


# --- §11: an ECOG of 3-4 in the headline ---------------------------------------------------


def headline(evaluation: Evaluation) -> str:
    return str(patient_view_cards(evaluation, base_url=BASE)[0]["summary"])


def test_an_ecog_of_3_that_withholds_recommended_is_in_the_headline() -> None:
    """§11 v3: ecog3-late-relapse (fresh ECOG 3, re-challenge only `consider`)."""
    evaluation = evaluation_of("ecog3-late-relapse")
    assert evaluation.poor_performance is not None
    assert [o.status for o in evaluation.options] == ["consider"] * len(evaluation.options)
    assert headline(evaluation) == (
        "SCLC, extensive stage: 1 line; progressed after line 1, line 2 decision; "
        "platinum-free 406 d: sensitive; ECOG 3: none recommended"
    )


@pytest.mark.parametrize(
    ("lines", "days", "expected"),
    [
        (
            2,
            147,
            "SCLC, extensive stage: 2 lines; line 3 decision; platinum-free 147 d est.: "
            "sensitive; resistant by ANNAB's 180 d; ECOG 4: none recommended",
        ),
        (
            10,
            179,
            "SCLC, extensive stage; line 11 decision; platinum-free 179 d est.: "
            "sensitive; resistant by ANNAB's 180 d; ECOG 4: none recommended",
        ),
    ],
    ids=["short-standing", "short-standing-and-stage"],
)
def test_the_headline_gives_way_to_the_ecog_before_it_is_cut(
    lines: int, days: int, expected: str
) -> None:
    """Where the whole would pass the CDS Hooks limit, "progressed after line N" and then
    the line count give way, so the interval's two definitions and the ECOG stay whole."""
    base = evaluation_of("ecog3-late-relapse")
    assert base.platinum is not None and base.poor_performance is not None
    evaluation = replace(
        base,
        lines=tuple(replace(base.lines[0], number=n) for n in range(1, lines + 1)),
        next_line=lines + 1,
        platinum=replace(base.platinum, interval_days=days, estimated=True, annab_resistant=True),
        poor_performance=replace(base.poor_performance, value=4.0),
    )
    assert headline(evaluation) == expected
    assert len(expected) < SUMMARY_LIMIT


def test_no_ecog_in_the_headline_below_3_or_outside_a_decision_point() -> None:
    """ECOG 2 withholds nothing; ECOG 3 while line 1 is ongoing has no option to withhold
    (the summary's detail still explains it)."""
    assert "ECOG" not in headline(evaluation_of("second-line-decision-after-chemo-io"))
    meds = [*cycles("carboplatin", "2026-09-14", 4), *cycles("etoposide", "2026-09-14", 4)]
    ongoing = evaluate(record(*meds, observations=(lab("89247-1", "2026-11-02", 3),)), today=TODAY)
    assert ongoing.next_line is None and ongoing.poor_performance is not None
    assert "ECOG" not in headline(ongoing)
    assert (
        "nothing is marked recommended" in patient_view_cards(ongoing, base_url=BASE)[0]["detail"]
    )


# --- §10: the trial card -------------------------------------------------------------------


NOT_CHECKED = (
    "measurable disease (RECIST 1.1), liver function (ALT, AST), APTT, uncontrolled CNS "
    "metastases, life expectancy ≥ 3 months, histological or cytological confirmation, "
    "informed consent"
)
BARE_ELIGIBLE = re.compile(r"(?<!possibly )(?<!in)\beligible\b")


def trial_card_of(scenario: str) -> dict[str, Any]:
    cards = patient_view_cards(evaluation_of(scenario), base_url=BASE)
    (card,) = [c for c in cards if c["summary"].startswith("Trial NCT07632209")]
    return card


@pytest.mark.parametrize("scenario", ["trial-eligible", "third-line", "trial-ineligible-ecog"])
def test_the_trial_card_gives_the_status_as_of_its_listing(scenario: str) -> None:
    """§10 v3: "not yet recruiting; start 2026-06" (004_…), for every verdict."""
    card = trial_card_of(scenario)
    heading = card["detail"].split("\n\n")[0]
    assert heading.endswith("Status as listed: not yet recruiting; start 2026-06.")


def test_an_eligible_verdict_says_what_was_not_checked() -> None:
    """§10 v3: trial-eligible (every criterion met) reads "meets every criterion the record
    shows; not checked: …", in the summary and the detail; never a bare "eligible"."""
    assert evaluation_of("trial-eligible").trials[0].verdict == "eligible"
    card = trial_card_of("trial-eligible")
    assert card["summary"].endswith(
        ": meets every criterion the record shows; not checked: 7 criteria"
    )
    assert card["detail"].startswith(
        f"**Pre-screen: meets every criterion the record shows**; not checked: {NOT_CHECKED} "
        "(the study team decides eligibility)."
    )
    for text in texts(card):
        assert not BARE_ELIGIBLE.search(text), text


@pytest.mark.parametrize(
    ("scenario", "verdict"),
    [("third-line", "possibly eligible"), ("trial-ineligible-ecog", "ineligible")],
)
def test_other_verdicts_list_what_was_not_checked_last(scenario: str, verdict: str) -> None:
    """§10 v3: a possibly eligible or ineligible pre-screen names the criteria not checked,
    after those the record shows."""
    card = trial_card_of(scenario)
    assert card["summary"].endswith(f": {verdict}")
    assert card["detail"].startswith(f"**Pre-screen: {verdict}** (from the record;")
    rows = [line for line in card["detail"].splitlines() if line.startswith("- ")]
    assert rows[-1] == f"- **Not checked:** {NOT_CHECKED}"
    assert not BARE_ELIGIBLE.search(card["detail"])
