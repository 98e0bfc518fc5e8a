"""Small constructors of engine facts, so rule tests read like the rule they pin."""

from __future__ import annotations

from datetime import date

from service.engine.record import (
    Code,
    ConditionFact,
    MedicationFact,
    MedicationKind,
    ObservationFact,
    PatientFact,
    Record,
)

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

_counter = {"n": 0}


def _next(prefix: str) -> str:
    _counter["n"] += 1
    return f"{prefix}{_counter['n']}"


def d(text: str) -> date:
    return date.fromisoformat(text)


def patient(born: str | None = "1960-01-01", *, deceased: bool = False) -> PatientFact:
    return PatientFact(ref="Patient/p1", birth_date=d(born) if born else None, deceased=deceased)


def sclc(
    onset: str = "2024-01-01",
    *,
    stage: str | None = "Extensive stage",
    status: str = "active",
    recorded: str | None = None,
    ref: str = "Condition/c1",
) -> ConditionFact:
    return ConditionFact(
        ref=ref,
        codes=(Code(SNOMED, "254632001", "Small cell carcinoma of lung"),),
        text=None,
        clinical_status=status,
        verification_status="confirmed",
        onset=d(onset) if onset else None,
        recorded=d(recorded) if recorded else None,
        stage_text=stage,
    )


def other_cancer(
    ref: str = "Condition/other", text: str = "Malignant tumor of colon"
) -> ConditionFact:
    return ConditionFact(
        ref=ref,
        codes=(Code(SNOMED, "363406005", text),),
        text=None,
        clinical_status="active",
        verification_status="confirmed",
        onset=d("2015-01-01"),
        recorded=None,
    )


def given(
    drug: str,
    start: str,
    end: str | None = None,
    *,
    kind: MedicationKind = "MedicationStatement",
    status: str = "completed",
    ref: str | None = None,
    reasons: tuple[str, ...] = (),
    open_ended: bool = False,
) -> MedicationFact:
    """A drug given from `start` to `end` (one day when no end), named by text."""
    return MedicationFact(
        ref=ref or f"{kind}/{_next('m')}",
        kind=kind,
        status=status,
        codes=(),
        texts=(drug,),
        start=d(start),
        end=d(end or start),
        open_ended=open_ended,
        reason_refs=reasons,
    )


def cycles(drug: str, first: str, count: int, every: int = 21) -> list[MedicationFact]:
    """`count` single-day doses, `every` days apart from `first`."""
    start = d(first)
    return [
        given(drug, date.fromordinal(start.toordinal() + i * every).isoformat())
        for i in range(count)
    ]


def worsened(day: str, ref: str | None = None) -> ObservationFact:
    return ObservationFact(
        ref=ref or f"Observation/{_next('o')}",
        codes=(Code(LOINC, "97509-4"),),
        status="final",
        effective=d(day),
        value_codes=(Code(SNOMED, "271299001", "Patient's condition worsened"),),
    )


def lab(
    loinc: str, day: str, value: float, unit: str | None = None, *, high: float | None = None
) -> ObservationFact:
    return ObservationFact(
        ref=f"Observation/{_next('o')}",
        codes=(Code(LOINC, loinc),),
        status="final",
        effective=d(day),
        value_number=value,
        value_unit=unit,
        reference_high=high,
        reference_high_unit=unit if high is not None else None,
    )


def record(
    *medications: MedicationFact,
    conditions: tuple[ConditionFact, ...] | None = None,
    observations: tuple[ObservationFact, ...] = (),
    pat: PatientFact | None = None,
) -> Record:
    return Record(
        patient=pat or patient(),
        conditions=conditions if conditions is not None else (sclc(),),
        medications=tuple(medications),
        observations=observations,
    )
