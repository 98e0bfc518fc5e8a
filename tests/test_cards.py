"""Cards (service/cards.py): every case of CLINICAL_RULES §8, card shape, order cards."""

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
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)
DOCUMENT = re.compile(r"`(00[0-4]_[0-9a-f]{16}\.txt)`")


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def cards_of(scenario: str) -> list[dict[str, Any]]:
    return patient_view_cards(evaluation_of(scenario))


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


ALL_SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))


@pytest.mark.parametrize("scenario", ALL_SCENARIOS)
def test_every_card_has_the_required_shape_and_cites_a_document(scenario: str) -> None:
    """Every fixture's cards: allowed fields, nothing empty, short summary, a cited document."""
    evaluation = evaluation_of(scenario)
    cards = patient_view_cards(evaluation)
    # §2: no cards only when not SCLC or deceased, so the loop below checks something
    assert cards or not evaluation.diagnosis.sclc or evaluation.patient.deceased
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
        assert card["source"]["label"]
        assert DOCUMENT.search(card["detail"]), card["summary"]
        assert "not an order" in card["detail"]


def test_not_sclc_gives_no_cards() -> None:
    """§2: NSCLC is not SCLC: no cards."""
    evaluation = evaluation_of("nsclc")
    assert evaluation.diagnosis.sclc is False
    assert patient_view_cards(evaluation) == []


def test_deceased_patient_gets_no_cards() -> None:
    """§2: a deceased patient gets no cards."""
    assert cards_of("deceased") == []


def test_sclc_without_therapy_gets_the_single_info_card() -> None:
    """§8: SCLC with no systemic therapy: one info card saying so, without override reasons."""
    (card,) = cards_of("no-systemic-therapy")
    assert card["indicator"] == "info"
    assert "no systemic therapy recorded" in card["summary"]
    assert "overrideReasons" not in card


@pytest.mark.parametrize("scenario", ["ongoing-first-line", "first-line-completed-no-progression"])
def test_outside_a_decision_point_only_the_summary_card_is_shown(scenario: str) -> None:
    """§8: no decision point: only the summary card, naming line 1."""
    (card,) = cards_of(scenario)
    assert "decision" not in card["summary"]
    assert "line 1" in card["summary"]


def test_decision_point_shows_summary_then_each_option_in_order_then_the_trial() -> None:
    """third-line: next_line 3, options of §9 in table order, trial NCT07632209."""
    evaluation = evaluation_of("third-line")
    cards = patient_view_cards(evaluation)
    assert "line 3 decision" in cards[0]["summary"]
    option_cards = cards[1 : 1 + len(evaluation.options)]
    assert [c["summary"].split(": ", 1)[1] for c in option_cards] == [
        "Platinum re-challenge (carboplatin or cisplatin with etoposide)",
        "Lurbinectedin",
        "Tarlatamab (Imdelltra)",
        "Amrubicin",
        "Anlotinib",
        "Nab-paclitaxel or paclitaxel alone",
        "Palliative radiotherapy",
        "Clinical trial",
    ]
    assert all("overrideReasons" in c for c in option_cards)
    trial = cards[-1]
    assert trial["summary"].startswith("Trial NCT07632209")
    assert trial["links"] == [
        {
            "label": "NCT07632209 on ClinicalTrials.gov",
            "url": "https://clinicaltrials.gov/study/NCT07632209",
            "type": "absolute",
        }
    ]
    assert "| ECOG performance status 0 or 1. | met |" in trial["detail"]
    assert len(cards) == 1 + len(evaluation.options) + 1


def test_second_line_decision_has_no_trial_card() -> None:
    """§10: at a line-2 decision the trial card is left out; the ANNAB option card is shown."""
    cards = cards_of("second-line-decision-after-chemo-io")
    assert not any(c["summary"].startswith("Trial") for c in cards)
    assert any("Nab-paclitaxel plus anlotinib" in c["summary"] for c in cards)


def test_recommended_rechallenge_card_names_the_interval() -> None:
    """sensitive-late-relapse: 287 days (tests/expected/README.md)."""
    cards = cards_of("sensitive-late-relapse")
    rechallenge = next(c for c in cards if "Platinum re-challenge" in c["summary"])
    assert "(recommended)" in rechallenge["summary"]
    assert "Platinum-free interval 287 days" in rechallenge["detail"]
    assert "287 d" in cards[0]["summary"]


def test_tarlatamab_card_carries_its_safety_monitoring() -> None:
    """§9: the tarlatamab card names cytokine release syndrome and 24-hour monitoring."""
    cards = cards_of("sensitive-late-relapse")
    tarlatamab = next(c for c in cards if "Tarlatamab" in c["summary"])
    assert "24 hours" in tarlatamab["detail"]
    assert "Cytokine release syndrome" in tarlatamab["detail"]


