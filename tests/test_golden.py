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
