"""Validate raw FHIR R4 resources with `fhir.resources.R4B` and build engine records.

Only the resource types the engine uses are validated (CLINICAL_RULES §1); a resource
that fails validation is skipped with a warning naming it and the failing field, never
its values. FHIR STU3 resources of these types (Synthea's older exports) are upgraded
to R4 field by field before validation, and a warning says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from service.engine import rules
from service.engine.record import (
    Code,
    ConditionFact,
    MedicationFact,
    MedicationKind,
    ObservationFact,
    PatientFact,
    Record,
)
from service.fhir.load import RawResource
from service.fhir.stu3 import looks_stu3, upgrade_stu3

__all__ = ["build_records", "canonical_ref"]

MEDICATION_KINDS: tuple[MedicationKind, ...] = (
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
)
USED_TYPES = frozenset({"Patient", "Condition", "Medication", "Observation", *MEDICATION_KINDS})
# Observations the engine reads (§6.1 disease status, §10 ECOG and labs).
OBSERVATION_LOINCS = frozenset(
    {
        rules.DISEASE_STATUS_LOINC,
        rules.ECOG_LOINC,
        *rules.ANC_LOINC,
        *rules.PLATELETS_LOINC,
        *rules.HEMOGLOBIN_LOINC,
        *rules.CREATININE_LOINC,
        *rules.EGFR_LOINC,
        *rules.INR_LOINC,
    }
)
_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def canonical_ref(reference: str) -> str | None:
    """`Type/id` of a relative or absolute literal reference, else None."""
    hit = _REFERENCE.search(reference)
    return f"{hit.group(1)}/{hit.group(2)}" if hit else None


@dataclass(slots=True)
class _Index:
    """Resolves references: fullUrls (urn:uuid too), relative and absolute literals."""

    by_reference: dict[str, str] = field(default_factory=dict)

    def add(self, ref: str, full_url: str | None) -> None:
        self.by_reference.setdefault(ref, ref)
        if full_url:
            self.by_reference[full_url] = ref

    def resolve(self, reference: str | None) -> str | None:
        if not reference:
            return None
        return self.by_reference.get(reference) or canonical_ref(reference) or reference


def _day(value: Any) -> date | None:
    """A calendar day from a FHIR date/dateTime; partial dates give None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _codes(concept: Any) -> tuple[Code, ...]:
    if concept is None:
        return ()
    return tuple(
        Code(system=c.system or "", code=c.code or "", display=c.display)
        for c in (concept.coding or [])
        if c.code
    )


def _concept_texts(concept: Any) -> tuple[str, ...]:
    return (concept.text,) if concept is not None and concept.text else ()


def _status_code(concept: Any) -> str | None:
    for code in _codes(concept):
        return code.code.lower()
    return None


def _error_summary(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "resource"
    message = first["msg"].removeprefix("Value error, ")
    more = error.error_count() - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more > 0 else "")


def _observation_relevant(resource: dict[str, Any]) -> bool:
    codings = (resource.get("code") or {}).get("coding") or []
    return any(isinstance(c, dict) and c.get("code") in OBSERVATION_LOINCS for c in codings)


@dataclass(slots=True)
class _Parsed:
    models: list[tuple[str, Any]] = field(default_factory=list)  # (ref, model)
    warnings: list[str] = field(default_factory=list)
    index: _Index = field(default_factory=_Index)
    stu3_upgraded: int = 0


def _validate(raw_resources: Sequence[RawResource]) -> _Parsed:
    parsed = _Parsed()
    unnamed = 0
    for raw in raw_resources:
        resource = raw.resource
        kind = resource.get("resourceType")
        if kind not in USED_TYPES:
            continue
        if kind == "Observation" and not _observation_relevant(resource):
            continue
        ident = resource.get("id")
        if isinstance(ident, str) and ident:
            ref = f"{kind}/{ident}"
        elif raw.full_url:
            ref = raw.full_url
        else:
            unnamed += 1
            ref = f"{kind}/#{unnamed}"
        parsed.index.add(ref, raw.full_url)
        if looks_stu3(resource):
            resource = upgrade_stu3(resource)
            parsed.stu3_upgraded += 1
        try:
            model = get_fhir_model_class(kind).model_validate(resource)
        except ValidationError as error:
            parsed.warnings.append(f"{ref}: {_error_summary(error)}; skipped")
            continue
        parsed.models.append((ref, model))
    if parsed.stu3_upgraded:
        parsed.warnings.append(
            f"read {parsed.stu3_upgraded} FHIR STU3 resources by upgrading them to R4"
        )
    return parsed


