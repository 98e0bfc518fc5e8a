"""Cards under CLINICAL_RULES v3: §7's refractory wording, §9's options-card entries, §10's
trial card, §11's headline."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from service.cards import SUMMARY_LIMIT, order_cards, patient_view_cards
from service.cards.markdown import words
from service.cards.option_card import ENTRY_WORDS
from service.engine import evaluate
from service.engine.model import Evaluation, Note, OptionReason, OptionResult, Reading
from service.engine.options import OPTION_IDS, RELAPSE_AGENTS
from service.fhir import build_records, load_path
from service.knowledge import load_knowledge
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


# --- §9: the options card ------------------------------------------------------------------

KNOWLEDGE = load_knowledge()
ENTRY = re.compile(r"^\d+\. ")
PREDATE = "Figures predate first-line checkpoint inhibitors."
NO_STANDARD = "No standard second-line treatment after first-line chemo-immunotherapy"
DECISION_SCENARIOS = [s for s in SCENARIOS if evaluation_of(s).options]


def options_card_of(evaluation: Evaluation) -> dict[str, Any]:
    (card,) = [
        c
        for c in patient_view_cards(evaluation, base_url=BASE)
        if c["summary"].startswith(f"Line {evaluation.next_line} options:")
    ]
    return card


def entries(card: dict[str, Any]) -> dict[str, str]:
    """Option id -> its entry, read from each entry's evidence link."""
    found = {}
    for line in card["detail"].splitlines():
        if ENTRY.match(line):
            (option_id,) = re.findall(rf"\]\({re.escape(BASE)}/evidence/([a-z-]+)\)$", line)
            found[option_id] = line
    return found


def test_words_are_counted_as_a_reader_reads_them() -> None:
    """The count of §9's 35 words: a link by its label, no list marker, no markup."""
    entry = "1. **Lurbinectedin**: consider. ORR 35.2% \\(x\\) [Full evidence](https://a/b)"
    assert words(entry) == 7
    assert words("Study population: ECOG 2 on 2026\\-11\\-02; not in the record: ANC") == 11


@pytest.mark.parametrize("scenario", DECISION_SCENARIOS)
def test_the_options_card_opens_with_the_ranked_names(scenario: str) -> None:
    """§9 v3: the detail's first line lists every shown option, ranked, by its short name."""
    evaluation = evaluation_of(scenario)
    card = options_card_of(evaluation)
    names = [KNOWLEDGE.option(o.id).short_title for o in evaluation.options]
    first = card["detail"].splitlines()[0]
    assert first == f"**Line {evaluation.next_line} options:** " + " · ".join(names)
    assert list(entries(card)) == [o.id for o in evaluation.options]


@pytest.mark.parametrize("scenario", DECISION_SCENARIOS)
def test_no_entry_passes_35_words_and_none_is_filler(scenario: str) -> None:
    """§9 v3: each entry in at most 35 words (markdown.words), with its status and its link,
    and without "why shown" filler."""
    evaluation = evaluation_of(scenario)
    card = options_card_of(evaluation)
    filler = KNOWLEDGE.wording.option_reasons.after_platinum
    for option in evaluation.options:
        entry = entries(card)[option.id]
        assert words(entry) <= ENTRY_WORDS, entry
        assert f"**: {option.status}" in entry
        assert filler not in entry
    assert len(card["summary"]) < SUMMARY_LIMIT


def every_note() -> tuple[Note, ...]:
    """Every kind of study-population note the engine gives an option, at its longest."""
    reading = Reading(
        name="total bilirubin",
        value=12.5,
        unit="mg/dL",
        day=date(2024, 3, 2),
        source="Observation/bilirubin-2024-03-02",
        fresh=False,
    )
    pressure = Note.of("criterion_blood_pressure", systolic=160, diastolic=100)
    limited = Note.of("stage_limited_at_relapse", condition="Condition/recurrence-restaged")
    return (
        Note.of("annab_stage", stage=limited),
        Note.of("tarlatamab_stage", stage=Note.of("stage_limited", condition="Condition/c1")),
        Note.of("age_missing"),
        Note.of("age_outside", age="76–77", low=18, high=75),
        Note.of("study_reading_stale", reading=reading, days=30, criterion=pressure),
        Note.of(
            "study_reading_unread",
            reading=replace(reading, value=None, recorded_unit="umol/L"),
            criterion=Note.of("criterion_bilirubin", most=2.0),
        ),
        Note.of(
            "study_reading_outside",
            reading=replace(reading, fresh=True),
            criterion=Note.of("criterion_bilirubin", most=2.0),
        ),
        Note.of("study_missing", names="ECOG, ANC, platelets, WBC, albumin, creatinine"),
        Note.of(
            "prior_antiangiogenic",
            treatments="bevacizumab (MedicationStatement/ms4), bevacizumab (MedicationRequest/ms8)",
        ),
    )


