"""The v2 principle for charts written the v3 way, as a property over every fixture.

"A record the engine cannot read never silently changes what a clinician is shown"
(CLINICAL_RULES v2), now also when a fixture's drug record names its drug only by
ingredient (an order-set Medication), by ATC code (with a foreign spelling) or by the
abbreviation an order uses, and when a disease status is about another cancer (v3 §3,
§1, §6.1). Renaming a drug never adds an option containing it nor raises an option's
status; a disease status moved to another cancer never adds or raises an option without
a warning naming it.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from service.engine import catalogue as catalogue_module
from service.engine.model import Evaluation
from service.engine.options import OPTION_AGENTS
from tests.engine.test_unreadable_records import BUNDLES, CANDIDATES, _evaluate

DRUGS = tomllib.loads(Path(catalogue_module.__file__).with_name("drugs.toml").read_text("utf-8"))[
    "agent"
]
ATC = {a["name"]: a["atc"][0] for a in DRUGS if a.get("atc")}
ABBREVIATION = {a["name"]: a["abbreviations"][0] for a in DRUGS if a.get("abbreviations")}
# A spelling other than the English generic name (Carboplatine, Etoposid …), where listed.
FOREIGN = {
    a["name"]: next(
        (n for n in a.get("names", []) if n[:5] == a["name"][:5] and n != a["name"]), ""
    )
    for a in DRUGS
}


def _ranked(evaluation: Evaluation) -> dict[str, int]:
    """Option id → 2 when recommended, 1 when to consider."""
    return {o.id: 2 if o.status == "recommended" else 1 for o in evaluation.options}


def _raised(before: Evaluation, after: Evaluation) -> set[str]:
    """Options that are new, or recommended now and not before."""
    was = _ranked(before)
    return {o for o, rank in _ranked(after).items() if rank > was.get(o, 0)}


def _concept(resource: dict[str, Any]) -> dict[str, Any] | None:
    concept = resource.get("medicationCodeableConcept")
    return concept if isinstance(concept, dict) else None


def as_ingredient(resource: dict[str, Any], agent: str) -> None:
    """The drug moves into the ingredient of a contained order-set Medication."""
    concept = resource.pop("medicationCodeableConcept")
    resource["contained"] = [
        {
            "resourceType": "Medication",
            "id": "orderset",
            "code": {"text": "Small-cell lung cancer order set"},
            "ingredient": [{"itemCodeableConcept": concept}],
        }
    ]
    resource["medicationReference"] = {"reference": "#orderset"}


def as_atc(resource: dict[str, Any], agent: str) -> None:
    """Only a WHO ATC code, displayed in another language."""
    assume(agent in ATC)
    display = FOREIGN.get(agent) or agent
    resource["medicationCodeableConcept"] = {
        "coding": [{"system": "http://www.whocc.no/atc", "code": ATC[agent], "display": display}]
    }


def as_abbreviation(resource: dict[str, Any], agent: str) -> None:
    """Only the order's abbreviation, as its text."""
    assume(agent in ABBREVIATION)
    resource["medicationCodeableConcept"] = {"text": f"{ABBREVIATION[agent]} IV day 1"}


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from([c for c in CANDIDATES if len(c[3]) == 1]),
    st.sampled_from([as_ingredient, as_atc, as_abbreviation]),
)
def test_a_renamed_drug_never_adds_or_raises_an_option_with_its_agent(
    candidate: Any, rename: Any
) -> None:
    """Read by ingredient, ATC or abbreviation, the record gives the same lines and
    options, and never adds or raises an option containing its agent."""
    name, index, ref, agents = candidate
    (agent,) = agents
    resource = BUNDLES[name]["entry"][index]["resource"]
    assume(_concept(resource) is not None)
    before = _evaluate(BUNDLES[name])
    renamed = copy.deepcopy(BUNDLES[name])
    rename(renamed["entry"][index]["resource"], agent)
    after = _evaluate(renamed)
    raised = _raised(before, after)
    assert not [o for o in raised if agent in OPTION_AGENTS.get(o, frozenset())], (
        name,
        ref,
        rename.__name__,
        raised,
    )
    # Read as the same drug, the record changes nothing at all.
    assert [line.to_json() for line in after.lines] == [line.to_json() for line in before.lines]
    assert _ranked(after) == _ranked(before)


def _disease_statuses() -> list[tuple[str, int, str]]:
    found = []
    for name, bundle in BUNDLES.items():
        for index, entry in enumerate(bundle["entry"]):
            resource = entry["resource"]
            codes = [c.get("code") for c in resource.get("code", {}).get("coding", [])]
            if resource["resourceType"] == "Observation" and "97509-4" in codes:
                found.append((name, index, f"Observation/{resource['id']}"))
    return found


STATUSES = _disease_statuses()


def test_the_fixtures_offer_disease_statuses_to_move() -> None:
    """The disease-status property ranges over a real share of the fixtures."""
    assert len(STATUSES) >= 20


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(STATUSES))
def test_a_disease_status_about_another_cancer_never_silently_raises_an_option(
    status: tuple[str, int, str],
) -> None:
    """Its focus moved to a prostate cancer added to the record: the status no longer
    counts for SCLC. Any option that appears or becomes recommended (a later event now
    dating the interval) comes with a warning naming the Observation."""
    name, index, ref = status
    before = _evaluate(BUNDLES[name])
    moved = copy.deepcopy(BUNDLES[name])
    patient = next(
        e["resource"]["id"] for e in moved["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    moved["entry"].append(
        {
            "resource": {
                "resourceType": "Condition",
                "id": "prostate-added",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"text": "Malignant tumor of prostate"},
                "subject": {"reference": f"Patient/{patient}"},
                "onsetDateTime": "2015-01-01",
            }
        }
    )
    moved["entry"][index]["resource"]["focus"] = [{"reference": "Condition/prostate-added"}]
    after = _evaluate(moved)
    if _raised(before, after):
        assert any(w.startswith(ref) for w in after.warnings), (name, ref, after.warnings)
