"""The engine's view of a patient record: small frozen facts, no FHIR models, no I/O.

`service.fhir` turns validated FHIR R4 resources into these values; everything in
`service.engine` works on them alone, so each clinical rule is testable without files,
HTTP or FHIR parsing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

__all__ = [
    "Code",
    "ConditionFact",
    "MedicationFact",
    "ObservationFact",
    "PatientFact",
    "Record",
]

MedicationKind = Literal["MedicationStatement", "MedicationRequest", "MedicationAdministration"]


@dataclass(frozen=True, slots=True)
class Code:
    """One coding: a code in a system, with its display text if any."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class PatientFact:
    ref: str
    birth_date: date | None
    deceased: bool


@dataclass(frozen=True, slots=True)
class ConditionFact:
    """A Condition: code, statuses (lower-case codes or None), dates and stage."""

    ref: str
    codes: tuple[Code, ...]
    text: str | None
    clinical_status: str | None
    verification_status: str | None
    onset: date | None
    recorded: date | None
    stage_codes: tuple[Code, ...] = ()
    stage_text: str | None = None
    body_site_codes: tuple[Code, ...] = ()


@dataclass(frozen=True, slots=True)
class MedicationFact:
    """A drug exposure record of any of the three medication resources.

    `codes` and `texts` already include those of a resolved `medicationReference`.
    `start`/`end` are None when the record has no usable date; `date_problem` then
    says why.
    """

    ref: str
    kind: MedicationKind
    status: str | None
    codes: tuple[Code, ...]
    texts: tuple[str, ...]
    start: date | None
    end: date | None
    intent: str | None = None
    do_not_perform: bool = False
    open_ended: bool = False
    reason_refs: tuple[str, ...] = ()
    reason_codes: tuple[Code, ...] = ()
    date_problem: str | None = None


@dataclass(frozen=True, slots=True)
class ObservationFact:
    """An Observation the engine may use: disease status, ECOG or a laboratory value."""

    ref: str
    codes: tuple[Code, ...]
    status: str | None
    effective: date | None
    value_number: float | None = None
    value_unit: str | None = None
    value_codes: tuple[Code, ...] = ()
    reference_high: float | None = None
    reference_high_unit: str | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """Everything the engine knows about one patient, plus the reader's warnings."""

    patient: PatientFact | None
    conditions: tuple[ConditionFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    observations: tuple[ObservationFact, ...] = ()
    warnings: tuple[str, ...] = field(default=())
