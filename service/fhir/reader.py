"""The reader: FHIR resources in, the engine's records out.

`select` plans the reading of one patient's record (`service.fhir.planner`), validates
what the plan needs (`service.fhir.validation`) and builds the record
(`service.fhir.facts`); its `Selection` also says what it read, for the assessment cache
(`service.fhir.fingerprint`). `build_record` is that in one call; `build_records` reads a
population input (several Patients, none chosen), each resource going to the Patient it
names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date

from fhir.resources.R4B.patient import Patient

from service.engine.record import Record
from service.fhir import fingerprint as fingerprints
from service.fhir.facts import Builder, PatientFacts, clinical, record_of
from service.fhir.fingerprint import Fingerprint
from service.fhir.lenient import subject_reference
from service.fhir.load import RawResource
from service.fhir.planner import Cuts, Plan, cut, plan_reads
from service.fhir.validation import Entry, Validator, entries_of

__all__ = ["Selection", "build_record", "build_records", "select"]


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
        entries, index = entries_of(resources)
        self.patient_id = patient_id
        self.today = today
        self._validator = Validator(entries, index)
        wanted = f"Patient/{patient_id}"

        def owner_of(entry: Entry) -> str | None:
            subject = index.resolve(subject_reference(entry.raw.resource))
            foreign = subject is not None and subject.startswith("Patient/") and subject != wanted
            return None if foreign else wanted

        if full_validation:
            self._plan = Plan(frozenset(range(len(entries))), {}, {})
        else:
            self._plan = plan_reads(entries, index, owner_of=owner_of, today=today)
        self._cuts: Cuts | None = None

    def record(self, warnings: Sequence[str] = ()) -> Record:
        """The record of `Patient/<patient_id>` (see `build_record`)."""
        if self._cuts is None:
            today = self.today or date.max
            plan = self._plan
            self._cuts = {key: cut(self._validator, plan, key, today=today) for key in plan.lists}
        parsed = self._validator.parsed(self._plan.kept(self._cuts))
        return record_of(parsed, patient_id=self.patient_id, warnings=warnings)

    def fingerprint(self) -> Fingerprint:
        """What this reading read, to compare another with (after `record`)."""
        if self._cuts is None:
            raise RuntimeError("fingerprint() before record()")
        validator = self._validator
        return fingerprints.fingerprint(
            validator.entries, validator.index, plan=self._plan, cuts=self._cuts
        )

    def validated(self) -> list[RawResource]:
        """The resources `record` validated, in input order."""
        if self._cuts is None:
            raise RuntimeError("validated() before record()")
        read = self._validator.outcomes
        return [e.raw for p, e in enumerate(self._validator.entries) if p in read]

    def unread(self) -> list[RawResource]:
        """The resources of the types the engine uses that `record` left unvalidated."""
        if self._cuts is None:
            raise RuntimeError("unread() before record()")
        read = self._validator.outcomes
        return [e.raw for p, e in enumerate(self._validator.entries) if p not in read]

    def reads_as(self, fingerprint: Fingerprint) -> bool:
        """True when this reading would read exactly what `fingerprint` records, value for
        value (so its record is that reading's): checked without validating anything."""
        validator = self._validator
        return fingerprints.reads_as(
            validator.entries, validator.index, plan=self._plan, fingerprint=fingerprint
        )


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
    entries, index = entries_of(resources)
    validator = Validator(entries, index)
    patients: list[tuple[str, Patient]] = []
    for position, entry in enumerate(entries):
        item = validator.item(position) if entry.kind == "Patient" else None
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

    def owner_of(entry: Entry) -> str | None:
        if not refs:
            return ""
        subject = index.resolve(subject_reference(entry.raw.resource))
        return subject if subject in refs else None

    if full_validation:
        plan = Plan(frozenset(range(len(entries))), {}, {})
    else:
        plan = plan_reads(entries, index, owner_of=owner_of, today=today)
    cuts = {key: cut(validator, plan, key, today=today or date.max) for key in plan.lists}
    parsed = validator.parsed(plan.kept(cuts))
    builder = Builder.of(parsed)
    groups: dict[str, PatientFacts] = {}
    for ref, model in patients:
        groups.setdefault(ref, PatientFacts(builder.patient(ref, model)))
    loose = PatientFacts(None)
    orphans: dict[str, int] = defaultdict(int)
    for item in clinical(parsed.items):
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
