"""One way from FHIR resources to what the service shows: record, evaluation, cards.

Every caller goes through here: the CDS Hooks endpoints, `sclc-cds evaluate`, the demo
and anything later. `pick_patient` is the one rule for which patient is evaluated
(CLINICAL_RULES §1): the one the caller names, else the only Patient of the input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

from service.cards import patient_view_cards
from service.engine import Evaluation, Thresholds, evaluate
from service.engine.record import Record
from service.errors import InputError
from service.fhir import RawResource, build_records, select

if TYPE_CHECKING:
    from service.cache import AssessmentCache

__all__ = [
    "DEFAULT_BASE_URL",
    "Assessment",
    "assess",
    "assess_each",
    "cards_json",
    "pick_patient",
]

# The service's address under `make run`: where the links of cards made outside a
# request (the CLI) point unless SCLC_CDS_BASE_URL says otherwise.
DEFAULT_BASE_URL = "http://localhost:8080"


@dataclass(frozen=True)
class Assessment:
    """One patient's record, its evaluation and its patient-view cards."""

    record: Record
    evaluation: Evaluation
    base_url: str = DEFAULT_BASE_URL  # where the cards' links point (the service itself)

    @cached_property
    def cards(self) -> list[dict[str, Any]]:
        """The cards `patient-view` returns (built once, on first use)."""
        return patient_view_cards(self.evaluation, base_url=self.base_url)

    @cached_property
    def cards_answer(self) -> str:
        """`{"cards": cards}` as compact JSON, as the app's JSON provider writes it (made
        once: a cached assessment answers the same chart again without re-encoding)."""
        return cards_json(self.cards)

    def to_json(self) -> dict[str, Any]:
        """The evaluation JSON of CONTRACT.md, with its cards."""
        return self.evaluation.to_json(cards=self.cards)


def cards_json(cards: Sequence[dict[str, Any]], *, compact: bool = True) -> str:
    """`{"cards": cards}` as the app's JSON provider writes it: compact, or indented (its
    debug mode)."""
    if compact:
        return json.dumps({"cards": cards}, ensure_ascii=False, separators=(",", ":"))
    return json.dumps({"cards": cards}, ensure_ascii=False, indent=2)


def _patient_ids(resources: Iterable[RawResource]) -> list[str]:
    ids = (r.resource.get("id") for r in resources if r.resource.get("resourceType") == "Patient")
    return list(dict.fromkeys(i for i in ids if isinstance(i, str) and i))


def pick_patient(resources: Sequence[RawResource], patient_id: str | None) -> str:
    """The id of the patient to evaluate: `patient_id` when given, else the only Patient."""
    if patient_id is not None:
        return patient_id
    ids = _patient_ids(resources)
    if not ids:
        raise InputError("the input holds no Patient resource")
    if len(ids) > 1:
        raise InputError("the input holds several Patients; name the one to evaluate")
    return ids[0]


def assess(
    resources: Sequence[RawResource],
    *,
    patient_id: str | None,
    today: date,
    thresholds: Thresholds,
    warnings: Sequence[str] = (),
    base_url: str = DEFAULT_BASE_URL,
    full_validation: bool = False,
    cache: AssessmentCache | None = None,
) -> Assessment:
    """The named patient's (or the only patient's) assessment.

    The reader validates only what the engine can read (`full_validation` validates
    every resource, for comparison); with `cache`, a call that reads exactly what a
    cached one read gets that assessment.
    """
    chosen = pick_patient(resources, patient_id)
    selection = select(resources, patient_id=chosen, today=today, full_validation=full_validation)
    key = (chosen, today, thresholds, tuple(warnings), base_url, full_validation)
    if cache is not None:
        found = cache.get(key, selection.reads_as)
        if found is not None:
            return found
    record = selection.record(warnings)
    assessment = Assessment(record, evaluate(record, today=today, thresholds=thresholds), base_url)
    if cache is not None:
        cache.put(key, selection.fingerprint(), assessment)
    return assessment


def assess_each(
    resources: Sequence[RawResource],
    *,
    today: date,
    thresholds: Thresholds,
    warnings: Sequence[str] = (),
    base_url: str = DEFAULT_BASE_URL,
    full_validation: bool = False,
) -> list[Assessment]:
    """Every Patient of a population input, each on its own resources (read once)."""
    found = build_records(
        resources, warnings=warnings, today=today, full_validation=full_validation
    )
    records = [r for r in found if r.patient is not None]
    if not records:
        raise InputError("the input holds no Patient resource")
    return [
        Assessment(r, evaluate(r, today=today, thresholds=thresholds), base_url) for r in records
    ]
