"""The principle of CLINICAL_RULES v2, as a property over every fixture (hypothesis).

"A record the engine cannot read never silently changes what a clinician is shown":
removing the date from any anticancer exposure, or replacing its drug by an unknown
code, never adds an option containing that agent, and always adds a warning naming
the record.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.engine import evaluate
from service.engine.catalogue import load_catalogue
from service.engine.exposures import is_excluded
from service.engine.model import Evaluation
from service.engine.options import OPTION_AGENTS
from service.fhir import build_records, resources_from_json
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)
MEDICATIONS = ("MedicationStatement", "MedicationRequest", "MedicationAdministration")
DATE_FIELDS = (
    "effectiveDateTime",
    "effectivePeriod",
    "authoredOn",
    "dispenseRequest",
    "dosageInstruction",  # its timing.repeat.boundsPeriod (v3 §1)
)
UNKNOWN_CODE = {
    "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "99999999"}]
}


def _evaluate(bundle: dict[str, Any]) -> Evaluation:
    raw, warnings = resources_from_json(bundle)
    (record,) = build_records(raw, warnings=warnings)
    return evaluate(record, today=TODAY)


def _exposures(bundle: dict[str, Any]) -> list[tuple[int, str, frozenset[str]]]:
    """(entry index, Type/id, agents) of every dated anticancer record the engine reads."""
    raw, warnings = resources_from_json(bundle)
    (record,) = build_records(raw, warnings=warnings)
    catalogue = load_catalogue()
    agents_of = {}
    for medication in record.medications:
        if is_excluded(medication) or medication.start is None:
            continue
        agents = [
            a.name for a in catalogue.match(medication.codes, medication.texts) if not a.supportive
        ]
        if agents:
            agents_of[medication.ref] = frozenset(agents)
    found = []
    for index, entry in enumerate(bundle["entry"]):
        resource = entry["resource"]
        ref = f"{resource['resourceType']}/{resource.get('id')}"
        if resource["resourceType"] in MEDICATIONS and ref in agents_of:
            found.append((index, ref, agents_of[ref]))
    return found


BUNDLES = {p.stem: json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))}
CANDIDATES = [
    (name, index, ref, agents)
    for name, bundle in BUNDLES.items()
    for index, ref, agents in _exposures(bundle)
]


def _undated(resource: dict[str, Any]) -> None:
    for key in DATE_FIELDS:
        resource.pop(key, None)


def _unidentified(resource: dict[str, Any]) -> None:
    resource.pop("medicationReference", None)
    resource["medicationCodeableConcept"] = copy.deepcopy(UNKNOWN_CODE)


def test_the_fixtures_offer_many_records_to_break() -> None:
    """The property below ranges over a real share of the fixtures' drug records."""
    assert len(CANDIDATES) >= 100
    assert len({name for name, *_ in CANDIDATES}) >= 30


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CANDIDATES), st.sampled_from([_undated, _unidentified]))
def test_an_unreadable_record_never_adds_an_option_with_its_agent(
    candidate: Any, damage: Any
) -> None:
    """Damaging one record adds no option containing its agent and adds a warning naming it."""
    name, index, ref, agents = candidate
    before = _evaluate(BUNDLES[name])
    broken = copy.deepcopy(BUNDLES[name])
    damage(broken["entry"][index]["resource"])
    after = _evaluate(broken)
    added = {o.id for o in after.options} - {o.id for o in before.options}
    assert not [o for o in added if OPTION_AGENTS.get(o, frozenset()) & agents], (name, ref, added)
    new_warnings = set(after.warnings) - set(before.warnings)
    assert any(w.startswith(ref) for w in new_warnings), (name, ref, after.warnings)
