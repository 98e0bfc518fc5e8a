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
    "Component",
    "ConditionFact",
    "MedicationFact",
    "ObservationFact",
    "PatientFact",
    "ProcedureFact",
    "ProcedureKind",
    "Record",
]

MedicationKind = Literal["MedicationStatement", "MedicationRequest", "MedicationAdministration"]
# What a Procedure kept in the record is (§1 v3): systemic anticancer therapy named only
# as a procedure, radiotherapy, or both in one record (chemoradiotherapy).
ProcedureKind = Literal["systemic", "radiotherapy", "chemoradiotherapy"]


@dataclass(frozen=True, slots=True)
class Code:
    """One coding: a code in a system, with its display text if any."""

    system: str
    code: str
    display: str | None = None


@dataclass(frozen=True, slots=True)
class PatientFact:
    """`birth_date` is the earliest possible day; `birth_latest` the latest when the
    record gives only a year or a month (§1 partial dates), else None."""

    ref: str
    birth_date: date | None
    deceased: bool
    birth_latest: date | None = None


@dataclass(frozen=True, slots=True)
class ConditionFact:
    """A Condition: code, statuses (lower-case codes or None), dates and stage.

    `stage_codes` and `stage_text` are those of its `stage.summary`; `stage_assessments`
    the records its `stage.assessment` names (§2 v3), resolved like every reference
    (`Observation/x`), or the reference as written when it resolves to nothing."""

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
    notes: tuple[str, ...] = ()
    onset_estimated: bool = False
    recorded_estimated: bool = False
    stage_assessments: tuple[str, ...] = ()

    @property
    def day(self) -> date | None:
        """The Condition's date: onset, else recorded."""
        return self.onset or self.recorded

    @property
    def day_estimated(self) -> bool:
        return self.onset_estimated if self.onset else self.recorded_estimated


@dataclass(frozen=True, slots=True)
class MedicationFact:
    """A drug exposure record of any of the three medication resources.

    `codes` and `texts` already include those of a resolved `medicationReference`.
    `start`/`end` are None when the record has no usable date; `date_problem` then
    says why. `estimated` marks dates read from a partial date (§1); `end_partial` an
    end that is the last day of a month or year, which the engine caps at today.
    `missing_reference` names a `medicationReference` that resolved to nothing;
    `unreadable` marks a record that failed validation and was read for its drug alone.
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
    estimated: bool = False
    end_partial: bool = False
    missing_reference: str | None = None
    unreadable: bool = False

    @property
    def unnamed(self) -> bool:
        """No text and no coding display: nothing a reader could identify it by."""
        return not self.texts and not any(c.display for c in self.codes)


@dataclass(frozen=True, slots=True)
class Component:
    """One component of an Observation (a blood pressure's systolic part, say)."""

    codes: tuple[Code, ...]
    value_number: float | None
    value_unit: str | None = None


@dataclass(frozen=True, slots=True)
class ObservationFact:
    """An Observation the engine may use: disease status, ECOG, a laboratory value or a
    TNM stage (§2 v3).

    `value_codes` and `value_text` are its `valueCodeableConcept` (`value_text` also a
    `valueString`); `focus` the records its `focus` names (§6.1 v3: what a disease status
    or a stage is about), resolved like every reference, or as written when unresolved."""

    ref: str
    codes: tuple[Code, ...]
    status: str | None
    effective: date | None
    value_number: float | None = None
    value_unit: str | None = None
    value_codes: tuple[Code, ...] = ()
    reference_high: float | None = None
    reference_high_unit: str | None = None
    components: tuple[Component, ...] = ()
    effective_estimated: bool = False
    value_text: str | None = None
    focus: tuple[str, ...] = ()  # `Observation.focus`, resolved where the read could


@dataclass(frozen=True, slots=True)
class ProcedureFact:
    """A Procedure that is systemic anticancer therapy or radiotherapy (§1 v3); the
    reader keeps no other Procedure, and none entered in error or not done.

    `codes` and `text` are its `code`'s; `start`/`end` come from `performedDateTime` (one
    day) or `performedPeriod` (`end` None when the period has none), both None when it
    is not dated. `estimated` marks dates read from a partial date (§1); `end_partial` an
    end that is the last day of a month or year. `reason_refs` are its resolved
    `reasonReference`s, `reason_codes` the codings of its `reasonCode`s.
    """

    ref: str
    kind: ProcedureKind
    status: str | None
    codes: tuple[Code, ...]
    text: str | None
    start: date | None
    end: date | None
    estimated: bool = False
    end_partial: bool = False
    reason_refs: tuple[str, ...] = ()
    reason_codes: tuple[Code, ...] = ()

    @property
    def systemic(self) -> bool:
        """Systemic anticancer therapy, alone or with radiotherapy."""
        return self.kind != "radiotherapy"

    @property
    def radiotherapy(self) -> bool:
        """Radiotherapy, alone or with systemic therapy."""
        return self.kind != "systemic"


@dataclass(frozen=True, slots=True)
class Record:
    """Everything the engine knows about one patient, plus the reader's warnings."""

    patient: PatientFact | None
    conditions: tuple[ConditionFact, ...] = ()
    medications: tuple[MedicationFact, ...] = ()
    observations: tuple[ObservationFact, ...] = ()
    procedures: tuple[ProcedureFact, ...] = ()
    warnings: tuple[str, ...] = field(default=())
