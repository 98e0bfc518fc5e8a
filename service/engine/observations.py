"""ECOG, laboratory and blood-pressure values read from Observations (§9, §10).

One place decides which value of a measure counts: the latest one dated on or before
the evaluation date, converted to the measure's unit, and `fresh` only when it is at
most `observation_max_age_days` old (CLINICAL_RULES v2 §10).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from service.engine import rules
from service.engine.model import Reading
from service.engine.record import Code, ObservationFact
from service.engine.rules import Thresholds

__all__ = [
    "ALBUMIN",
    "ANC",
    "BILIRUBIN",
    "CREATININE",
    "DIASTOLIC",
    "ECOG",
    "EGFR",
    "HEMOGLOBIN",
    "INR",
    "PLATELETS",
    "SUMMARY_MEASURES",
    "SYSTOLIC",
    "WBC",
    "Measure",
    "latest_observation",
    "read",
]

VOID_STATUSES = frozenset({"entered-in-error", "cancelled"})

# Cell counts read as 10^9/L, with their factor (per microlitre: / 1000).
_COUNT_UNITS = {
    "10*9/l": 1.0,
    "10^9/l": 1.0,
    "10*3/ul": 1.0,
    "10^3/ul": 1.0,
    "10*3/mm3": 1.0,
    "10^3/mm3": 1.0,
    "k/ul": 1.0,
    "x10e3/ul": 1.0,
    "10*3/µl": 1.0,
    "thou/ul": 1.0,
    "/ul": 0.001,
    "cells/ul": 0.001,
    "/mm3": 0.001,
}
_MG_DL_CREATININE = {"mg/dl": 1.0, "umol/l": 1 / 88.4, "µmol/l": 1 / 88.4}
_MG_DL_BILIRUBIN = {"mg/dl": 1.0, "umol/l": 1 / 17.1, "µmol/l": 1 / 17.1}
_PRESSURE = {"mm[hg]": 1.0, "mmhg": 1.0, "mm hg": 1.0}


@dataclass(frozen=True, slots=True)
class Measure:
    """A measure: its LOINC codes and the units it is read in (factor to `unit`).

    `units` None: any unit, or none, is read as it is (INR, ECOG). `unit_marks`: a
    recorded unit containing one of these is read with factor 1 (eGFR's spellings).
    """

    name: str
    loincs: frozenset[str]
    unit: str = ""
    units: Mapping[str, float] | None = None
    unit_marks: tuple[str, ...] = ()
    answers: Mapping[str, int] = field(default_factory=dict)

    def factor(self, unit: str | None) -> float | None:
        if self.units is None and not self.unit_marks:
            return 1.0
        spelled = (unit or "").strip().lower()
        if self.units is not None and spelled in self.units:
            return self.units[spelled]
        if any(mark in spelled for mark in self.unit_marks):
            return 1.0
        return None


ECOG = Measure("ECOG", frozenset({rules.ECOG_LOINC}), answers=rules.ECOG_ANSWERS)
ANC = Measure("ANC", rules.ANC_LOINC, "x10^9/L", _COUNT_UNITS)
PLATELETS = Measure("platelets", rules.PLATELETS_LOINC, "x10^9/L", _COUNT_UNITS)
WBC = Measure("WBC", rules.WBC_LOINC, "x10^9/L", _COUNT_UNITS)
HEMOGLOBIN = Measure("hemoglobin", rules.HEMOGLOBIN_LOINC, "g/L", {"g/l": 1.0, "g/dl": 10.0})
CREATININE = Measure("creatinine", rules.CREATININE_LOINC, "mg/dL", _MG_DL_CREATININE)
EGFR = Measure("eGFR", rules.EGFR_LOINC, "mL/min/1.73m2", unit_marks=("ml/min",))
INR = Measure("INR", rules.INR_LOINC)
BILIRUBIN = Measure("total bilirubin", rules.BILIRUBIN_LOINC, "mg/dL", _MG_DL_BILIRUBIN)
ALBUMIN = Measure("albumin", rules.ALBUMIN_LOINC, "g/L", {"g/l": 1.0, "g/dl": 10.0})
SYSTOLIC = Measure("systolic blood pressure", rules.SYSTOLIC_LOINC, "mmHg", _PRESSURE)
DIASTOLIC = Measure("diastolic blood pressure", rules.DIASTOLIC_LOINC, "mmHg", _PRESSURE)

# §11: what the summary card shows, with dates (the measures of §10).
SUMMARY_MEASURES = (ECOG, ANC, PLATELETS, HEMOGLOBIN, CREATININE, EGFR, INR)


def _has(codes: Iterable[Code], loincs: frozenset[str]) -> bool:
    return any(c.code in loincs and rules.LOINC in c.system.lower() for c in codes)


def _value(obs: ObservationFact, measure: Measure) -> tuple[float, str | None] | None:
    """(number, recorded unit) of the measure in this Observation, or None if absent."""
    if _has(obs.codes, measure.loincs):
        for code in obs.value_codes:
            if code.code in measure.answers:
                return float(measure.answers[code.code]), None
        if obs.value_number is not None:
            return obs.value_number, obs.value_unit
        return None
    for component in obs.components:  # a blood-pressure panel
        if _has(component.codes, measure.loincs) and component.value_number is not None:
            return component.value_number, component.value_unit
    return None


def latest_observation(
    observations: Iterable[ObservationFact], measure: Measure, *, today: date
) -> ObservationFact | None:
    """The latest Observation holding the measure, dated on or before `today`."""
    candidates = [
        o
        for o in observations
        if o.status not in VOID_STATUSES
        and o.effective is not None
        and o.effective <= today
        and _value(o, measure) is not None
    ]
    return max(candidates, key=lambda o: (o.effective or date.min, o.ref), default=None)


def read(
    observations: Iterable[ObservationFact],
    measure: Measure,
    *,
    today: date,
    thresholds: Thresholds,
) -> Reading | None:
    """The measure's latest value (§10), converted, with its date and freshness."""
    obs = latest_observation(observations, measure, today=today)
    if obs is None or obs.effective is None:
        return None
    found = _value(obs, measure)
    if found is None:  # not reached: latest_observation keeps Observations with a value
        return None
    number, unit = found
    factor = measure.factor(unit)
    return Reading(
        name=measure.name,
        value=None if factor is None else round(number * factor, 3),
        unit=measure.unit,
        day=obs.effective,
        source=obs.ref,
        fresh=(today - obs.effective).days <= thresholds.observation_max_age_days,
        recorded_unit=unit,
    )
