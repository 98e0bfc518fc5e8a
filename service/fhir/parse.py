"""Validate raw FHIR R4 resources with `fhir.resources.R4B` and build engine records.

Only the resources the engine reads are validated (CLINICAL_RULES §1): of the types it
uses, the fast path (the default) first decides from the JSON which can change an
evaluation (`service.fhir.relevance`; of each measure's Observations, the latest usable
one at the evaluation date) and models those alone; `full_validation` models every
resource of those types, with the same evaluations (tests/perf/test_fast_path.py). A
resource that fails validation is skipped with a warning naming it and the failing
field, never its values. FHIR STU3 resources of these types (Synthea's older exports)
are upgraded to R4 field by field before validation, and a warning says so.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, TypeGuard

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation, ObservationComponent
from fhir.resources.R4B.patient import Patient
from pydantic import ValidationError

from service.engine import rules
from service.engine.observations import latest_observation
from service.engine.record import (
    Code,
    Component,
    ConditionFact,
    MedicationFact,
    MedicationKind,
    ObservationFact,
    PatientFact,
    Record,
)
from service.fhir.lenient import (
    canonical_ref,
    codes_of,
    json_list,
    plain_day,
    reference_of,
    string_of,
    subject_reference,
)
from service.fhir.load import RawResource
from service.fhir.medication import Drug, drug_of, medication_targets
from service.fhir.relevance import (
    MEASURES,
    UNCLEAR,
    condition_matters,
    drug_record_matters,
    effective_day,
    observation_measures,
)
from service.fhir.stu3 import looks_stu3, upgrade_stu3

__all__ = ["Fingerprint", "Selection", "build_record", "build_records", "canonical_ref", "select"]

MEDICATION_KINDS: tuple[MedicationKind, ...] = (
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
)
_Model = (
    Patient
    | Condition
    | Medication
    | Observation
    | MedicationStatement
    | MedicationRequest
    | MedicationAdministration
)
# The resource types the engine uses, each with the R4B model that validates it.
MODELS: dict[str, type[_Model]] = {
    "Patient": Patient,
    "Condition": Condition,
    "Medication": Medication,
    "Observation": Observation,
    "MedicationStatement": MedicationStatement,
    "MedicationRequest": MedicationRequest,
    "MedicationAdministration": MedicationAdministration,
}
USED_TYPES = frozenset(MODELS)
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
        *rules.WBC_LOINC,
        *rules.BILIRUBIN_LOINC,
        *rules.ALBUMIN_LOINC,
        *rules.BLOOD_PRESSURE_PANEL_LOINC,
        *rules.SYSTOLIC_LOINC,
        *rules.DIASTOLIC_LOINC,
    }
)
# A FHIR date or dateTime as the models hold it. fhir.resources annotates these fields as
# `date` / `datetime`, but keeps a partial date (`2019`, `2019-03`) as its string and a
# dateTime without a time as a `date`.
_FhirDate = date | str
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


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


def _day(value: _FhirDate | None) -> date | None:
    """A calendar day from a full FHIR date/dateTime; partial dates give None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def _partial(value: _FhirDate | None, *, last: bool) -> date | None:
    """§1: `YYYY` or `YYYY-MM` as its first day, or its last day when `last`."""
    hit = _PARTIAL.match(value) if isinstance(value, str) else None
    if hit is None:
        return None
    year = int(hit.group(1))
    if hit.group(2) is None:
        return date(year, 12, 31) if last else date(year, 1, 1)
    month = int(hit.group(2))
    if not 1 <= month <= 12:
        return None
    return date(year, month, calendar.monthrange(year, month)[1] if last else 1)


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


def _error_summary(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "resource"
    # one line: some of fhir.resources' messages span lines, indented
    message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    more = error.error_count() - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more > 0 else "")


def _observation_relevant(resource: dict[str, Any]) -> bool:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    if not isinstance(codings, list):
        return False
    for coding in codings:
        value = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(value, str) and value in OBSERVATION_LOINCS:
            return True
    return False


def _is_medication_kind(kind: str) -> TypeGuard[MedicationKind]:
    return kind in MEDICATION_KINDS


