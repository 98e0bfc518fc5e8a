"""One way from FHIR resources to what the service shows: record, evaluation, cards.

Every caller goes through here: the CDS Hooks endpoints, `sclc-cds evaluate`, the demo
and anything later. `pick_patient` is the one rule for which patient is evaluated
(CLINICAL_RULES §1): the one the caller names, else the only Patient of the input.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from service.cards import patient_view_cards
from service.engine import Evaluation, Thresholds, evaluate
from service.engine.record import Record
from service.errors import InputError
from service.fhir import RawResource, build_record, build_records

__all__ = ["Assessment", "assess", "assess_each", "pick_patient"]


@dataclass(frozen=True)
class Assessment:
    """One patient's record, its evaluation and its patient-view cards."""

    record: Record
    evaluation: Evaluation

    @cached_property
    def cards(self) -> list[dict[str, Any]]:
        """The cards `patient-view` returns (built once, on first use)."""
        return patient_view_cards(self.evaluation)

    def to_json(self) -> dict[str, Any]:
        """The evaluation JSON of CONTRACT.md, with its cards."""
        return self.evaluation.to_json(cards=self.cards)


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
) -> Assessment:
    """The named patient's (or the only patient's) assessment."""
    chosen = pick_patient(resources, patient_id)
    record = build_record(resources, patient_id=chosen, warnings=warnings)
    return Assessment(record, evaluate(record, today=today, thresholds=thresholds))


def assess_each(
    resources: Sequence[RawResource],
    *,
    today: date,
    thresholds: Thresholds,
    warnings: Sequence[str] = (),
) -> list[Assessment]:
    """Every Patient of a population input, each on its own resources (read once)."""
    records = [r for r in build_records(resources, warnings=warnings) if r.patient is not None]
    if not records:
        raise InputError("the input holds no Patient resource")
    return [Assessment(r, evaluate(r, today=today, thresholds=thresholds)) for r in records]
