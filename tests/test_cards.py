"""Cards (service/cards/): at most three a decision point, shape, links, order cards."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from service.cards import SUMMARY_LIMIT, escape, order_cards, patient_view_cards
from service.engine import evaluate
from service.engine.model import Evaluation
from service.fhir import build_records, load_path
from service.knowledge import load_knowledge
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)
BASE = "https://cds.example.org"
FILE_NAME = re.compile(r"00[0-4]_[0-9a-f]{16}\.txt")
ALL_SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))
DISCLAIMER = load_knowledge().wording.card.disclaimer


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def cards_of(scenario: str) -> list[dict[str, Any]]:
    return patient_view_cards(evaluation_of(scenario), base_url=BASE)


def orders(scenario: str, *agents: str) -> list[dict[str, Any]]:
    return order_cards(evaluation_of(scenario), agents, base_url=BASE)


def no_empty_values(value: Any, where: str = "card") -> None:
    """No empty strings, lists or objects anywhere (CDS Hooks cards leave them out)."""
    if isinstance(value, dict):
        assert value, f"{where} is an empty object"
        for key, item in value.items():
            no_empty_values(item, f"{where}.{key}")
    elif isinstance(value, list):
        assert value, f"{where} is an empty list"
        for i, item in enumerate(value):
            no_empty_values(item, f"{where}[{i}]")
    elif isinstance(value, str):
        assert value.strip(), f"{where} is an empty string"


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_every_response_is_short_linked_and_free_of_file_names(scenario: str) -> None:
    """Issue 10: ≤ 3 cards, the disclaimer once, no file names, sources on our own pages."""
    evaluation = evaluation_of(scenario)
    cards = patient_view_cards(evaluation, base_url=BASE)
    # §2: no cards only when not SCLC or deceased, so the checks below check something
    assert cards or not evaluation.diagnosis.sclc or evaluation.patient.deceased
    if not cards:
        return
    assert len(cards) <= (3 if evaluation.next_line else 1)
    assert sum(c["detail"].count(DISCLAIMER) for c in cards) == 1
    for card in cards:
        no_empty_values(card)
        assert set(card) <= {
            "uuid",
            "summary",
            "detail",
            "indicator",
            "source",
            "overrideReasons",
            "links",
        }
        assert len(card["summary"]) < SUMMARY_LIMIT
        assert card["indicator"] in {"info", "warning"}
        assert len(card["source"]["label"]) <= 80
        assert card["source"]["url"].startswith(f"{BASE}/sources")
        assert not FILE_NAME.search(json.dumps(card))
        assert card["links"]


def test_the_summary_launches_the_relapse_timeline() -> None:
    """CDS Hooks 2.0.1 `smart` link on the summary, with an appContext the app reads."""
    (link,) = cards_of("third-line")[0]["links"]
    assert link == {
        "label": "Open relapse timeline",
        "url": f"{BASE}/app/launch",
        "type": "smart",
        "appContext": '{"view": "timeline"}',
    }


def test_not_sclc_gives_no_cards() -> None:
    """§2: an NSCLC patient gets no cards at all."""
    evaluation = evaluation_of("nsclc")
    assert evaluation.diagnosis.sclc is False
    assert patient_view_cards(evaluation, base_url=BASE) == []


def test_deceased_patient_gets_no_cards() -> None:
    """§2: a deceased patient gets no cards."""
    assert cards_of("deceased") == []


def test_sclc_without_therapy_gets_the_single_info_card() -> None:
    """§8: SCLC with no systemic therapy gets one info card saying so."""
    (card,) = cards_of("no-systemic-therapy")
    assert card["indicator"] == "info"
    assert "no systemic therapy recorded" in card["summary"]


@pytest.mark.parametrize("scenario", ["ongoing-first-line", "first-line-completed-no-progression"])
def test_outside_a_decision_point_only_the_summary_card_is_shown(scenario: str) -> None:
    """§8: with no progression after the latest line, only the summary card is shown."""
    (card,) = cards_of(scenario)
    assert "decision" not in card["summary"]
    assert "line 1" in card["summary"]


def test_a_decision_point_gives_summary_options_and_trial() -> None:
    """third-line: the summary, one options card ranked as §9 says, the trial card."""
    evaluation = evaluation_of("third-line")
    summary, options, trial = cards_of("third-line")
    assert "line 3 decision" in summary["summary"]
    entries = [line for line in options["detail"].splitlines() if re.match(r"^\d+\. ", line)]
    assert len(entries) == len(evaluation.options)
    for entry, option in zip(entries, evaluation.options, strict=True):
        assert f"{BASE}/evidence/{option.id})" in entry
        assert f"**: {option.status}" in entry
    assert "overrideReasons" in options
    assert trial["summary"].startswith("Trial NCT07632209")
    assert trial["links"][0]["url"] == "https://clinicaltrials.gov/study/NCT07632209"


def test_each_option_entry_names_its_key_figure_and_study() -> None:
    """One line an option: name, status and why, the key figure with its study and
    design, the link."""
    (_, options) = cards_of("sensitive-late-relapse")
    first = next(line for line in options["detail"].splitlines() if line.startswith("1. "))
    assert first.startswith("1. **Platinum re-challenge**: recommended (287 days platinum-free).")
    assert "ORR 49% in sensitive relapse (Baize et al. 2020, randomised phase 3)." in first


def test_the_recommended_option_comes_first() -> None:
    """§9: `recommended` first, then table order."""
    (_, options) = cards_of("sensitive-late-relapse")
    assert options["summary"].startswith("Line 2 options: Platinum re-challenge")
    assert "(recommended)" in options["summary"]


def test_second_line_decision_has_no_trial_card() -> None:
    """§10: at a second-line decision the trial card is left out."""
    cards = cards_of("second-line-decision-after-chemo-io")
    assert len(cards) == 2
    assert "**Nab-paclitaxel + anlotinib**" in cards[1]["detail"]


def test_incomplete_data_turns_the_summary_into_a_warning_listing_what_to_check() -> None:
    """§11: an invalid record makes the summary a warning that names it."""
    (card,) = cards_of("invalid-resource")
    assert card["indicator"] == "warning"
    assert "MedicationStatement/ms7" in card["detail"]


def test_estimated_progression_is_flagged_on_the_summary_card() -> None:
    """§6.3: a proxy progression date is marked estimated on the summary card."""
    card = cards_of("proxy-progression")[0]
    assert card["indicator"] == "warning"
    assert "estimated" in card["detail"]


def test_uuids_are_stable_for_one_evaluation_and_differ_between_evaluations() -> None:
    """Card uuids repeat for the same evaluation and are unique across evaluations."""
    first = [c["uuid"] for c in cards_of("third-line")]
    again = [c["uuid"] for c in cards_of("third-line")]
    other = [c["uuid"] for c in cards_of("sensitive-late-relapse")]
    assert first == again
    assert len(set(first)) == len(first)
    assert not set(first) & set(other)


def test_record_text_is_escaped_in_card_detail() -> None:
    """Text from the record cannot inject HTML or markdown links into the detail."""
    evaluation = evaluation_of("invalid-resource")
    hostile = replace(evaluation, warnings=("<img src=x onerror=alert(1)> [click](javascript:x)",))
    (card,) = patient_view_cards(hostile, base_url=BASE)
    assert "<img" not in card["detail"]
    assert "](javascript" not in card["detail"]
    assert escape("a<b>*c*") == "a&lt;b&gt;\\*c\\*"


def test_cards_serialise_as_json() -> None:
    """The cards are plain JSON: a dumps/loads round trip gives them back unchanged."""
    cards = cards_of("third-line")
    assert cards
    assert json.loads(json.dumps(cards)) == cards


# --- order-select / order-sign ------------------------------------------------------


def test_a_drug_that_is_one_of_the_options_gets_its_entry() -> None:
    """Issue 10: lurbinectedin at third-line: the option's entry, info, with its link."""
    (card,) = orders("third-line", "lurbinectedin")
    assert card["indicator"] == "info"
    assert card["summary"] == "Lurbinectedin: line 3 option (consider)"
    assert card["links"][0]["url"] == f"{BASE}/evidence/lurbinectedin"
    assert DISCLAIMER in card["detail"]