@dataclass(frozen=True, slots=True)
class _Item:
    """A resource the engine uses: its ref, its JSON and its validated model (None when
    it failed validation; only medication records are kept then, read for their drug)."""

    ref: str
    kind: str
    raw: dict[str, Any]
    model: _Model | None
    problem: str | None = None


@dataclass(slots=True)
class _Parsed:
    items: list[_Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    index: _Index = field(default_factory=_Index)
    stu3_upgraded: int = 0


class _Entry(NamedTuple):
    """A resource of a type the engine uses, with the ref the reader gives it."""

    ref: str
    kind: str
    raw: RawResource


def _entries(raw_resources: Iterable[RawResource]) -> tuple[list[_Entry], _Index]:
    """The resources of the types the engine uses (Observations: of its codes), each with
    its ref (`Type/id`, else its fullUrl, else `Type/#n`), and the reference index."""
    entries: list[_Entry] = []
    index = _Index()
    unnamed = 0
    for raw in raw_resources:
        resource = raw.resource
        kind = resource.get("resourceType")
        if kind.__class__ is not str or kind not in USED_TYPES:  # a list is not hashable
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
        index.add(ref, raw.full_url)
        entries.append(_Entry(ref, kind, raw))
    return entries, index


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One resource validated: its item, or the warning that it was skipped."""

    item: _Item | None
    warning: str | None
    stu3: bool


def _check(entry: _Entry) -> _Outcome:
    """Validate one resource with its fhir.resources model (STU3 upgraded first)."""
    kind, ref, resource = entry.kind, entry.ref, entry.raw.resource
    stu3 = False
    try:
        if looks_stu3(resource):
            resource = upgrade_stu3(resource)
            stu3 = True
        model = MODELS[kind].model_validate(resource)
    except Exception as error:  # noqa: BLE001
        # fhir.resources raises more than ValidationError on some malformed input
        # (KeyError, TypeError: found by tests/fhir/test_hostile_fhir.py); whatever
        # fails here is this resource's fault, never the whole request's.
        problem = (
            _error_summary(error)
            if isinstance(error, ValidationError)
            else f"not a valid {kind} ({error.__class__.__name__})"
        )
        if kind in MEDICATION_KINDS:
            # Read as far as is safe: the engine still learns which drug it names,
            # and says what it could not read.
            return _Outcome(_Item(ref, kind, entry.raw.resource, None, problem), None, stu3)
        return _Outcome(None, f"{ref}: {problem}; skipped", stu3)
    return _Outcome(_Item(ref, kind, resource, model), None, stu3)


class _Dates:
    """Reads the dates of one resource, noting the partial ones for its warning."""

    def __init__(self) -> None:
        self.partial: list[str] = []

    def read(self, name: str, value: _FhirDate | None, *, last: bool = False) -> date | None:
        day = _day(value)
        if day is None and value is not None:
            day = _partial(value, last=last)
            if day is not None:
                self.partial.append(f"{name} '{value}'")
        return day

    def warning(self, ref: str) -> str | None:
        if not self.partial:
            return None
        return f"{ref}: partial date {', '.join(self.partial)} (estimated)"


class _Builder:
    """Turns validated models into engine facts, resolving references."""

    def __init__(
        self, index: _Index, warnings: list[str], medications: dict[str, dict[str, Any]]
    ) -> None:
        self.index = index
        self.warnings = warnings
        self.medications = medications

    @classmethod
    def of(cls, parsed: _Parsed) -> _Builder:
        """The builder of a read: its index, its warnings and its valid Medications."""
        medications = {item.ref: item.raw for item in parsed.items if item.kind == "Medication"}
        return cls(parsed.index, parsed.warnings, medications)

    def _note(self, ref: str, dates: _Dates) -> None:
        warning = dates.warning(ref)
        if warning:
            self.warnings.append(warning)

    def subject(self, raw: dict[str, Any]) -> str | None:
        """Whom the resource is about (`subject`, else `patient`), resolved."""
        return self.index.resolve(subject_reference(raw))

    def patient(self, ref: str, model: Patient) -> PatientFact:
        dates = _Dates()
        birth = dates.read("birthDate", model.birthDate)
        latest = _partial(model.birthDate, last=True) if dates.partial else None
        self._note(ref, dates)
        deceased = bool(model.deceasedBoolean) or model.deceasedDateTime is not None
        return PatientFact(ref=ref, birth_date=birth, deceased=deceased, birth_latest=latest)

    def condition(self, ref: str, model: Condition) -> ConditionFact:
        codes = list(_codes(model.code))
        for extension in model.extension or []:  # mCODE histology morphology behaviour
            codes.extend(_codes(extension.valueCodeableConcept))
        stage_codes: list[Code] = []
        stage_texts: list[str] = []
        for stage in model.stage or []:
            stage_codes.extend(_codes(stage.summary))
            stage_texts.extend(_concept_texts(stage.summary))
        dates = _Dates()
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
        )

    def _resolve_medication(self, reference: str) -> dict[str, Any] | None:
        return self.medications.get(self.index.resolve(reference) or "")

    def _when(self, kind: MedicationKind, raw: dict[str, Any], dates: _Dates) -> _Span:
        """§1 dates of an exposure, from the JSON of a validated resource."""
        if kind == "MedicationRequest":
            validity = (raw.get("dispenseRequest") or {}).get("validityPeriod") or {}
            if validity.get("start") is not None:
                return _span(dates, "dispenseRequest.validityPeriod", validity)
            if raw.get("authoredOn") is not None:
                day = dates.read("authoredOn", _model_day(raw["authoredOn"]))
                return _Span(day, day, problem=None if day else "authoredOn is not a date")
            return _Span(None, None, problem=None)
        if raw.get("effectiveDateTime") is not None:
            day = dates.read("effectiveDateTime", _model_day(raw["effectiveDateTime"]))
            return _Span(day, day, problem=None if day else "effectiveDateTime is not a date")
        period = raw.get("effectivePeriod")
        if isinstance(period, dict):
            span = _span(dates, "effectivePeriod", period)
            return _Span(
                span.start,
                span.end,
                problem=span.problem,
                end_partial=span.end_partial,
                open_ended=kind == "MedicationStatement" and period.get("end") is None,
            )
        return _Span(None, None, problem=None)

    def medication(
        self, ref: str, kind: MedicationKind, raw: dict[str, Any], *, problem: str | None
    ) -> MedicationFact:
        """The fact of a drug record; `problem` says why it failed validation (its dates
        are then not read)."""
        drug = drug_of(raw, self._resolve_medication)
        dates = _Dates()
        unread = _Span(None, None, problem=None)
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
        status, intent = _status_of(raw), string_of(raw.get("intent"))
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
        dates = _Dates()
        effective = dates.read("effectiveDateTime", model.effectiveDateTime) or _day(
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
            components=components,
            effective_estimated=bool(dates.partial),
        )


def _quantity(model: Observation | ObservationComponent) -> tuple[float | None, str | None]:
    """The numeric value of an Observation or a component, with its unit."""
    quantity = model.valueQuantity
    if quantity is not None and quantity.value is not None:
        return float(quantity.value), quantity.code or quantity.unit
    if model.valueInteger is not None:
        return float(model.valueInteger), None
    return None, None


def _status_of(raw: dict[str, Any]) -> str | None:
    """A drug record's status as the engine compares it (lower case), if it has one."""
    status = string_of(raw.get("status"))
    return status.lower() if status is not None else None


def _model_day(value: str | None) -> _FhirDate | None:
    """A JSON date string as the models read it: full dates become `date`s."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


@dataclass(frozen=True, slots=True)
class _Span:
    start: date | None
    end: date | None
    problem: str | None
    end_partial: bool = False
    open_ended: bool = False


def _span(dates: _Dates, name: str, period: dict[str, Any]) -> _Span:
    """A Period's days: start, end (else the start day), partial ones read by §1."""
    raw_start, raw_end = period.get("start"), period.get("end")
    start = dates.read(f"{name}.start", _model_day(raw_start))
    if start is None:
        problem = f"{name}.start is not a date" if raw_start is not None else f"{name} has no start"
        return _Span(None, None, problem=problem)
    if raw_end is None:
        return _Span(start, start, problem=None)
    before = len(dates.partial)
    end = dates.read(f"{name}.end", _model_day(raw_end), last=True)
    if end is None:
        return _Span(None, None, problem=f"{name}.end is not a date")
    return _Span(start, end, problem=None, end_partial=len(dates.partial) > before)


@dataclass(slots=True)
class _Patient:
    fact: PatientFact | None
    conditions: list[ConditionFact] = field(default_factory=list)
    medications: list[MedicationFact] = field(default_factory=list)
    observations: list[ObservationFact] = field(default_factory=list)

    def add(self, builder: _Builder, item: _Item) -> None:
        if isinstance(item.model, Condition):
            self.conditions.append(builder.condition(item.ref, item.model))
        elif isinstance(item.model, Observation):
            self.observations.append(builder.observation(item.ref, item.model))
        elif _is_medication_kind(item.kind):
            fact = builder.medication(item.ref, item.kind, item.raw, problem=item.problem)
            self.medications.append(fact)

    def record(self, warnings: Sequence[str]) -> Record:
        return Record(
            patient=self.fact,
            conditions=tuple(self.conditions),
            medications=tuple(self.medications),
            observations=tuple(self.observations),
            warnings=tuple(warnings),
        )


def _clinical(items: Iterable[_Item]) -> Iterable[_Item]:
    return (i for i in items if i.kind not in ("Patient", "Medication"))


# --- the fast path: read only what the engine can use ------------------------------------

# Who a resource belongs to, for the fast path: an owner key, or None for a resource the
# reader drops or counts (another patient's, no Patient's of a population): such
# resources are always validated, so that what is said about them stays the same.
_OwnerOf = Callable[[_Entry], "str | None"]
# A kept resource as a cached reading compares it: ref, kind, fullUrl, JSON, and what
# its references resolve to.
_View = tuple[str, str, str | None, dict[str, Any], tuple[str | None, ...]]
_ListKey = tuple[str, str]  # (owner, measure name)
_MEASURE_NAMED = {measure.name: measure for measure in MEASURES}


def _subject(resource: dict[str, Any], index: _Index) -> str | None:
    return index.resolve(subject_reference(resource))


def _references(resource: dict[str, Any]) -> list[str]:
    """Every reference string the builder resolves for this resource."""
    named = (resource.get(n) for n in ("subject", "patient", "medicationReference"))
    found = [r for r in map(reference_of, named) if r is not None]
    found.extend(medication_targets(resource))
    reasons = map(reference_of, json_list(resource.get("reasonReference")))
    found.extend(r for r in reasons if r is not None)
    return found


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the fast path reads: `always` (positions), and for each (owner, measure) its
    dated Observations latest first, of which only those up to the first usable one."""

    always: frozenset[int]
    lists: dict[_ListKey, tuple[int, ...]]
    days: dict[int, date]


def _plan(
    entries: Sequence[_Entry], index: _Index, owner_of: _OwnerOf, today: date | None
) -> _Plan:
    """Decide from the JSON alone which resources can matter (see `service.fhir.relevance`)."""
    always: set[int] = set()
    targets = {
        index.resolve(target)
        for entry in entries
        if entry.kind in MEDICATION_KINDS
        for target in medication_targets(entry.raw.resource)
    }
    candidates: dict[_ListKey, list[tuple[date, str, int]]] = defaultdict(list)
    days: dict[int, date] = {}
    for position, entry in enumerate(entries):
        resource, kind = entry.raw.resource, entry.kind
        if kind == "Patient" or (kind == "Medication" and entry.ref in targets):
            always.add(position)
            continue
        if kind == "Medication":
            continue  # no drug record names it: nothing reads it
        owner = owner_of(entry)
        if owner is None or looks_stu3(resource):
            always.add(position)
        elif kind == "Condition":
            if condition_matters(resource):
                always.add(position)
        elif _is_medication_kind(kind):
            if medication_targets(resource) or _medication_matters(entry, kind):
                always.add(position)
        elif today is None or (held := observation_measures(resource)) is None:
            always.add(position)  # every disease status is read (§6.1)
        else:
            day = effective_day(resource)
            if day is UNCLEAR:
                always.add(position)  # partial or odd dates: read (and warned about)
            elif isinstance(day, date) and day <= today:
                days[position] = day
                for measure in held:
                    candidates[(owner, measure.name)].append((day, entry.ref, position))
            # no date, after `today` or no measure: the engine never uses it (§10)
    # Latest first, as the engine's max() takes them: by day, then ref, and among equals
    # (a resource sent twice) the first in the input.
    lists = {
        key: tuple(p for *_, p in sorted(found, key=lambda c: (c[0], c[1], -c[2]), reverse=True))
        for key, found in candidates.items()
    }
    return _Plan(frozenset(always), lists, days)


def _plain_period(period: dict[str, Any]) -> bool:
    """A Period the builder reads without a word: no start, or plain dates in order."""
    start, end = period.get("start"), period.get("end")
    if start is None:
        return True
    first = plain_day(start)
    if first is None:
        return False
    if end is None:
        return True
    last = plain_day(end)
    return last is not None and last >= first


def _plain_exposure(kind: MedicationKind, resource: dict[str, Any]) -> bool:
    """Whether `_Builder._when` reads this record's dates without a warning (no partial
    date, no period ending before it starts); False for anything not plainly shaped."""
    if kind == "MedicationRequest":
        dispense = resource.get("dispenseRequest")
        if dispense is not None and not isinstance(dispense, dict):
            return False
        validity = (dispense or {}).get("validityPeriod")
        if validity is not None and not isinstance(validity, dict):
            return False
        if validity and validity.get("start") is not None:
            return _plain_period(validity)
        authored = resource.get("authoredOn")
        return authored is None or plain_day(authored) is not None
    if resource.get("effectiveDateTime") is not None:
        return plain_day(resource["effectiveDateTime"]) is not None
    period = resource.get("effectivePeriod")
    return _plain_period(period) if isinstance(period, dict) else True


def _no_medication(reference: str) -> None:
    """Resolves nothing: records naming a Medication elsewhere are always read."""
    del reference


def _medication_matters(entry: _Entry, kind: MedicationKind) -> bool:
    """Whether the engine reads this drug record, from its JSON read as if valid: its
    dates would say something, or its drug and status are not ones the engine passes
    over (`service.fhir.relevance.drug_record_matters`)."""
    resource = entry.raw.resource
    if not _plain_exposure(kind, resource):
        return True
    drug = _drug(resource)
    return drug_record_matters(
        kind,
        _status_of(resource),
        intent=string_of(resource.get("intent")),
        do_not_perform=resource.get("doNotPerform") is True,
        codes=drug.codes,
        texts=drug.texts,
    )


# Charts name the same few drugs again and again: each concept is read once (per process,
# up to this many concepts).
_DRUGS: dict[Hashable, Drug] = {}
_DRUGS_KEPT = 4096


def _drug(resource: dict[str, Any]) -> Drug:
    """`drug_of(resource)` (no Medication resolved), read once per distinct concept."""
    concept = resource.get("medicationCodeableConcept")
    key: Hashable | None = None
    if isinstance(concept, dict) and concept:
        coding = concept.get("coding")
        if coding is None or isinstance(coding, list):
            key = (
                tuple(
                    (c.get("system"), c.get("code"), c.get("display")) if isinstance(c, dict) else c
                    for c in coding or ()
                ),
                concept.get("text"),
            )
    try:
        found = _DRUGS.get(key) if key is not None else None
    except TypeError:  # a value that is not a string: no key, read it
        key = found = None
    if found is None:
        found = drug_of(resource, _no_medication)
        if key is not None:
            if len(_DRUGS) >= _DRUGS_KEPT:
                _DRUGS.clear()
            _DRUGS[key] = found
    return found


class _Reader:
    """Validates the resources a read needs, each at most once."""

    def __init__(self, entries: Sequence[_Entry], index: _Index) -> None:
        self.entries = entries
        self.index = index
        self.outcomes: dict[int, _Outcome] = {}

    def outcome(self, position: int) -> _Outcome:
        found = self.outcomes.get(position)
        if found is None:
            found = self.outcomes[position] = _check(self.entries[position])
        return found

    def parsed(self, positions: Iterable[int]) -> _Parsed:
        """The validated items and warnings of these resources, in input order."""
        parsed = _Parsed(index=self.index)
        for position in sorted(positions):
            outcome = self.outcome(position)
            parsed.stu3_upgraded += outcome.stu3
            if outcome.item is not None:
                parsed.items.append(outcome.item)
            elif outcome.warning is not None:
                parsed.warnings.append(outcome.warning)
        if parsed.stu3_upgraded:
            parsed.warnings.append(
                f"read {parsed.stu3_upgraded} FHIR STU3 resources by upgrading them to R4"
            )
        return parsed

    def view(self, position: int) -> _View:
        entry = self.entries[position]
        resource = entry.raw.resource
        resolved = tuple(self.index.resolve(r) for r in _references(resource))
        return (entry.ref, entry.kind, entry.raw.full_url, resource, resolved)


def _cut(reader: _Reader, plan: _Plan, key: _ListKey, today: date) -> tuple[int, bool]:
    """How many of a measure's Observations (latest first) are read: up to the first
    valid one the engine can use; all (True) when none is, or a date reads otherwise."""
    measure = _MEASURE_NAMED[key[1]]
    scratch = _Builder(reader.index, [], {})
    positions = plan.lists[key]
    for number, position in enumerate(positions):
        item = reader.outcome(position).item
        if item is None or not isinstance(item.model, Observation):
            continue
        fact = scratch.observation(item.ref, item.model)
        if fact.effective != plan.days[position]:
            break  # not read as planned: read them all
        if latest_observation([fact], measure, today=today) is not None:
            return number + 1, False
    return len(positions), True


# The reading a cache compares: the kept resources in order, and per measure the
# Observations read (latest first) with whether that was all of them.
Fingerprint = tuple[tuple[_View, ...], dict[_ListKey, tuple[bool, tuple[_View, ...]]]]


class Selection:
    """One patient's resources as the reader plans to read them (`select`)."""

    def __init__(
        self,
        resources: Iterable[RawResource],
        *,
        patient_id: str,
        today: date | None,
        full_validation: bool,
    ) -> None:
        entries, index = _entries(resources)
        self.patient_id = patient_id
        self.today = today
        self._reader = _Reader(entries, index)
        wanted = f"Patient/{patient_id}"

        def owner_of(entry: _Entry) -> str | None:
            subject = _subject(entry.raw.resource, index)
            foreign = subject is not None and subject.startswith("Patient/") and subject != wanted
            return None if foreign else wanted

        if full_validation:
            self._plan = _Plan(frozenset(range(len(entries))), {}, {})
        else:
            self._plan = _plan(entries, index, owner_of, today)
        self._cuts: dict[_ListKey, tuple[int, bool]] | None = None

    def _kept(self, cuts: Mapping[_ListKey, tuple[int, bool]]) -> list[int]:
        kept = set(self._plan.always)
        for key, (count, _) in cuts.items():
            kept.update(self._plan.lists[key][:count])
        return sorted(kept)

    def record(self, warnings: Sequence[str] = ()) -> Record:
        """The record of `Patient/<patient_id>` (see `build_record`)."""
        if self._cuts is None:
            today = self.today or date.max
            plan = self._plan
            self._cuts = {key: _cut(self._reader, plan, key, today) for key in plan.lists}
        parsed = self._reader.parsed(self._kept(self._cuts))
        return _record_of(parsed, patient_id=self.patient_id, warnings=warnings)

    def fingerprint(self) -> Fingerprint:
        """What this reading read, to compare another with (after `record`)."""
        if self._cuts is None:
            raise RuntimeError("fingerprint() before record()")
        view = self._reader.view
        lists = {
            key: (everything, tuple(view(p) for p in self._plan.lists[key][:count]))
            for key, (count, everything) in self._cuts.items()
        }
        return tuple(view(p) for p in self._kept(self._cuts)), lists

    def unread(self) -> list[RawResource]:
        """The resources of the types the engine uses that `record` left unvalidated."""
        if self._cuts is None:
            raise RuntimeError("unread() before record()")
        read = self._reader.outcomes
        return [e.raw for p, e in enumerate(self._reader.entries) if p not in read]

    def reads_as(self, fingerprint: Fingerprint) -> bool:
        """True when this reading would read exactly what `fingerprint` records, value for
        value (so its record is that reading's): checked without validating anything."""
        kept, lists = fingerprint
        if lists.keys() != self._plan.lists.keys():
            return False
        view = self._reader.view
        cuts: dict[_ListKey, tuple[int, bool]] = {}
        for key, (everything, read) in lists.items():
            positions = self._plan.lists[key]
            if len(positions) < len(read) or (everything and len(positions) != len(read)):
                return False
            if tuple(view(p) for p in positions[: len(read)]) != read:
                return False
            cuts[key] = (len(read), everything)
        if tuple(view(p) for p in self._kept(cuts)) != kept:
            return False
        return True


