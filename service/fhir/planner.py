"""Which resources a read validates, decided from their JSON before any validation.

Only the resources the engine reads are validated (CLINICAL_RULES §1). The fast path (the
default) decides from the JSON which can change an evaluation: a Condition some reading
makes a cancer, a drug record the engine does not pass over (`service.fhir.relevance`),
every Patient and disease status, anything not plainly shaped, and of each measure's
Observations the latest the engine can use at the evaluation date (`plan`, then `cut`
once the latest are validated). A resource the plan passes over is one the engine would
not use: the evaluation is the one `full_validation` gives, which validates every entry
(tests/perf/test_fast_path.py); only an invalid resource the engine never reads is then
not named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from fhir.resources.R4B.observation import Observation

from service.engine.observations import latest_observation
from service.engine.record import MedicationKind
from service.fhir.facts import Builder, status_of
from service.fhir.lenient import plain_day, string_of
from service.fhir.medication import Drug, drug_of, medication_targets
from service.fhir.relevance import (
    MEASURES,
    UNCLEAR,
    condition_matters,
    drug_record_matters,
    effective_day,
    observation_measures,
)
from service.fhir.stu3 import looks_stu3
from service.fhir.validation import MEDICATION_KINDS, Entry, Index, Validator, is_medication_kind

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


def plan_reads(
    entries: Sequence[Entry], index: Index, *, owner_of: OwnerOf, today: date | None
) -> Plan:
    """Decide from the JSON alone which resources can matter (see `service.fhir.relevance`)."""
    always: set[int] = set()
    targets = {
        index.resolve(target)
        for entry in entries
        if entry.kind in MEDICATION_KINDS
        for target in medication_targets(entry.raw.resource)
    }
    candidates: dict[ListKey, list[tuple[date, str, int]]] = defaultdict(list)
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
        elif is_medication_kind(kind):
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
    return Plan(frozenset(always), lists, days)


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


def _medication_matters(entry: Entry, kind: MedicationKind) -> bool:
    """Whether the engine reads this drug record, from its JSON read as if valid: its
    dates would say something, or its drug and status are not ones the engine passes
    over (`service.fhir.relevance.drug_record_matters`)."""
    resource = entry.raw.resource
    if not _plain_exposure(kind, resource):
        return True
    drug = _drug(resource)
    return drug_record_matters(
        kind,
        status_of(resource),
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