@pytest.mark.parametrize("next_line", [2, 3])
@pytest.mark.parametrize(
    "reason",
    [
        "rechallenge-window",
        "rechallenge-window-later-line",
        "rechallenge-window-poor-performance",
        "sensitive-below-window",
    ],
)
def test_the_worst_case_keeps_every_entry_within_35_words(
    next_line: int, reason: OptionReason
) -> None:
    """All ten options after first-line chemo-immunotherapy, an estimated interval of three
    digits, and every note on every option: each entry still fits, its notes cut with "…"
    and the card saying where they are in full."""
    base = evaluation_of("second-line-decision-after-chemo-io")
    assert base.platinum is not None and base.first_line_chemo_immunotherapy
    status = "recommended" if reason == "rechallenge-window" else "consider"
    options = tuple(OptionResult(o, "consider") for o in OPTION_IDS if o != "platinum-rechallenge")
    evaluation = replace(
        base,
        lines=base.lines * (next_line - 1),
        next_line=next_line,
        platinum=replace(base.platinum, interval_days=179, estimated=True),
        options=(OptionResult("platinum-rechallenge", status, reason), *options),
        population_notes=tuple((o, every_note()) for o in OPTION_IDS),
    )
    card = options_card_of(evaluation)
    found = entries(card)
    assert list(found) == list(OPTION_IDS)
    for entry in found.values():
        assert words(entry) <= ENTRY_WORDS, entry
        assert "Study population: " in entry and "…" in entry
    assert card["detail"].endswith(f"\n\n{KNOWLEDGE.wording.options.notes_cut}")


def test_notes_that_fit_are_whole_and_the_card_says_nothing_of_cuts() -> None:
    """limited-stage-unstaged-third-line: the tarlatamab note fits, whole, ending in "."."""
    card = options_card_of(evaluation_of("limited-stage-unstaged-third-line"))
    assert entries(card)["tarlatamab"].endswith(
        "Study population: indicated for extensive\\-stage disease; limited stage at diagnosis "
        "only \\(Condition/c1\\). [Evidence](http://localhost:8080/evidence/tarlatamab)"
    )
    assert "…" not in card["detail"]


@pytest.mark.parametrize(
    ("option_id", "note"),
    [
        ("amrubicin", "Preferred second line in Japan."),
        ("anlotinib", "Approved in China as third line (NMPA, 2019)."),
        ("nab-paclitaxel-anlotinib", "Affordable and available in China."),
    ],
)
def test_the_availability_notes_of_9_are_on_their_entries(option_id: str, note: str) -> None:
    """§9 v3: amrubicin, Japan; anlotinib and ANNAB, China (003_…), wherever shown."""
    shown = 0
    for scenario in DECISION_SCENARIOS:
        found = entries(options_card_of(evaluation_of(scenario)))
        if option_id in found:
            assert note in found[option_id]
            shown += 1
    assert shown


@pytest.mark.parametrize(
    ("scenario", "next_line", "predate", "no_standard"),
    [
        ("sensitive-late-relapse", 2, True, True),  # line 2 after chemo-immunotherapy
        ("third-line", 3, True, False),  # line 3 after chemo-immunotherapy
        ("cisplatin-to-carboplatin-switch", 2, False, False),  # line 2, no immunotherapy
        ("rechallenge-window-third-line", 3, False, False),  # line 3, no immunotherapy
    ],
)
def test_the_chemo_immunotherapy_sentences_appear_exactly_when_they_should(
    scenario: str, next_line: int, predate: bool, no_standard: bool
) -> None:
    """§9 v3: after first-line chemo-immunotherapy the re-challenge's figures predate
    checkpoint inhibitors (any line); "no standard second-line treatment after first-line
    chemo-immunotherapy" only at line 2 after it."""
    evaluation = evaluation_of(scenario)
    assert evaluation.next_line == next_line
    assert evaluation.first_line_chemo_immunotherapy is predate
    card = options_card_of(evaluation)
    found = entries(card)
    assert (PREDATE in found["platinum-rechallenge"]) is predate
    assert (NO_STANDARD in found["clinical-trial"]) is no_standard
    assert card["detail"].count(PREDATE) == int(predate)
    assert card["detail"].count(NO_STANDARD) == int(no_standard)