def select(
    raw_resources: Iterable[RawResource],
    *,
    patient_id: str,
    today: date | None = None,
    full_validation: bool = False,
) -> Selection:
    """Plan the reading of `Patient/<patient_id>`'s record (see `build_record`)."""
    return Selection(
        raw_resources, patient_id=patient_id, today=today, full_validation=full_validation
    )


def _record_of(parsed: _Parsed, *, patient_id: str, warnings: Sequence[str]) -> Record:
    builder = _Builder.of(parsed)
    wanted = f"Patient/{patient_id}"
    owner = _Patient(None)
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


def build_record(
    raw_resources: Iterable[RawResource],
    *,
    patient_id: str,
    warnings: Sequence[str] = (),
    today: date | None = None,
    full_validation: bool = False,
) -> Record:
    """The record of `Patient/<patient_id>` alone (CLINICAL_RULES §1, the evaluated patient).

    A Patient resource with another id is never used in its place (the record then has
    no Patient); a resource whose `subject`/`patient` names another patient is dropped
    with a warning that does not repeat the other patient's id; one naming no patient
    belongs to the evaluated patient.

    Only the resources the engine can read are validated (`service.fhir.relevance`);
    with `today`, of each measure's Observations only the latest the engine can use at
    that date (older ones are then not in the record). The evaluation is the same as
    with `full_validation`, which validates every resource of the types the engine uses;
    only a resource the engine never reads is then no longer named when it is invalid.
    """
    selection = select(
        raw_resources, patient_id=patient_id, today=today, full_validation=full_validation
    )
    return selection.record(warnings)


