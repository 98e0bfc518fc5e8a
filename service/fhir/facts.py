"""Engine facts from validated FHIR models: `Record`s of the engine's own values.

`Builder` turns the items a read validated (`service.fhir.validation`) into the frozen
facts of `service.engine.record`, resolving references through the read's index: dates
as calendar days (§1: a partial date is read as its first or last day and named in a
warning), codes, statuses, quantities; a drug record that failed validation is still
read for its drug (`service.fhir.medication`); of Procedures, only those
`service.fhir.procedure` keeps. `record_of` gathers the facts of one patient (resources
naming another patient are dropped with a warning), `records_of` those of each Patient
of a population.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from fhir.resources.R4B.reference import Reference

from service.engine.record import (
    Code,
    Component,
    ConditionFact,
    MedicationFact,
    MedicationKind,
    ObservationFact,
    PatientFact,
    ProcedureFact,
    Record,
)
from service.fhir.dates import (
    BOUNDS_PERIOD,
    Dates,
    Span,
    bounds_periods,
    day_of,
    model_day,
    partial_day,
    span_of,
    spans_of,
)
from service.fhir.lenient import (
    codes_of,
    json_list,
    reference_of,
    status_of,
    string_of,
    subject_reference,
)
from service.fhir.medication import drug_of
from service.fhir.procedure import EXCLUDED_STATUSES, procedure_kind
from service.fhir.validation import Index, Item, Parsed, is_medication_kind

__all__ = ["Builder", "record_of", "records_of"]


def _codes(concept: CodeableConcept | None) -> tuple[Code, ...]:
    if concept is None:
        return ()
    return tuple(
        Code(system=c.system or "", code=c.code or "", display=c.display)
        for c in (concept.coding or [])
        if c.code
    )


def _concept_texts(concept: CodeableConcept | None) -> tuple[str, ...]:
    return (concept.text,) if concept is not None and concept.text else ()


def _status_code(concept: CodeableConcept | None) -> str | None:
    for code in _codes(concept):
        return code.code.lower()
    return None


class Builder:
    """Turns validated models into engine facts, resolving references."""

    def __init__(
        self, index: Index, warnings: list[str], medications: dict[str, dict[str, Any]]
    ) -> None:
        self.index = index
        self.warnings = warnings
        self.medications = medications

    @classmethod
    def of(cls, parsed: Parsed) -> Builder:
        """The builder of a read: its index, its warnings and its valid Medications."""
        medications = {item.ref: item.raw for item in parsed.items if item.kind == "Medication"}
        return cls(parsed.index, parsed.warnings, medications)

    def _note(self, ref: str, dates: Dates) -> None:
        warning = dates.warning(ref)
        if warning:
            self.warnings.append(warning)

    def _refs(self, references: Iterable[Reference] | None) -> list[str]:
        """The records these References name, resolved through the read's index (a
        reference that resolves to nothing is kept as written)."""
        found = (r.reference for r in references or [] if r.reference)
        return [self.index.resolve(r) or r for r in found]

    def subject(self, raw: dict[str, Any]) -> str | None:
        """Whom the resource is about (`subject`, else `patient`), resolved."""
        return self.index.resolve(subject_reference(raw))

    def patient(self, ref: str, model: Patient) -> PatientFact:
        dates = Dates()
        birth = dates.read("birthDate", model.birthDate)
        latest = partial_day(model.birthDate, last=True) if dates.partial else None
        self._note(ref, dates)
        deceased = bool(model.deceasedBoolean) or model.deceasedDateTime is not None
        return PatientFact(ref=ref, birth_date=birth, deceased=deceased, birth_latest=latest)

    def condition(self, ref: str, model: Condition) -> ConditionFact:
        codes = list(_codes(model.code))
        for extension in model.extension or []:  # mCODE histology morphology behaviour
            codes.extend(_codes(extension.valueCodeableConcept))
        stage_codes: list[Code] = []
        stage_texts: list[str] = []
        assessments: list[str] = []
        for stage in model.stage or []:
            stage_codes.extend(_codes(stage.summary))
            stage_texts.extend(_concept_texts(stage.summary))
            assessments.extend(self._refs(stage.assessment))
        dates = Dates()
        onset = dates.read("onsetDateTime", model.onsetDateTime)
        onset_partial = bool(dates.partial)
        if onset is None and model.onsetPeriod is not None:
            onset = dates.read("onsetPeriod.start", model.onsetPeriod.start)
            onset_partial = bool(dates.partial)
        before = len(dates.partial)
        recorded = dates.read("recordedDate", model.recordedDate)
        self._note(ref, dates)
        body_sites = [c for site in model.bodySite or [] for c in _codes(site)]
        return ConditionFact(
            ref=ref,
            codes=tuple(codes),
            text=model.code.text if model.code is not None else None,
            clinical_status=_status_code(model.clinicalStatus),
            verification_status=_status_code(model.verificationStatus),
            onset=onset,
            recorded=recorded,
            stage_codes=tuple(stage_codes),
            stage_text="; ".join(stage_texts) or None,
            body_site_codes=tuple(body_sites),
            notes=tuple(n.text for n in model.note or [] if n.text),
            onset_estimated=onset_partial,
            recorded_estimated=len(dates.partial) > before,
            stage_assessments=tuple(assessments),
        )

    def _resolve_medication(self, reference: str) -> dict[str, Any] | None:
        return self.medications.get(self.index.resolve(reference) or "")

    def _when(self, kind: MedicationKind, raw: dict[str, Any], dates: Dates) -> Span:
        """§1 dates of an exposure, from the JSON of a validated resource."""
        if kind == "MedicationRequest":
            validity = (raw.get("dispenseRequest") or {}).get("validityPeriod") or {}
            if validity.get("start") is not None:
                return span_of(dates, "dispenseRequest.validityPeriod", validity)
            bounds = bounds_periods(raw)
            if bounds:  # v3: the dates order sets carry
                return spans_of(dates, BOUNDS_PERIOD, bounds)
            if raw.get("authoredOn") is not None:
                day = dates.read("authoredOn", model_day(raw["authoredOn"]))
                return Span(day, day, problem=None if day else "authoredOn is not a date")
            return Span(None, None, problem=None)
        if raw.get("effectiveDateTime") is not None:
            day = dates.read("effectiveDateTime", model_day(raw["effectiveDateTime"]))
            return Span(day, day, problem=None if day else "effectiveDateTime is not a date")
        period = raw.get("effectivePeriod")
        if isinstance(period, dict):
            span = span_of(dates, "effectivePeriod", period)
            return Span(
                span.start,
                span.end,
                problem=span.problem,
                end_partial=span.end_partial,
                open_ended=kind == "MedicationStatement" and period.get("end") is None,
            )
        return Span(None, None, problem=None)

    def medication(
        self, ref: str, kind: MedicationKind, raw: dict[str, Any], *, problem: str | None
    ) -> MedicationFact:
        """The fact of a drug record; `problem` says why it failed validation (its dates
        are then not read)."""
        drug = drug_of(raw, self._resolve_medication)
        dates = Dates()
        unread = Span(None, None, problem=None)
        span = unread if problem is not None else self._when(kind, raw, dates)
        self._note(ref, dates)
        start, end = span.start, span.end
        if start is not None and end is not None and end < start:
            self.warnings.append(f"{ref}: period ends before it starts; read as its start day")
            end = start
        reasons = [
            r for r in map(reference_of, json_list(raw.get("reasonReference"))) if r is not None
        ]
        reason_codes = [
            c for concept in json_list(raw.get("reasonCode")) for c in codes_of(concept)[0]
        ]
        status, intent = status_of(raw), string_of(raw.get("intent"))
        return MedicationFact(
            ref=ref,
            kind=kind,
            status=status,
            codes=drug.codes,
            texts=drug.texts,
            start=start,
            end=end,
            intent=intent,
            do_not_perform=raw.get("doNotPerform") is True,
            open_ended=span.open_ended and status == "active",
            reason_refs=tuple(self.index.resolve(r) or r for r in reasons),
            reason_codes=tuple(reason_codes),
            date_problem=problem or (span.problem if start is None else None),
            estimated=bool(dates.partial),
            end_partial=span.end_partial,
            missing_reference=drug.missing_reference,
            unreadable=problem is not None,
        )

    def observation(self, ref: str, model: Observation) -> ObservationFact:
        dates = Dates()
        effective = dates.read("effectiveDateTime", model.effectiveDateTime) or day_of(
            model.effectiveInstant
        )
        if effective is None and model.effectivePeriod is not None:
            effective = dates.read("effectivePeriod.start", model.effectivePeriod.start)
        self._note(ref, dates)
        number, unit = _quantity(model)
        high: float | None = None
        high_unit: str | None = None
        for reference_range in model.referenceRange or []:
            if reference_range.high is not None and reference_range.high.value is not None:
                high = float(reference_range.high.value)
                high_unit = reference_range.high.code or reference_range.high.unit
                break
        components = tuple(Component(_codes(c.code), *_quantity(c)) for c in model.component or [])
        value = model.valueCodeableConcept
        return ObservationFact(
            ref=ref,
            codes=_codes(model.code),
            status=model.status,
            effective=effective,
            value_number=number,
            value_unit=unit,
            value_codes=_codes(value),
            reference_high=high,
            reference_high_unit=high_unit,
            components=components,
            effective_estimated=bool(dates.partial),
            value_text=value.text if value is not None and value.text else model.valueString,
            focus=tuple(self._refs(model.focus)),
        )

    def procedure(self, ref: str, model: Procedure) -> ProcedureFact | None:
        """The fact of a Procedure the record keeps (§1 v3: systemic anticancer therapy
        or radiotherapy, not entered in error or not done); None for any other, whose
        dates are then not read."""
        status = model.status.lower() if model.status else None
        codes = _codes(model.code)
        texts = (*_concept_texts(model.code), *_concept_texts(model.category))
        kind = procedure_kind((*codes, *_codes(model.category)), texts)
        if status in EXCLUDED_STATUSES or kind is None:
            return None
        dates = Dates()
        start = end = dates.read("performedDateTime", model.performedDateTime)
        end_partial = False
        if start is None and model.performedPeriod is not None:
            period = model.performedPeriod
            start = dates.read("performedPeriod.start", period.start)
            before = len(dates.partial)
            end = dates.read("performedPeriod.end", period.end, last=True)
            end_partial = len(dates.partial) > before
        self._note(ref, dates)
        if start is not None and end is not None and end < start:
            self.warnings.append(f"{ref}: period ends before it starts; read as its start day")
            end, end_partial = start, False
        return ProcedureFact(
            ref=ref,
            kind=kind,
            status=status,
            codes=codes,
            text=model.code.text if model.code is not None else None,
            start=start,
            end=end,
            estimated=bool(dates.partial),
            end_partial=end_partial,
            reason_refs=tuple(self._refs(model.reasonReference)),
            reason_codes=tuple(c for concept in model.reasonCode or [] for c in _codes(concept)),
        )


def _quantity(model: Observation | ObservationComponent) -> tuple[float | None, str | None]:
    """The numeric value of an Observation or a component, with its unit."""
    quantity = model.valueQuantity
    if quantity is not None and quantity.value is not None:
        return float(quantity.value), quantity.code or quantity.unit
    if model.valueInteger is not None:
        return float(model.valueInteger), None
    return None, None


@dataclass(slots=True)
class _PatientFacts:
    """The facts of one patient, gathered item by item."""

    fact: PatientFact | None
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    observations: list[ObservationFact] = field(default_factory=list)
    procedures: list[ProcedureFact] = field(default_factory=list)

    def add(self, builder: Builder, item: Item) -> None:
        if isinstance(item.model, Condition):
            self.conditions.append(builder.condition(item.ref, item.model))
        elif isinstance(item.model, Observation):
            self.observations.append(builder.observation(item.ref, item.model))
        elif isinstance(item.model, Procedure):
            procedure = builder.procedure(item.ref, item.model)
            if procedure is not None:
                self.procedures.append(procedure)
        elif is_medication_kind(item.kind):
            fact = builder.medication(item.ref, item.kind, item.raw, problem=item.problem)
            self.medications.append(fact)

    def record(self, warnings: Sequence[str]) -> Record:
        return Record(
            patient=self.fact,
            conditions=tuple(self.conditions),
            medications=tuple(self.medications),
            observations=tuple(self.observations),
            procedures=tuple(self.procedures),
            warnings=tuple(warnings),
        )


def _clinical(items: Iterable[Item]) -> Iterable[Item]:
    """The items that belong to a patient's record (not Patients, not Medications)."""
    return (i for i in items if i.kind not in ("Patient", "Medication"))