class _Builder:
    """Turns validated models into engine facts, resolving references."""

    def __init__(self, parsed: _Parsed) -> None:
        self.index = parsed.index
        self.warnings = parsed.warnings
        self.medications: dict[str, Any] = {
            ref: model for ref, model in parsed.models if model.get_resource_type() == "Medication"
        }

    def subject(self, model: Any) -> str | None:
        for name in ("subject", "patient"):
            reference = getattr(model, name, None)
            if reference is not None and reference.reference:
                return self.index.resolve(reference.reference)
        return None

    def patient(self, ref: str, model: Any) -> PatientFact:
        birth = _day(model.birthDate)
        if model.birthDate is not None and birth is None:
            self.warnings.append(f"{ref}: birthDate is not a full date; age unknown")
        deceased = bool(model.deceasedBoolean) or model.deceasedDateTime is not None
        return PatientFact(ref=ref, birth_date=birth, deceased=deceased)

    def condition(self, ref: str, model: Any) -> ConditionFact:
        codes = list(_codes(model.code))
        for extension in model.extension or []:  # mCODE histology morphology behaviour
            codes.extend(_codes(extension.valueCodeableConcept))
        stage_codes: list[Code] = []
        stage_texts: list[str] = []
        for stage in model.stage or []:
            stage_codes.extend(_codes(stage.summary))
            stage_texts.extend(_concept_texts(stage.summary))
        onset = _day(model.onsetDateTime)
        if onset is None and model.onsetPeriod is not None:
            onset = _day(model.onsetPeriod.start)
        body_sites = [c for site in model.bodySite or [] for c in _codes(site)]
        return ConditionFact(
            ref=ref,
            codes=tuple(codes),
            text=model.code.text if model.code is not None else None,
            clinical_status=_status_code(model.clinicalStatus),
            verification_status=_status_code(model.verificationStatus),
            onset=onset,
            recorded=_day(model.recordedDate),
            stage_codes=tuple(stage_codes),
            stage_text="; ".join(stage_texts) or None,
            body_site_codes=tuple(body_sites),
        )

    def _drug(self, ref: str, model: Any) -> tuple[tuple[Code, ...], tuple[str, ...]]:
        concept = model.medicationCodeableConcept
        if concept is not None:
            return _codes(concept), _concept_texts(concept)
        reference = model.medicationReference
        if reference is None:
            return (), ()
        target = reference.reference or ""
        medication = None
        if target.startswith("#"):
            medication = next(
                (c for c in model.contained or [] if getattr(c, "id", None) == target[1:]), None
            )
        elif target:
            medication = self.medications.get(self.index.resolve(target) or "")
        if medication is None:
            if reference.display:
                return (), (reference.display,)
            self.warnings.append(f"{ref}: medicationReference not found in the record; skipped")
            return (), ()
        texts = _concept_texts(medication.code) + (
            (reference.display,) if reference.display else ()
        )
        return _codes(medication.code), texts

    def medication(self, ref: str, kind: MedicationKind, model: Any) -> MedicationFact:
        codes, texts = self._drug(ref, model)
        start: date | None = None
        end: date | None = None
        problem: str | None = None
        open_ended = False
        if kind == "MedicationRequest":
            validity = model.dispenseRequest.validityPeriod if model.dispenseRequest else None
            if validity is not None and validity.start is not None:
                start, end = _day(validity.start), _day(validity.end) or _day(validity.start)
                problem = (
                    None if start else "dispenseRequest.validityPeriod.start is not a full date"
                )
            elif model.authoredOn is not None:
                start = end = _day(model.authoredOn)
                problem = None if start else "authoredOn is not a full date"
        else:
            period = model.effectivePeriod
            if model.effectiveDateTime is not None:
                start = end = _day(model.effectiveDateTime)
                problem = None if start else "effectiveDateTime is not a full date"
            elif period is not None:
                start = _day(period.start)
                end = _day(period.end) or start
                if start is None:
                    problem = (
                        "effectivePeriod.start is not a full date"
                        if period.start is not None
                        else "effectivePeriod has no start"
                    )
                elif period.end is not None and _day(period.end) is None:
                    problem, start, end = "effectivePeriod.end is not a full date", None, None
                open_ended = kind == "MedicationStatement" and period.end is None
        if start is not None and end is not None and end < start:
            self.warnings.append(f"{ref}: period ends before it starts; read as its start day")
            end = start
        reasons = [r.reference for r in (model.reasonReference or []) if r.reference]
        reason_codes = [c for concept in model.reasonCode or [] for c in _codes(concept)]
        status = model.status.lower() if isinstance(model.status, str) else None
        return MedicationFact(
            ref=ref,
            kind=kind,
            status=status,
            codes=codes,
            texts=texts,
            start=start,
            end=end,
            intent=getattr(model, "intent", None),
            do_not_perform=bool(getattr(model, "doNotPerform", False)),
            open_ended=open_ended and status == "active",
            reason_refs=tuple(self.index.resolve(r) or r for r in reasons),
            reason_codes=tuple(reason_codes),
            date_problem=problem if start is None else None,
        )

    def observation(self, ref: str, model: Any) -> ObservationFact:
        effective = _day(model.effectiveDateTime) or _day(model.effectiveInstant)
        if effective is None and model.effectivePeriod is not None:
            effective = _day(model.effectivePeriod.start)
        number: float | None = None
        unit: str | None = None
        if model.valueQuantity is not None and model.valueQuantity.value is not None:
            number = float(model.valueQuantity.value)
            unit = model.valueQuantity.code or model.valueQuantity.unit
        elif model.valueInteger is not None:
            number = float(model.valueInteger)
        high: float | None = None
        high_unit: str | None = None
        for reference_range in model.referenceRange or []:
            if reference_range.high is not None and reference_range.high.value is not None:
                high = float(reference_range.high.value)
                high_unit = reference_range.high.code or reference_range.high.unit
                break
        return ObservationFact(
            ref=ref,
            codes=_codes(model.code),
            status=model.status,
            effective=effective,
            value_number=number,
            value_unit=unit,
            value_codes=_codes(model.valueCodeableConcept),
            reference_high=high,
            reference_high_unit=high_unit,
        )


