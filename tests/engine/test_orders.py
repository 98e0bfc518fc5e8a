"""Why each option is shown (§7, §9) and what a drafted order means (order hooks)."""

from __future__ import annotations

from datetime import date

import pytest

from service.engine import evaluate
from service.engine.catalogue import load_catalogue
from service.engine.model import Evaluation, OrderVerdict
from service.engine.orders import order_verdicts, platinum_agents
from service.fhir import build_records, load_path
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def reasons(scenario: str) -> dict[str, str | None]:
    return {o.id: o.reason for o in evaluation_of(scenario).options}


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("sensitive-late-relapse", "rechallenge-window"),
        ("rechallenge-window-third-line", "rechallenge-window-later-line"),
        ("ecog3-late-relapse", "rechallenge-window-poor-performance"),
        ("sensitive-early-relapse", "sensitive-below-window"),
    ],
)
def test_the_rechallenge_says_which_part_of_the_interval_rule_holds(
    scenario: str, reason: str
) -> None:
    """§7/§9: in the window and recommended, in it but not recommended (line 3, ECOG 3-4),
    or sensitive before it."""
    assert reason == reasons(scenario)["platinum-rechallenge"]


def test_other_options_say_the_rule_that_shows_them_or_nothing() -> None:
    """§9: after a platinum line, after chemo-immunotherapy, or at every decision point."""
    found = reasons("second-line-decision-after-chemo-io")
    assert found["topotecan"] == found["anlotinib"] == found["taxane"] == "after-platinum"
    assert found["nab-paclitaxel-anlotinib"] == "after-chemo-immunotherapy"
    assert found["amrubicin"] is found["clinical-trial"] is None


@pytest.mark.parametrize(
    ("scenario", "annab_resistant"),
    [("sensitive-early-relapse", True), ("sensitive-late-relapse", False), ("refractory", False)],
)
def test_an_interval_sensitive_by_90_days_but_under_180_is_resistant_for_annab(
    scenario: str, annab_resistant: bool
) -> None:
    """§7: both definitions are named only where they differ."""
    platinum = evaluation_of(scenario).platinum
    assert platinum is not None and platinum.annab_resistant is annab_resistant


def test_the_platinum_agents_are_the_catalogues_platinum_of_the_rechallenge() -> None:
    """Carboplatin and cisplatin; oxaliplatin is platinum but no part of the re-challenge."""
    catalogue = load_catalogue()
    assert platinum_agents(catalogue) == {"carboplatin", "cisplatin"}
    assert catalogue.agent("oxaliplatin").is_platinum


@pytest.mark.parametrize(
    ("scenario", "agent", "expected"),
    [
        (
            "sensitive-late-relapse",
            "carboplatin",
            OrderVerdict("carboplatin", "recommended", "option", option="platinum-rechallenge"),
        ),
        (
            "third-line",
            "lurbinectedin",
            OrderVerdict("lurbinectedin", "consider", "option", option="lurbinectedin"),
        ),
        (
            "resistant-relapse",
            "cisplatin",
            OrderVerdict("cisplatin", "not-indicated", "early-platinum-relapse"),
        ),
        (
            "third-line",
            "topotecan",
            OrderVerdict("topotecan", "not-indicated", "already-given", line=2),
        ),
        (
            "ongoing-first-line",
            "topotecan",
            OrderVerdict("topotecan", "not-indicated", "no-relapse"),
        ),
        (
            "undated-tarlatamab",
            "tarlatamab",
            OrderVerdict("tarlatamab", "not-indicated", "not-an-option"),
        ),
    ],
)
def test_a_drafted_relapse_drug_or_platinum_gets_its_verdict(
    scenario: str, agent: str, expected: OrderVerdict
) -> None:
    """The option it belongs to with its status, or not indicated and why."""
    assert (expected,) == order_verdicts(evaluation_of(scenario), [agent])


def test_other_drugs_and_patients_without_sclc_get_no_verdict() -> None:
    """Etoposide alone, oxaliplatin, a non-cancer drug; any drug for an NSCLC patient."""
    assert () == order_verdicts(evaluation_of("third-line"), ["etoposide", "oxaliplatin", "x"])
    assert () == order_verdicts(evaluation_of("nsclc"), ["tarlatamab"])


def test_an_agent_drafted_twice_gets_one_verdict() -> None:
    """Verdicts follow the drafted agents, each once."""
    verdicts = order_verdicts(
        evaluation_of("third-line"), ["topotecan", "lurbinectedin", "topotecan"]
    )
    assert [v.agent for v in verdicts] == ["topotecan", "lurbinectedin"]
