"""Which resources a read validates, decided from their JSON before validating them.

Only the resources the engine reads are validated (CLINICAL_RULES §1). The fast path
(the default) decides from the JSON which can change an evaluation
(`service.fhir.relevance`): a Condition some reading makes a cancer, a drug record the
engine does not pass over (and the Medications such records name, and those their
ingredients name), a Procedure of systemic therapy or radiotherapy, every Patient,
disease status and TNM stage, anything not plainly shaped, and of each measure's
Observations the latest the engine can use at the evaluation date (`plan_reads`, then
`cut` once the latest are validated). A drug record naming its drug by a Medication
elsewhere is decided on every reading the builder may give it (its Medication found, or
not: an invalid one is not; an ingredient such a Medication names elsewhere makes the
record read); only when one of those matters are its Medications validated first, to
read it as the builder will. A
resource the plan passes over is one the engine would not use: the evaluation is the one
`full_validation` gives, which validates every entry (tests/perf/test_fast_path.py);
only an invalid resource the engine never reads is then not named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from fhir.resources.R4B.observation import Observation

from service.engine.observations import latest_observation
from service.engine.record import MedicationKind
from service.fhir.facts import Builder
from service.fhir.medication import Resolver, ingredient_targets, medication_targets
from service.fhir.relevance import (
    MEASURES,
    UNCLEAR,
    condition_matters,
    drug_record_matters,
    effective_day,
    observation_measures,
    procedure_matters,
)
from service.fhir.stu3 import looks_stu3
from service.fhir.validation import MEDICATION_KINDS, Entry, Validator, is_medication_kind

__all__ = ["Cuts", "ListKey", "OwnerOf", "Plan", "cut", "plan_reads"]

# Who a resource belongs to, for the fast path: an owner key, or None for a resource the
# reader drops or counts (another patient's, no Patient's of a population): such
# resources are always validated, so that what is said about them stays the same.
OwnerOf = Callable[[Entry], "str | None"]
ListKey = tuple[str, str]  # (owner, measure name)
# Per list, how many of its Observations are read, and whether that is all of them.
Cuts = Mapping[ListKey, tuple[int, bool]]
_MEASURE_NAMED = {measure.name: measure for measure in MEASURES}


@dataclass(frozen=True, slots=True)
class Plan:
    """What the fast path reads: `always` (positions), and for each (owner, measure) its
    dated Observations latest first, of which only those up to the first usable one."""

    always: frozenset[int]
    lists: dict[ListKey, tuple[int, ...]]
    days: dict[int, date]

    def kept(self, cuts: Cuts) -> list[int]:
        """The positions read, in input order: `always`, and the head of each list."""
        kept = set(self.always)
        for key, (count, _) in cuts.items():
            kept.update(self.lists[key][:count])
        return sorted(kept)


class _Medications:
    """The Medication entries of a read, found as the builder finds a drug record's: by
    the ref its reference resolves to, the last valid one of that ref."""

    def __init__(self, validator: Validator) -> None:
        self.validator = validator
        self.validated: set[int] = set()

    @cached_property
    def _positions(self) -> dict[str, list[int]]:
        """The positions of the Medication entries by ref (looked up once asked for)."""
        found: dict[str, list[int]] = defaultdict(list)
        for position, entry in enumerate(self.validator.entries):
            if entry.kind == "Medication":
                found[entry.ref].append(position)
        return found

    def _named(self, reference: str) -> list[int]:
        return self._positions.get(self.validator.index.resolve(reference) or "", [])

    def each(self, reference: str) -> list[dict[str, Any]]:
        """The JSON of every Medication entry `reference` may name, none validated."""
        return [self.validator.entries[p].raw.resource for p in self._named(reference)]

    def found(self, reference: str) -> dict[str, Any] | None:
        """The Medication the builder finds for `reference` (validating them to know)."""
        found = None
        for position in self._named(reference):
            self.validated.add(position)
            item = self.validator.item(position)
            found = item.raw if item is not None else found
        return found


def _finding(target: str, medication: dict[str, Any]) -> Resolver:
    """A reading in which `target` is `medication` and nothing else is found (so the
    ingredients it names elsewhere are unresolved: such a record is read)."""
    return lambda reference: medication if reference == target else None


def _drug_record_read(
    kind: MedicationKind, resource: dict[str, Any], medications: _Medications
) -> bool:
    """Whether the engine reads this drug record (`relevance.drug_record_matters`). One
    naming a Medication elsewhere is passed over when no reading of it matters, whichever
    Medication of that reference is valid, or none: nothing is validated then."""
    asked: list[str] = []

    def unfound(reference: str) -> None:
        asked.append(reference)

    def readings() -> Iterator[Resolver]:
        yield unfound  # first: the Medication the record names, if any, is then known
        yield from (_finding(asked[0], m) for m in (medications.each(asked[0]) if asked else ()))

    if not drug_record_matters(kind, resource, readings=readings()):
        return False
    if not asked:
        return True  # it names no Medication elsewhere, or is read without it
    return drug_record_matters(kind, resource, readings=[medications.found])


def plan_reads(validator: Validator, *, owner_of: OwnerOf, today: date | None) -> Plan:
    """Decide from the JSON which entries of a read can matter (`service.fhir.relevance`),
    validating at most the Medications some drug records name."""
    entries, index = validator.entries, validator.index
    medications = _Medications(validator)
    always: set[int] = set()
    candidates: dict[ListKey, list[tuple[date, str, int]]] = defaultdict(list)
    days: dict[int, date] = {}
    for position, entry in enumerate(entries):
        resource, kind = entry.raw.resource, entry.kind
        if kind == "Patient":
            always.add(position)
            continue
        if kind == "Medication":
            continue  # read when a drug record read names it (below)
        owner = owner_of(entry)
        if owner is None or looks_stu3(resource):
            always.add(position)
        elif kind == "Condition":
            if condition_matters(resource):
                always.add(position)
        elif is_medication_kind(kind):
            if _drug_record_read(kind, resource, medications):
                always.add(position)
        elif kind == "Procedure":
            if procedure_matters(resource):
                always.add(position)
        elif today is None or (held := observation_measures(resource)) is None:
            always.add(position)  # every disease status (§6.1) and stage (§2) is read
        else:
            day = effective_day(resource)
            if day is UNCLEAR:
                always.add(position)  # partial or odd dates: read (and warned about)
            elif isinstance(day, date) and day <= today:
                days[position] = day
                for measure in held:
                    candidates[(owner, measure.name)].append((day, entry.ref, position))
            # no date, after `today` or no measure: the engine never uses it (§10)
    # The Medications the records read name, and those validated to decide a record
    # (what they say of themselves, if invalid, is said as on the full path).
    named = {
        index.resolve(target)
        for position in always
        if entries[position].kind in MEDICATION_KINDS
        for target in medication_targets(entries[position].raw.resource)
    }
    # and the Medications their ingredients name (one level, as `drug_of` reads them)
    named |= {
        index.resolve(target)
        for entry in entries
        if entry.kind == "Medication" and entry.ref in named
        for target in ingredient_targets(entry.raw.resource)
    }
    always.update(p for p, e in enumerate(entries) if e.kind == "Medication" and e.ref in named)
    always.update(medications.validated)
    # Latest first, as the engine's max() takes them: by day, then ref, and among equals
    # (a resource sent twice) the first in the input.
    lists = {
        key: tuple(p for *_, p in sorted(found, key=lambda c: (c[0], c[1], -c[2]), reverse=True))
        for key, found in candidates.items()
    }
    return Plan(frozenset(always), lists, days)


def cut(validator: Validator, plan: Plan, key: ListKey, *, today: date) -> tuple[int, bool]:
    """How many of a measure's Observations (latest first) are read: up to the first
    valid one the engine can use; all (True) when none is, or a date reads otherwise."""
    measure = _MEASURE_NAMED[key[1]]
    scratch = Builder(validator.index, [], {})
    positions = plan.lists[key]
    for number, position in enumerate(positions):
        item = validator.item(position)
        if item is None or not isinstance(item.model, Observation):
            continue
        fact = scratch.observation(item.ref, item.model)
        if fact.effective != plan.days[position]:
            break  # not read as planned: read them all
        if latest_observation([fact], measure, today=today) is not None:
            return number + 1, False
    return len(positions), True