def record_of(parsed: Parsed, *, patient_id: str, warnings: Sequence[str]) -> Record:
    """The record of `Patient/<patient_id>` from what a read validated: a Patient with
    another id is not used; a resource naming another patient is dropped, and said."""
    builder = Builder.of(parsed)
    wanted = f"Patient/{patient_id}"
    owner = _PatientFacts(None)
    for item in parsed.items:
        if isinstance(item.model, Patient) and item.ref == wanted:
            owner.fact = builder.patient(item.ref, item.model)
    for item in _clinical(parsed.items):
        subject = builder.subject(item.raw)
        # Only a reference that resolves to another Patient is foreign; one that cannot
        # be resolved here (a urn:uuid of a bundle the prefetch split) is kept.
        if subject is not None and subject.startswith("Patient/") and subject != wanted:
            builder.warnings.append(f"{item.ref}: belongs to another patient; skipped")
            continue
        owner.add(builder, item)
    return owner.record([*warnings, *parsed.warnings])


def records_of(parsed: Parsed, *, warnings: Sequence[str]) -> list[Record]:
    """One record per Patient of what a read validated (one with no Patient if it has
    none), each clinical resource going to the Patient its `subject`/`patient` names;
    those naming no Patient of the input are counted in a warning."""
    builder = Builder.of(parsed)
    groups: dict[str, _PatientFacts] = {}
    for item in parsed.items:
        if isinstance(item.model, Patient):
            groups.setdefault(item.ref, _PatientFacts(builder.patient(item.ref, item.model)))
    loose = _PatientFacts(None)
    orphans: dict[str, int] = defaultdict(int)
    for item in _clinical(parsed.items):
        owner = loose if not groups else groups.get(builder.subject(item.raw) or "")
        if owner is None:
            orphans[item.kind] += 1
            continue
        owner.add(builder, item)
    shared = [*warnings, *parsed.warnings]
    shared.extend(
        f"{count} {kind} resources name no Patient of the input; skipped"
        for kind, count in sorted(orphans.items())
    )
    return [group.record(shared) for group in (list(groups.values()) or [loose])]