def test_a_relapse_drug_outside_a_decision_point_is_a_warning() -> None:
    """Topotecan while the first line is running: a warning, not evidence for relapse."""
    (card,) = orders("ongoing-first-line", "topotecan")
    assert card["indicator"] == "warning"
    assert "no relapse is recorded" in card["summary"]


def test_a_drug_already_received_is_a_warning() -> None:
    """Topotecan again at third-line (it was line 2): a one-sentence warning."""
    (card,) = orders("third-line", "topotecan")
    assert card["indicator"] == "warning"
    assert card["summary"] == "Topotecan was already given (line 2)"
    assert card["detail"].count(". ") <= 2


@pytest.mark.parametrize(
    ("scenario", "agent", "words"),
    [
        ("resistant-relapse", "carboplatin", "platinum-resistant"),
        ("refractory", "cisplatin", "platinum-refractory"),
    ],
)
def test_platinum_after_a_refractory_or_resistant_relapse_is_a_warning(
    scenario: str, agent: str, words: str
) -> None:
    """§7: platinum ordered after an early relapse: a warning saying why."""
    (card,) = orders(scenario, agent, "etoposide")
    assert card["indicator"] == "warning"
    assert words in card["summary"]


def test_platinum_for_a_late_sensitive_relapse_is_the_rechallenge_entry() -> None:
    """287 days at line 2: carboplatin is the recommended re-challenge, shown as info."""
    (card,) = orders("sensitive-late-relapse", "carboplatin")
    assert card["indicator"] == "info"
    assert "(recommended)" in card["summary"]


def test_unlisted_drugs_and_non_sclc_patients_get_no_order_cards() -> None:
    """Orders for drugs outside the SCLC agents, or for a patient without SCLC: no cards."""
    assert orders("third-line", "docetaxel", "lisinopril") == []
    assert orders("nsclc", "tarlatamab") == []


def test_the_disclaimer_appears_once_in_an_order_response() -> None:
    """Two drafted drugs, two cards, one disclaimer."""
    cards = orders("third-line", "lurbinectedin", "topotecan")
    assert len(cards) == 2
    assert sum(c["detail"].count(DISCLAIMER) for c in cards) == 1
