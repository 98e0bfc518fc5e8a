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
from service.engine.model import Diagnosis, OptionResult
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


def _stage_note(diagnosis: Diagnosis) -> str | None:
    if diagnosis.stage == "extensive":
        return None
    if diagnosis.stage == "limited":
        when = "at relapse" if diagnosis.staged_at_relapse else "at diagnosis only"
        return f"limited stage recorded {when} ({diagnosis.stage_condition})"
    return "stage at relapse not recorded"


def _annab_notes(inputs: PopulationInputs, t: Thresholds) -> tuple[str, ...]:
    """Tian et al. (003_…): ES-SCLC, 18–75, ECOG 0–1, marrow, liver, kidney, blood pressure."""
    notes: list[str] = []
    stage = _stage_note(inputs.diagnosis)
    if stage:
        notes.append(f"{stage}; the study enrolled extensive-stage disease")
    ages = inputs.age_range
    if ages is None:
        notes.append("age not in the record")
    elif not all(t.annab_min_age <= a <= t.annab_max_age for a in ages):
        shown = str(ages[0]) if ages[0] == ages[1] else f"{ages[1]}–{ages[0]}"
        notes.append(f"age {shown}; the study enrolled ages {t.annab_min_age}–{t.annab_max_age}")
    checks: list[tuple[Measure, Callable[[float], bool], str]] = [
        (measures.ECOG, lambda v: v <= t.annab_max_ecog, f"ECOG 0–{t.annab_max_ecog}"),
        (measures.ANC, lambda v: v >= t.annab_min_anc, f"ANC ≥ {t.annab_min_anc:g} x10^9/L"),
        (
            measures.PLATELETS,
            lambda v: v >= t.annab_min_platelets,
            f"platelets ≥ {t.annab_min_platelets:g} x10^9/L",
        ),
        (measures.WBC, lambda v: v >= t.annab_min_wbc, f"WBC ≥ {t.annab_min_wbc:g} x10^9/L"),
        (
            measures.BILIRUBIN,
            lambda v: v <= t.annab_max_bilirubin_mg_dl,
            f"total bilirubin ≤ {t.annab_max_bilirubin_mg_dl:g} mg/dL",
        ),
        (
            measures.ALBUMIN,
            lambda v: v >= t.annab_min_albumin_g_l,
            f"albumin ≥ {t.annab_min_albumin_g_l:g} g/L",
        ),
        (
            measures.CREATININE,
            lambda v: v <= t.annab_max_creatinine_mg_dl,
            f"creatinine ≤ {t.annab_max_creatinine_mg_dl:g} mg/dL",
        ),
        (
            measures.SYSTOLIC,
            lambda v: v < t.annab_max_systolic,
            f"no uncontrolled hypertension (≥ {t.annab_max_systolic:g}/"
            f"{t.annab_max_diastolic:g} mmHg)",
        ),
        (
            measures.DIASTOLIC,
            lambda v: v < t.annab_max_diastolic,
            f"no uncontrolled hypertension (≥ {t.annab_max_systolic:g}/"
            f"{t.annab_max_diastolic:g} mmHg)",
        ),
    ]
    missing: list[str] = []
    for measure, inside, criterion in checks:
        reading = measures.read(inputs.observations, measure, today=inputs.today, thresholds=t)
        if reading is None:
            missing.append(measure.name)
        elif not reading.fresh:
            notes.append(
                f"{reading.describe()}, older than {t.observation_max_age_days} days "
                f"(the study required {criterion})"
            )
        elif reading.value is None:
            notes.append(f"{reading.describe()} (the study required {criterion})")
        elif not inside(reading.value):
            notes.append(f"{reading.describe()}; the study required {criterion}")
    if missing:
        pressure = ("systolic blood pressure", "diastolic blood pressure")
        if all(name in missing for name in pressure):  # one reading, two components
            missing = [m for m in missing if m not in pressure] + ["blood pressure"]
        notes.append(f"not in the record: {', '.join(missing)}")
    return tuple(notes)


def population_notes(
    options: Sequence[OptionResult], inputs: PopulationInputs, thresholds: Thresholds
) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(option id, notes) for each shown option whose study population the patient may
    be outside."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for option in options:
        notes: tuple[str, ...] = ()
        if option.id == "nab-paclitaxel-anlotinib":
            notes = _annab_notes(inputs, thresholds)
        elif option.id == "tarlatamab":
            stage = _stage_note(inputs.diagnosis)
            if stage:
                notes = (f"indicated for extensive-stage disease; {stage}",)
        elif option.id == "anlotinib" and inputs.other_antiangiogenic:
            notes = ("prior anti-angiogenic treatment: " + ", ".join(inputs.other_antiangiogenic),)
        if notes:
            found.append((option.id, notes))
    return tuple(found)