def test_incomplete_data_turns_the_summary_into_a_warning_listing_what_to_check() -> None:
    """§11: a skipped invalid resource makes the summary a warning that names the record."""
    (card,) = cards_of("invalid-resource")
    assert card["indicator"] == "warning"
    assert "MedicationStatement/ms7" in card["detail"]


def test_estimated_progression_is_flagged_on_the_summary_card() -> None:
    """§11: a proxy progression makes the summary a warning that says it is estimated."""
    card = cards_of("proxy-progression")[0]
    assert card["indicator"] == "warning"
    assert "estimated" in card["detail"]


def test_uuids_are_stable_for_one_evaluation_and_differ_between_evaluations() -> None:
    """Card uuids repeat for one evaluation, are unique in it, and differ for another patient."""
    first = [c["uuid"] for c in cards_of("third-line")]
    again = [c["uuid"] for c in cards_of("third-line")]
    other = [c["uuid"] for c in cards_of("sensitive-late-relapse")]
    assert first == again
    assert len(set(first)) == len(first)
    assert not set(first) & set(other)


def test_record_text_is_escaped_in_card_detail() -> None:
    """Record text in a card's detail is escaped: no HTML tag or markdown link gets through."""
    evaluation = evaluation_of("invalid-resource")
    hostile = replace(evaluation, warnings=("<img src=x onerror=alert(1)> [click](javascript:x)",))
    (card,) = patient_view_cards(hostile)
    assert "<img" not in card["detail"]
    assert "](javascript" not in card["detail"]
    assert escape("a<b>*c*") == "a&lt;b&gt;\\*c\\*"


def test_cards_serialise_as_json() -> None:
    """The cards are plain JSON: a dumps/loads round trip gives them back unchanged."""
    cards = cards_of("third-line")
    assert cards
    assert json.loads(json.dumps(cards)) == cards


# --- order-select / order-sign ------------------------------------------------------


def test_platinum_order_for_a_resistant_patient_gets_a_warning() -> None:
    """resistant-relapse: interval 84 days."""
    (card,) = order_cards(evaluation_of("resistant-relapse"), ["carboplatin", "etoposide"])
    assert card["indicator"] == "warning"
    assert "84 days" in card["summary"]
    sources = set(DOCUMENT.findall(card["detail"]))
    assert sources == {"000_e1d9681268751f05.txt", "003_4cac35924055ddfc.txt"}


def test_platinum_order_for_a_refractory_patient_gets_a_warning() -> None:
    """§7: a cisplatin order for a refractory patient gets one card that says refractory."""
    (card,) = order_cards(evaluation_of("refractory"), ["cisplatin"])
    assert "refractory" in card["summary"]


def test_platinum_order_for_a_sensitive_patient_gets_no_card() -> None:
    """§7: a carboplatin order after a late sensitive relapse (287 days) gets no card."""
    assert order_cards(evaluation_of("sensitive-late-relapse"), ["carboplatin"]) == []


def test_tarlatamab_order_gets_the_monitoring_card_of_002() -> None:
    """A tarlatamab order gets one monitoring card, citing document 002 only."""
    (card,) = order_cards(evaluation_of("sensitive-late-relapse"), ["tarlatamab"])
    assert "monitor" in card["summary"]
    assert DOCUMENT.findall(card["detail"]) == ["002_7502c6c1fab9d4d0.txt"]


@pytest.mark.parametrize(
    ("agent", "title"),
    [
        ("topotecan", "Topotecan"),
        ("lurbinectedin", "Lurbinectedin"),
        ("anlotinib", "Anlotinib"),
        ("nab-paclitaxel", "Nab-paclitaxel plus anlotinib"),
    ],
)
def test_other_listed_option_orders_get_their_evidence(agent: str, title: str) -> None:
    """§9: an order for a listed option's agent gets one info card with that option's evidence."""
    (card,) = order_cards(evaluation_of("third-line"), [agent])
    assert card["indicator"] == "info"
    assert card["summary"].startswith(title)
    assert "**Evidence**" in card["detail"]


def test_unlisted_drugs_and_non_sclc_patients_get_no_order_cards() -> None:
    """Orders for unlisted drugs, or for a patient without SCLC, get no cards."""
    assert order_cards(evaluation_of("third-line"), ["docetaxel", "lisinopril"]) == []
    assert order_cards(evaluation_of("nsclc"), ["tarlatamab"]) == []
