"""Golden files: every fhir_fixtures/<scenario>.json gives tests/expected/<scenario>.json.

The expected files were worked out by hand from CLINICAL_RULES.md (arithmetic in
tests/expected/README.md) at the evaluation date below. `cards` are checked by the card
tests; `warnings` are listed as fragments: same count, each fragment in its own warning.

The cards of each fixture are golden too: tests/expected/cards/<scenario>.json, written by
the code (`python -m tests.update_golden_cards`) and reviewed in the diff, so a change in
card text shows in review.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from service.cards import patient_view_cards
from service.engine import evaluate
from service.engine.model import Evaluation
from service.fhir import build_records, load_path
from tests.conftest import EXPECTED, FIXTURES

TODAY = date(2026, 11, 21)
BASE_URL = "http://localhost:8080"  # where the golden cards' links point (make run)
SCENARIOS = sorted(p.stem for p in EXPECTED.glob("*.json"))
CARDS = EXPECTED / "cards"
REGENERATE = "python -m tests.update_golden_cards"


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def actual(scenario: str) -> dict[str, Any]:
    return evaluation_of(scenario).to_json()


def cards_of(scenario: str) -> list[dict[str, Any]]:
    """The patient-view cards of one fixture at TODAY, with the default thresholds."""
    return patient_view_cards(evaluation_of(scenario), base_url=BASE_URL)


def test_every_fixture_has_an_expected_evaluation() -> None:
    """Fixtures and expected evaluations pair up one to one; there are at least 15."""
    fixtures = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert fixtures == SCENARIOS
    assert len(SCENARIOS) >= 15


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fixture_gives_its_expected_evaluation(scenario: str) -> None:
    """Each fixture evaluates to its expected file; each warning fragment is in its own warning."""
    expected = json.loads((EXPECTED / f"{scenario}.json").read_text())
    got = actual(scenario)
    fragments = expected.pop("warnings")
    warnings = got.pop("warnings")
    got.pop("cards")
    assert got == expected
    assert len(warnings) == len(fragments), warnings
    unmatched = list(warnings)
    for fragment in fragments:
        hit = next((w for w in unmatched if fragment in w), None)
        assert hit is not None, f"no warning holds {fragment!r}: {warnings}"
        unmatched.remove(hit)


def test_fixtures_cover_every_branch_of_options_and_trials() -> None:
    """§9/§10: at a decision point every option is both shown and hidden by some fixture,
    both option statuses occur, every verdict occurs, and a trial is left out once."""
    from service.engine.options import OPTION_IDS

    shown: set[str] = set()
    hidden: set[str] = set()
    statuses: set[str] = set()
    verdicts: set[str] = set()
    left_out = False
    for scenario in SCENARIOS:
        result = json.loads((EXPECTED / f"{scenario}.json").read_text())
        if result["next_line"] is None:
            hidden.update(OPTION_IDS)  # outside a decision point nothing is shown
            continue
        ids = {o["id"] for o in result["options"]}
        shown |= ids
        hidden |= set(OPTION_IDS) - ids
        statuses |= {o["status"] for o in result["options"]}
        verdicts |= {t["verdict"] for t in result["trials"]}
        left_out |= not result["trials"]
    assert shown == hidden == set(OPTION_IDS)
    assert statuses == {"recommended", "consider"}
    assert verdicts == {"eligible", "possibly-eligible", "ineligible"}
    assert left_out


# --- card golden files ---------------------------------------------------------------


def _first_difference(expected: Any, got: Any, path: str = "") -> str | None:
    """Where two JSON values first differ, as `key[i].key: expected …, got …`, or None."""
    if isinstance(expected, dict) and isinstance(got, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            where = f"{path}.{key}" if path else key
            if key not in got:
                return f"{where}: missing (expected {expected[key]!r})"
            if key not in expected:
                return f"{where}: not expected (got {got[key]!r})"
            found = _first_difference(expected[key], got[key], where)
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for i, (want, have) in enumerate(zip(expected, got, strict=False)):
            found = _first_difference(want, have, f"{path}[{i}]")
            if found:
                return found
        if len(expected) != len(got):
            return f"{path}: expected {len(expected)} items, got {len(got)}"
        return None
    if isinstance(expected, str) and isinstance(got, str) and expected != got:
        # Card detail is markdown over many lines: show the first line that differs.
        lines = zip(expected.splitlines(), got.splitlines(), strict=False)
        for number, (want, have) in enumerate(lines, 1):
            if want != have:
                return f"{path} line {number}: expected {want!r}, got {have!r}"
        return f"{path}: expected {expected!r}, got {got!r}"
    if type(expected) is not type(got) or expected != got:
        return f"{path}: expected {expected!r}, got {got!r}"
    return None


def card_difference(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> str:
    """The first card and field where `got` differs from `expected`, for a failure message."""
    for i, (want, have) in enumerate(zip(expected, got, strict=False)):
        found = _first_difference(want, have)
        if found:
            return f"card {i} ({want.get('summary')!r}), field {found}"
    shorter = min(len(expected), len(got))
    if len(expected) == len(got):
        return "no difference"
    word, card = ("extra", got[shorter]) if len(got) > shorter else ("missing", expected[shorter])
    return (
        f"expected {len(expected)} cards, got {len(got)}; "
        f"first {word}: card {shorter} ({card.get('summary')!r})"
    )


FIXTURE_SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))


def test_every_fixture_has_a_card_golden_file_and_every_card_file_a_fixture() -> None:
    """tests/expected/cards/ holds exactly one <scenario>.json per fhir_fixtures/<scenario>.json."""
    cards = sorted(p.stem for p in CARDS.glob("*.json"))
    missing = sorted(set(FIXTURE_SCENARIOS) - set(cards))
    extra = sorted(set(cards) - set(FIXTURE_SCENARIOS))
    assert FIXTURE_SCENARIOS == cards, (
        f"no card file for {missing}, no fixture for {extra}: run {REGENERATE}"
    )


@pytest.mark.parametrize("scenario", FIXTURE_SCENARIOS)
def test_fixture_gives_its_golden_cards(scenario: str) -> None:
    """patient_view_cards of each fixture equals tests/expected/cards/<scenario>.json."""
    path = CARDS / f"{scenario}.json"
    if not path.is_file():
        pytest.fail(f"{path} is missing: run {REGENERATE}")
    expected = json.loads(path.read_text(encoding="utf-8"))
    got = cards_of(scenario)
    assert expected == got, (
        f"{scenario}: {card_difference(expected, got)}. "
        f"If the change is meant, run {REGENERATE} and review the diff."
    )
