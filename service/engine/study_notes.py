"""Study-population notes of the options (CLINICAL_RULES §9): never hide, only tell.

An option whose evidence comes from a study with stated eligibility says where the
patient is outside it, from the record: each note names the value and its date, says
that it is older than the freshness limit (§10), or that it is not in the record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from service.engine import observations as measures
from service.engine.model import Diagnosis, Note, OptionResult
from service.engine.observations import Measure
from service.engine.record import ObservationFact
from service.engine.rules import Thresholds

__all__ = ["PopulationInputs", "population_notes"]


@dataclass(frozen=True, slots=True)
class PopulationInputs:
    diagnosis: Diagnosis
    age_range: tuple[int, int] | None
    observations: Sequence[ObservationFact]
    today: date
    other_antiangiogenic: tuple[str, ...] = ()  # "bevacizumab (MedicationStatement/ms5)"


def _stage_note(diagnosis: Diagnosis) -> Note | None:
    if diagnosis.stage == "extensive":
        return None
    if diagnosis.stage == "limited":
        kind = "stage_limited_at_relapse" if diagnosis.staged_at_relapse else "stage_limited"
        return Note.of(kind, condition=str(diagnosis.stage_condition))
    return Note.of("stage_unknown")


def _annab_notes(inputs: PopulationInputs, t: Thresholds) -> tuple[Note, ...]:
    """Tian et al. (003_…): ES-SCLC, 18–75, ECOG 0–1, marrow, liver, kidney, blood pressure."""
    notes: list[Note] = []
    stage = _stage_note(inputs.diagnosis)
    if stage:
        notes.append(Note.of("annab_stage", stage=stage))
    ages = inputs.age_range
    if ages is None:
        notes.append(Note.of("age_missing"))
    elif not all(t.annab_min_age <= a <= t.annab_max_age for a in ages):
        shown = str(ages[0]) if ages[0] == ages[1] else f"{ages[1]}–{ages[0]}"
        notes.append(Note.of("age_outside", age=shown, low=t.annab_min_age, high=t.annab_max_age))
    pressure = Note.of(
        "criterion_blood_pressure", systolic=t.annab_max_systolic, diastolic=t.annab_max_diastolic
    )
    checks: list[tuple[Measure, Callable[[float], bool], Note]] = [
        (
            measures.ECOG,
            lambda v: v <= t.annab_max_ecog,
            Note.of("criterion_ecog", most=t.annab_max_ecog),
        ),
        (
            measures.ANC,
            lambda v: v >= t.annab_min_anc,
            Note.of("criterion_anc", least=t.annab_min_anc),
        ),
        (
            measures.PLATELETS,
            lambda v: v >= t.annab_min_platelets,
            Note.of("criterion_platelets", least=t.annab_min_platelets),
        ),
        (
            measures.WBC,
            lambda v: v >= t.annab_min_wbc,
            Note.of("criterion_wbc", least=t.annab_min_wbc),
        ),
        (
            measures.BILIRUBIN,
            lambda v: v <= t.annab_max_bilirubin_mg_dl,
            Note.of("criterion_bilirubin", most=t.annab_max_bilirubin_mg_dl),
        ),
        (
            measures.ALBUMIN,
            lambda v: v >= t.annab_min_albumin_g_l,
            Note.of("criterion_albumin", least=t.annab_min_albumin_g_l),
        ),
        (
            measures.CREATININE,
            lambda v: v <= t.annab_max_creatinine_mg_dl,
            Note.of("criterion_creatinine", most=t.annab_max_creatinine_mg_dl),
        ),
        (measures.SYSTOLIC, lambda v: v < t.annab_max_systolic, pressure),
        (measures.DIASTOLIC, lambda v: v < t.annab_max_diastolic, pressure),
    ]
    missing: list[str] = []
    for measure, inside, criterion in checks:
        reading = measures.read(inputs.observations, measure, today=inputs.today, thresholds=t)
        if reading is None:
            missing.append(measure.name)
        elif not reading.fresh:
            notes.append(
                Note.of(
                    "study_reading_stale",
                    reading=reading,
                    days=t.observation_max_age_days,
                    criterion=criterion,
                )
            )
        elif reading.value is None:
            notes.append(Note.of("study_reading_unread", reading=reading, criterion=criterion))
        elif not inside(reading.value):
            notes.append(Note.of("study_reading_outside", reading=reading, criterion=criterion))
    if missing:
        pressure_names = ("systolic blood pressure", "diastolic blood pressure")
        if all(name in missing for name in pressure_names):  # one reading, two components
            missing = [m for m in missing if m not in pressure_names] + ["blood pressure"]
        notes.append(Note.of("study_missing", names=", ".join(missing)))
    return tuple(notes)


def population_notes(
    options: Sequence[OptionResult], inputs: PopulationInputs, thresholds: Thresholds
) -> tuple[tuple[str, tuple[Note, ...]], ...]:
    """(option id, notes) for each shown option whose study population the patient may
    be outside."""
    found: list[tuple[str, tuple[Note, ...]]] = []
    for option in options:
        notes: tuple[Note, ...] = ()
        if option.id == "nab-paclitaxel-anlotinib":
            notes = _annab_notes(inputs, thresholds)
        elif option.id == "tarlatamab":
            stage = _stage_note(inputs.diagnosis)
            if stage:
                notes = (Note.of("tarlatamab_stage", stage=stage),)
        elif option.id == "anlotinib" and inputs.other_antiangiogenic:
            notes = (
                Note.of("prior_antiangiogenic", treatments=", ".join(inputs.other_antiangiogenic)),
            )
        if notes:
            found.append((option.id, notes))
    return tuple(found)
