"""Trial pre-screen for NCT07632209 (CLINICAL_RULES §10, 004_f50c1dc1e9887857.txt).

Each criterion is `met`, `not-met` or `unknown` from the record; the verdict follows.
Criterion names and order are in docs/decisions.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from service.engine import rules
from service.engine.model import Criterion, CriterionResult, Line, TrialResult, Verdict
from service.engine.record import ObservationFact
from service.engine.rules import Thresholds

__all__ = ["ANTIANGIOGENIC_TKI", "LINES_CRITERION", "TrialInputs", "prescreen"]

LINES_CRITERION = "2+ prior lines, progressed after the latest"
# 004_…, exclusion 1: prior lomustine, anlotinib or a similar anti-angiogenic TKI.
ANTIANGIOGENIC_AGENTS_BARRED = frozenset({"lomustine", "anlotinib"})
ANTIANGIOGENIC_TKI = "anti-angiogenic TKI"
VOID_STATUSES = frozenset({"entered-in-error", "cancelled"})

# Units read as 10^9/L (cell counts), and their factor.
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
_HEMOGLOBIN_UNITS = {"g/l": 1.0, "g/dl": 10.0}


@dataclass(frozen=True, slots=True)
class TrialInputs:
    stage: str | None
    lines: Sequence[Line]
    progressed_after_latest: bool | None  # None: only an undated relapse is known
    age: int | None
    received: frozenset[str]
    antiangiogenic_tki_received: bool
    observations: Sequence[ObservationFact]


def _latest(
    observations: Iterable[ObservationFact], loincs: frozenset[str]
) -> ObservationFact | None:
    candidates = [
        o
        for o in observations
        if o.status not in VOID_STATUSES
        and o.effective is not None
        and any(c.code in loincs and rules.LOINC in c.system.lower() for c in o.codes)
        and (o.value_number is not None or o.value_codes)
    ]
    return max(candidates, key=lambda o: (o.effective or date.min, o.ref), default=None)


def _threshold(
    obs: ObservationFact | None,
    units: dict[str, float] | None,
    ok: Callable[[float], bool],
) -> CriterionResult:
    if obs is None or obs.value_number is None:
        return "unknown"
    factor = 1.0
    if units is not None:
        unit = (obs.value_unit or "").strip().lower()
        if unit not in units:
            return "unknown"
        factor = units[unit]
    return "met" if ok(obs.value_number * factor) else "not-met"


def _ecog(obs: ObservationFact | None, thresholds: Thresholds) -> CriterionResult:
    if obs is None:
        return "unknown"
    score: float | None = obs.value_number
    for code in obs.value_codes:
        if code.code in rules.ECOG_ANSWERS:
            score = rules.ECOG_ANSWERS[code.code]
    if score is None:
        return "unknown"
    return "met" if score <= thresholds.trial_max_ecog else "not-met"


def _creatinine(obs: ObservationFact | None, thresholds: Thresholds) -> CriterionResult:
    if obs is None or obs.value_number is None or obs.reference_high is None:
        return "unknown"
    if (
        obs.reference_high_unit
        and obs.value_unit
        and (obs.reference_high_unit.lower() != obs.value_unit.lower())
    ):
        return "unknown"
    limit = thresholds.trial_max_creatinine_x_uln * obs.reference_high
    return "met" if obs.value_number <= limit else "not-met"


def _egfr(obs: ObservationFact | None, thresholds: Thresholds) -> CriterionResult:
    if obs is None or obs.value_number is None:
        return "unknown"
    if "ml/min" not in (obs.value_unit or "").lower():
        return "unknown"
    return "met" if obs.value_number >= thresholds.trial_min_egfr else "not-met"


def _verdict(results: Iterable[CriterionResult]) -> Verdict:
    values = list(results)
    if "not-met" in values:
        return "ineligible"
    if all(v == "met" for v in values):
        return "eligible"
    return "possibly-eligible"


def prescreen(inputs: TrialInputs, thresholds: Thresholds) -> TrialResult:
    """Pre-screen every criterion of NCT07632209 against the record."""
    t = thresholds
    obs = inputs.observations
    stage: CriterionResult = (
        "met"
        if inputs.stage == "extensive"
        else "not-met"
        if inputs.stage == "limited"
        else "unknown"
    )
    if len(inputs.lines) < 2:
        lines: CriterionResult = "not-met"
    elif inputs.progressed_after_latest is None:
        lines = "unknown"
    else:
        lines = "met" if inputs.progressed_after_latest else "not-met"
    if inputs.age is None:
        age: CriterionResult = "unknown"
    else:
        age = "met" if t.trial_min_age <= inputs.age <= t.trial_max_age else "not-met"
    barred = inputs.antiangiogenic_tki_received or bool(
        inputs.received & ANTIANGIOGENIC_AGENTS_BARRED
    )
    criteria = (
        Criterion("extensive-stage SCLC", stage),
        Criterion(LINES_CRITERION, lines),
        Criterion("age 18-75", age),
        Criterion("ECOG 0-1", _ecog(_latest(obs, frozenset({rules.ECOG_LOINC})), t)),
        Criterion(
            "no prior lomustine, anlotinib or anti-angiogenic TKI",
            "not-met" if barred else "met",
        ),
        Criterion(
            "ANC >= 1.5 x10^9/L",
            _threshold(_latest(obs, rules.ANC_LOINC), _COUNT_UNITS, lambda v: v >= t.trial_min_anc),
        ),
        Criterion(
            "platelets >= 100 x10^9/L",
            _threshold(
                _latest(obs, rules.PLATELETS_LOINC),
                _COUNT_UNITS,
                lambda v: v >= t.trial_min_platelets,
            ),
        ),
        Criterion(
            "hemoglobin >= 90 g/L",
            _threshold(
                _latest(obs, rules.HEMOGLOBIN_LOINC),
                _HEMOGLOBIN_UNITS,
                lambda v: v >= t.trial_min_hemoglobin_g_l,
            ),
        ),
        Criterion("creatinine <= 1.5 x ULN", _creatinine(_latest(obs, rules.CREATININE_LOINC), t)),
        Criterion("eGFR >= 60 mL/min/1.73m2", _egfr(_latest(obs, rules.EGFR_LOINC), t)),
        Criterion(
            "INR <= 1.5",
            _threshold(_latest(obs, rules.INR_LOINC), None, lambda v: v <= t.trial_max_inr),
        ),
    )
    return TrialResult(rules.TRIAL_ID, _verdict(c.result for c in criteria), criteria)
