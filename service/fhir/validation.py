"""The resources the engine reads, and their validation with `fhir.resources.R4B`.

Of the input, only the resource types the engine uses are entries of a read (and of
Observations, only those of its codes), each named by its ref (`Type/id`, else its
fullUrl, else `Type/#n`) in a reference index. `Validator` validates the entries a read
needs, each at most once: a resource that fails validation is skipped with a warning
naming it and the failing field, never its values (a drug record is kept, read for its
drug alone). FHIR STU3 resources of these types (Synthea's older exports) are upgraded
to R4 field by field before validation, and a warning says so.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeGuard

from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.medication import Medication
from fhir.resources.R4B.medicationadministration import MedicationAdministration
from fhir.resources.R4B.medicationrequest import MedicationRequest
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.procedure import Procedure
from pydantic import ValidationError

from service.engine import rules
from service.engine.record import MedicationKind
from service.fhir.lenient import canonical_ref
from service.fhir.load import RawResource
from service.fhir.stu3 import looks_stu3, upgrade_stu3

__all__ = [
    "MEDICATION_KINDS",
    "MODELS",
    "OBSERVATION_CODES",
    "OBSERVATION_LOINCS",
    "USED_TYPES",
    "Entry",
    "Index",
    "Item",
    "Model",
    "Parsed",
    "Validator",
    "entries_of",
    "is_medication_kind",
]

MEDICATION_KINDS: tuple[MedicationKind, ...] = (
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
)
Model = (
    Patient
    | Condition
    | Medication
    | Observation
    | MedicationStatement
    | MedicationRequest
    | MedicationAdministration
    | Procedure
)
# The resource types the engine uses, each with the R4B model that validates it.
MODELS: dict[str, type[Model]] = {
    "Patient": Patient,
    "Condition": Condition,
    "Medication": Medication,
    "Observation": Observation,
    "MedicationStatement": MedicationStatement,
    "MedicationRequest": MedicationRequest,
    "MedicationAdministration": MedicationAdministration,
    "Procedure": Procedure,
}
USED_TYPES = frozenset(MODELS)
# Observations the engine reads (§6.1 disease status, §10 ECOG and labs, §2 v3 TNM stage).
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
        *rules.STAGE_GROUP_LOINC,
        *rules.M_CATEGORY_LOINC,
    }
)
# Every Observation code the engine reads: the LOINC codes above, and the SNOMED CT codes
# of the TNM stage Observations (§2 v3).
OBSERVATION_CODES = OBSERVATION_LOINCS | rules.STAGE_GROUP_SNOMED | rules.M_CATEGORY_SNOMED


def is_medication_kind(kind: str) -> TypeGuard[MedicationKind]:
    return kind in MEDICATION_KINDS


@dataclass(slots=True)
class Index:
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


class Entry(NamedTuple):
    """A resource of a type the engine uses, with the ref the reader gives it."""

    ref: str
    kind: str
    raw: RawResource


def _observation_relevant(resource: dict[str, Any]) -> bool:
    code = resource.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    if not isinstance(codings, list):
        return False
    for coding in codings:
        value = coding.get("code") if isinstance(coding, dict) else None
        if isinstance(value, str) and value in OBSERVATION_CODES:
            return True
    return False


def entries_of(raw_resources: Iterable[RawResource]) -> tuple[list[Entry], Index]:
    """The resources of the types the engine uses (Observations: of its codes), each with
    its ref (`Type/id`, else its fullUrl, else `Type/#n`), and the reference index."""
    entries: list[Entry] = []
    index = Index()
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
        entries.append(Entry(ref, kind, raw))
    return entries, index


@dataclass(frozen=True, slots=True)
class Item:
    """A resource the engine uses: its ref, its JSON and its validated model (None when
    it failed validation; only medication records are kept then, read for their drug)."""

    ref: str
    kind: str
    raw: dict[str, Any]
    model: Model | None
    problem: str | None = None


@dataclass(slots=True)
class Parsed:
    """What a read validated: its items in input order, its warnings, its index."""

    items: list[Item] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    index: Index = field(default_factory=Index)
    stu3_upgraded: int = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    """One resource validated: its item, or the warning that it was skipped."""

    item: Item | None
    warning: str | None
    stu3: bool


def _error_summary(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "resource"
    # one line: some of fhir.resources' messages span lines, indented
    message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
    more = error.error_count() - 1
    return f"{where}: {message}" + (f" (and {more} more)" if more > 0 else "")


def _check(entry: Entry) -> _Outcome:
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
            return _Outcome(Item(ref, kind, entry.raw.resource, None, problem), None, stu3)
        return _Outcome(None, f"{ref}: {problem}; skipped", stu3)
    return _Outcome(Item(ref, kind, resource, model), None, stu3)


class Validator:
    """Validates the entries a read needs, each at most once."""

    def __init__(self, entries: Sequence[Entry], index: Index) -> None:
        self.entries = entries
        self.index = index
        self.outcomes: dict[int, _Outcome] = {}

    def item(self, position: int) -> Item | None:
        """The entry at `position` validated (None: skipped, see `parsed`)."""
        found = self.outcomes.get(position)
        if found is None:
            found = self.outcomes[position] = _check(self.entries[position])
        return found.item

    def parsed(self, positions: Iterable[int]) -> Parsed:
        """The validated items and warnings of these entries, in input order."""
        parsed = Parsed(index=self.index)
        for position in sorted(positions):
            self.item(position)
            outcome = self.outcomes[position]
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