@dataclass(slots=True)
class _Patient:
    fact: PatientFact | None
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    observations: list[ObservationFact] = field(default_factory=list)


def build_records(
    raw_resources: Iterable[RawResource], *, warnings: Sequence[str] = ()
) -> list[Record]:
    """One `Record` per Patient in the resources (one record with no Patient if none).

    With a single Patient every clinical resource belongs to it; with several, each goes
    to the Patient its `subject`/`patient` reference names.
    """
    parsed = _validate(list(raw_resources))
    builder = _Builder(parsed)
    patients: dict[str, _Patient] = {}
    for ref, model in parsed.models:
        if model.get_resource_type() == "Patient":
            patients.setdefault(ref, _Patient(builder.patient(ref, model)))
    single = next(iter(patients.values())) if len(patients) == 1 else None
    loose = _Patient(None)
    orphans: dict[str, int] = defaultdict(int)
    for ref, model in parsed.models:
        kind = model.get_resource_type()
        if kind in ("Patient", "Medication"):
            continue
        owner = single or (loose if not patients else patients.get(builder.subject(model) or ""))
        if owner is None:
            orphans[kind] += 1
            continue
        if kind == "Condition":
            owner.conditions.append(builder.condition(ref, model))
        elif kind == "Observation":
            owner.observations.append(builder.observation(ref, model))
        else:
            owner.medications.append(builder.medication(ref, kind, model))
    shared = [*warnings, *parsed.warnings]
    shared.extend(
        f"{count} {kind} resources name no Patient of the input; skipped"
        for kind, count in sorted(orphans.items())
    )
    groups = list(patients.values()) or [loose]
    return [
        Record(
            patient=group.fact,
            conditions=tuple(group.conditions),
            medications=tuple(group.medications),
            observations=tuple(group.observations),
            warnings=tuple(shared),
        )
        for group in groups
    ]
