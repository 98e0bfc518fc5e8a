"""Golden files: every fhir_fixtures/<scenario>.json gives tests/expected/<scenario>.json.

The expected files were worked out by hand from CLINICAL_RULES.md (arithmetic in
tests/expected/README.md) at the evaluation date below. `cards` are checked by the card
tests; `warnings` are listed as fragments: same count, each fragment in its own warning.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from service.engine import evaluate
from service.fhir import build_records, load_path
from tests.conftest import EXPECTED, FIXTURES

TODAY = date(2026, 11, 21)
SCENARIOS = sorted(p.stem for p in EXPECTED.glob("*.json"))


def actual(scenario: str) -> dict[str, Any]:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY).to_json()


def test_every_fixture_has_an_expected_evaluation() -> None:
    fixtures = sorted(p.stem for p in FIXTURES.glob("*.json"))
    assert fixtures == SCENARIOS
    assert len(SCENARIOS) >= 15


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_fixture_gives_its_expected_evaluation(scenario: str) -> None:
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
