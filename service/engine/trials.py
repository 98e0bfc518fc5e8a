"""Trial pre-screen for NCT07632209 (CLINICAL_RULES §10, 004_f50c1dc1e9887857.txt).

Each criterion is `met`, `not-met` or `unknown` from the record; the verdict follows.
Criterion names and order are in docs/decisions.md. ECOG and labs count only when
fresh (v2 §10); a stale or unreadable value makes its criterion `unknown`, and the
criterion's `detail` says which value and date the record holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from service.engine import observations as measures
from service.engine import rules
from service.engine.model import Criterion, CriterionResult, Line, Note, TrialResult, Verdict
from service.engine.observations import Measure, latest_observation
from service.engine.record import ObservationFact
from service.engine.rules import Thresholds

__all__ = [
    "ANTIANGIOGENIC_AGENTS_BARRED",
    "ANTIANGIOGENIC_TKI",
    "LINES_CRITERION",
    "TrialInputs",
    "age_result",
    "criterion_names",
    "prescreen",
    "reading_result",
]

LINES_CRITERION = "2+ prior lines, progressed after the latest"
# 004_…, exclusion 1: prior lomustine, anlotinib or a similar anti-angiogenic TKI.
ANTIANGIOGENIC_AGENTS_BARRED = frozenset({"lomustine", "anlotinib"})
ANTIANGIOGENIC_TKI = "anti-angiogenic TKI"


@dataclass(frozen=True, slots=True)
class TrialInputs:
    """What the pre-screen reads. `barred_received`: a barred agent was given;
    `barred_possibly`: one may have been (an undated or unidentified record, §1)."""

    stage: str | None
    staged_at_relapse: bool
    lines: Sequence[Line]
    progressed_after_latest: bool | None  # None: only an undated relapse is known
    age_range: tuple[int, int] | None
    barred_received: bool
    barred_possibly: bool
    observations: Sequence[ObservationFact]
    today: date


def age_result(age_range: tuple[int, int] | None, low: int, high: int) -> CriterionResult:
    """met / not-met when every possible age (a partial birthDate) agrees, else unknown."""
    if age_range is None:
        return "unknown"
    results = {low <= age <= high for age in age_range}
    if results == {True}:
        return "met"
    return "not-met" if results == {False} else "unknown"


def reading_result(
    observations: Iterable[ObservationFact],
    measure: Measure,
    ok: Callable[[float], bool],
    *,
    today: date,
    thresholds: Thresholds,
) -> tuple[CriterionResult, Note | None]:
    """A criterion from the measure's latest fresh value, with what the card shows."""
    reading = measures.read(observations, measure, today=today, thresholds=thresholds)
    if reading is None:
        return "unknown", Note.of("absent", name=measure.name)
    if not reading.fresh:
        days = thresholds.observation_max_age_days
        return "unknown", Note.of("stale", reading=reading, days=days)
    if reading.value is None:
        return "unknown", Note.of("reading", reading=reading)
    return ("met" if ok(reading.value) else "not-met"), Note.of("reading", reading=reading)


def _creatinine(
    observations: Sequence[ObservationFact], *, today: date, thresholds: Thresholds
) -> tuple[CriterionResult, Note | None]:
    """Against 1.5 x the Observation's own upper reference limit, in its own unit."""
    result, detail = reading_result(
        observations, measures.CREATININE, lambda _: True, today=today, thresholds=thresholds
    )
    reading = measures.read(observations, measures.CREATININE, today=today, thresholds=thresholds)
    obs = latest_observation(observations, measures.CREATININE, today=today)
    if reading is None or not reading.fresh or obs is None or obs.value_number is None:
        return result, detail
    if obs.reference_high is None:
        return "unknown", Note.of("no_reference_range", reading=reading)
    if (
        obs.reference_high_unit
        and obs.value_unit
        and obs.reference_high_unit.lower() != obs.value_unit.lower()
    ):
        return "unknown", Note.of("other_unit", reading=reading)
    limit = thresholds.trial_max_creatinine_x_uln * obs.reference_high
    return ("met" if obs.value_number <= limit else "not-met"), detail


def _verdict(results: Iterable[CriterionResult]) -> Verdict:
    values = list(results)
    if "not-met" in values:
        return "ineligible"
    if all(v == "met" for v in values):
        return "eligible"
    return "possibly-eligible"


def _stage(inputs: TrialInputs) -> CriterionResult:
    """§10: limited counts against only when staged at relapse."""
    if inputs.stage == "extensive":
        return "met"
    if inputs.stage == "limited" and inputs.staged_at_relapse:
        return "not-met"
    return "unknown"


def prescreen(inputs: TrialInputs, thresholds: Thresholds) -> TrialResult:
    """Pre-screen every criterion of NCT07632209 against the record."""
    t = thresholds
    obs = inputs.observations

    def lab(measure: Measure, ok: Callable[[float], bool]) -> tuple[CriterionResult, Note | None]:
        return reading_result(obs, measure, ok, today=inputs.today, thresholds=t)

    if len(inputs.lines) < 2:
        lines: CriterionResult = "not-met"
    elif inputs.progressed_after_latest is None:
        lines = "unknown"
    else:
        lines = "met" if inputs.progressed_after_latest else "not-met"
    barred: CriterionResult = (
        "not-met" if inputs.barred_received else "unknown" if inputs.barred_possibly else "met"
    )
    rows: list[tuple[str, tuple[CriterionResult, Note | None]]] = [
        ("extensive-stage SCLC", (_stage(inputs), None)),
        (LINES_CRITERION, (lines, None)),
        ("age 18-75", (age_result(inputs.age_range, t.trial_min_age, t.trial_max_age), None)),
        ("ECOG 0-1", lab(measures.ECOG, lambda v: v <= t.trial_max_ecog)),
        ("no prior lomustine, anlotinib or anti-angiogenic TKI", (barred, None)),
        ("ANC >= 1.5 x10^9/L", lab(measures.ANC, lambda v: v >= t.trial_min_anc)),
        ("platelets >= 100 x10^9/L", lab(measures.PLATELETS, lambda v: v >= t.trial_min_platelets)),
        (
            "hemoglobin >= 90 g/L",
            lab(measures.HEMOGLOBIN, lambda v: v >= t.trial_min_hemoglobin_g_l),
        ),
        ("creatinine <= 1.5 x ULN", _creatinine(obs, today=inputs.today, thresholds=t)),
        ("eGFR >= 60 mL/min/1.73m2", lab(measures.EGFR, lambda v: v >= t.trial_min_egfr)),
        ("INR <= 1.5", lab(measures.INR, lambda v: v <= t.trial_max_inr)),
    ]
    criteria = tuple(Criterion(name, result, detail) for name, (result, detail) in rows)
    return TrialResult(rules.TRIAL_ID, _verdict(c.result for c in criteria), criteria)


def criterion_names() -> tuple[str, ...]:
    """The names of the criteria the pre-screen reports, in its order."""
    blank = TrialInputs(
        stage=None,
        staged_at_relapse=False,
        lines=(),
        progressed_after_latest=None,
        age_range=None,
        barred_received=False,
        barred_possibly=False,
        observations=(),
        today=date.min,
    )
    return tuple(c.criterion for c in prescreen(blank, Thresholds()).criteria)
