"""The reader: FHIR resources in, the engine's records out.

One planner for one patient or many: a `Selection` plans the reading of one patient's
record (`select`) or of every patient of a population input (`build_records`) with
`service.fhir.planner`, validates what the plan needs (`service.fhir.validation`) and
builds the records (`service.fhir.facts`); it also says what it read, for the
assessment cache (`service.fhir.fingerprint`). `build_record` is `select` in one call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from fhir.resources.R4B.patient import Patient

from service.engine.record import Record
from service.fhir import fingerprint as fingerprints
from service.fhir.facts import record_of, records_of
from service.fhir.fingerprint import Fingerprint
from service.fhir.lenient import subject_reference
from service.fhir.load import RawResource
from service.fhir.planner import Cuts, OwnerOf, Plan, cut, plan_reads
from service.fhir.validation import Entry, Index, Parsed, Validator, entries_of

__all__ = ["Selection", "build_record", "build_records", "select"]


def _owner_of(index: Index, *, patient_id: str | None, patients: Sequence[str]) -> OwnerOf:
    """Whom the plan reads a resource for: the evaluated patient unless it names another
    one; in a population, the Patient of the input it names (any, if none is valid)."""
    if patient_id is not None:
        wanted = f"Patient/{patient_id}"

        def one(entry: Entry) -> str | None:
            subject = index.resolve(subject_reference(entry.raw.resource))
            foreign = subject is not None and subject.startswith("Patient/") and subject != wanted
            return None if foreign else wanted

        return one
    refs = frozenset(patients)

    def each(entry: Entry) -> str | None:
        if not refs:
            return ""
        subject = index.resolve(subject_reference(entry.raw.resource))
        return subject if subject in refs else None

    return each


class Selection:
    """The resources of `Patient/<patient_id>`, or with `patient_id` None of every
    Patient of a population input, as the reader plans to read them."""

    def __init__(
        self,
        resources: Iterable[RawResource],
        *,
        patient_id: str | None,
        today: date | None,
        full_validation: bool,
    ) -> None:
        entries, index = entries_of(resources)
        self._validator = validator = Validator(entries, index)
        patients: list[str] = []
        if patient_id is None:
            for position, entry in enumerate(entries):
                item = validator.item(position) if entry.kind == "Patient" else None
                if item is not None and isinstance(item.model, Patient):
                    patients.append(item.ref)
            if len(patients) == 1:  # no population: that patient's record alone
                patient_id = patients[0].partition("/")[2]
        self.patient_id = patient_id
        self.today = today
        if full_validation:
            self._plan = Plan(frozenset(range(len(entries))), {}, {})
        else:
            owner_of = _owner_of(index, patient_id=patient_id, patients=patients)
            self._plan = plan_reads(validator, owner_of=owner_of, today=today)
        self._cuts: Cuts | None = None

    def _parsed(self) -> Parsed:
        """What the plan reads, validated: of each measure's Observations, the latest up
        to the first the engine can use (found once, then kept)."""
        if self._cuts is None:
            today = self.today or date.max
            plan = self._plan
            self._cuts = {key: cut(self._validator, plan, key, today=today) for key in plan.lists}
        return self._validator.parsed(self._plan.kept(self._cuts))

    def record(self, warnings: Sequence[str] = ()) -> Record:
        """The record of `Patient/<patient_id>` (see `build_record`)."""
        if self.patient_id is None:
            raise RuntimeError("record() of a population: records()")
        return record_of(self._parsed(), patient_id=self.patient_id, warnings=warnings)

    def records(self, warnings: Sequence[str] = ()) -> list[Record]:
        """Every record of the selection (see `build_records`)."""
        if self.patient_id is not None:
            return [self.record(warnings)]
        return records_of(self._parsed(), warnings=warnings)

    def fingerprint(self) -> Fingerprint:
        """What this reading read, to compare another with (after `record`)."""
        if self._cuts is None:
            raise RuntimeError("fingerprint() before record()")
        validator = self._validator
        return fingerprints.fingerprint(
            validator.entries, validator.index, plan=self._plan, cuts=self._cuts
        )

    def validated(self) -> list[RawResource]:
        """The resources the reading (`record`, `records`) validated, in input order."""
        if self._cuts is None:
            raise RuntimeError("validated() before record()")
        read = self._validator.outcomes
        return [e.raw for p, e in enumerate(self._validator.entries) if p in read]

    def unread(self) -> list[RawResource]:
        """The resources of the types the engine uses that the reading left unvalidated."""
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
    selection = Selection(
        raw_resources, patient_id=None, today=today, full_validation=full_validation
    )
    return selection.records(warnings)