def build_records(
    raw_resources: Iterable[RawResource],
    *,
    warnings: Sequence[str] = (),
    today: date | None = None,
    full_validation: bool = False,
) -> list[Record]:
    """One `Record` per Patient in the resources (one record with no Patient if none).

    For an input that is a population (several Patients, none chosen): each clinical
    resource goes to the Patient its `subject`/`patient` names; with a single Patient,
    `build_record` rules apply (resources naming another patient are dropped).
    `today` and `full_validation` as for `build_record`.
    """
    resources = list(raw_resources)
    entries, index = _entries(resources)
    reader = _Reader(entries, index)
    patients: list[tuple[str, Patient]] = []
    for position, entry in enumerate(entries):
        item = reader.outcome(position).item if entry.kind == "Patient" else None
        if item is not None and isinstance(item.model, Patient):
            patients.append((item.ref, item.model))
    if len(patients) == 1:
        ident = patients[0][0].partition("/")[2]
        return [
            build_record(
                resources,
                patient_id=ident,
                warnings=warnings,
                today=today,
                full_validation=full_validation,
            )
        ]
    refs = {ref for ref, _ in patients}

    def owner_of(entry: _Entry) -> str | None:
        if not refs:
            return ""
        subject = _subject(entry.raw.resource, index)
        return subject if subject in refs else None

    if full_validation:
        plan = _Plan(frozenset(range(len(entries))), {}, {})
    else:
        plan = _plan(entries, index, owner_of, today)
    cuts = {key: _cut(reader, plan, key, today or date.max) for key in plan.lists}
    kept = set(plan.always)
    for key, (count, _) in cuts.items():
        kept.update(plan.lists[key][:count])
    parsed = reader.parsed(kept)
    builder = _Builder.of(parsed)
    groups: dict[str, _Patient] = {}
    for ref, model in patients:
        groups.setdefault(ref, _Patient(builder.patient(ref, model)))
    loose = _Patient(None)
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
