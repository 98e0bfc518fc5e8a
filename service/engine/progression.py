"""Progression events (CLINICAL_RULES §6) and the platinum-free interval (§7)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from service.engine import rules
from service.engine.model import Line, Platinum, Progression, Sensitivity
from service.engine.record import Code, ConditionFact, ObservationFact
from service.engine.rules import Thresholds

__all__ = [
    "ProgressionFindings",
    "find_dated_events",
    "latest_progression",
    "platinum_interval",
    "proxy_events",
]

VOID_OBSERVATION_STATUSES = frozenset({"entered-in-error", "cancelled"})


@dataclass(frozen=True, slots=True)
class ProgressionFindings:
    """Dated events (sorted, one per day), undated relapse records, warnings."""

    dated: tuple[Progression, ...]
    undated: tuple[Progression, ...]
    warnings: tuple[str, ...]

    @property
    def dates(self) -> tuple[date, ...]:
        return tuple(p.date for p in self.dated if p.date)


def _has_code(codes: Iterable[Code], system_mark: str, code: str) -> bool:
    return any(c.code == code and system_mark in c.system.lower() for c in codes)


def _value_label(obs: ObservationFact) -> str:
    coding = next(iter(obs.value_codes), None)
    if coding is None:
        return "no coded value"
    return f"'{coding.display}' ({coding.code})" if coding.display else f"'{coding.code}'"


def _about_other_condition(obs: ObservationFact, sclc: frozenset[str]) -> tuple[str, ...]:
    """§6.1 (v3): the Conditions the Observation's `focus` names, when none is SCLC."""
    conditions = tuple(f for f in obs.focus if f.startswith("Condition/"))
    if not conditions or any(f in sclc for f in conditions):
        return ()
    return conditions


def find_dated_events(
    *,
    observations: Iterable[ObservationFact],
    relapses: Iterable[ConditionFact],
    first_line_start: date | None,
    sclc_conditions: Iterable[str] = (),
) -> ProgressionFindings:
    """§6.1 disease-status Observations and §6.2 relapse/recurrence Conditions.

    A disease status counts for SCLC only when its `focus` is absent or names one of
    `sclc_conditions` (v3); one about another Condition is left out and said.
    """
    sclc = frozenset(sclc_conditions)
    by_day: dict[date, Progression] = {}
    undated: list[Progression] = []
    warnings: list[str] = []
    # Sorted so that ties between records of one day resolve the same way every time.
    for obs in sorted(observations, key=lambda o: o.ref):
        if obs.status in VOID_OBSERVATION_STATUSES:
            continue
        if not _has_code(obs.codes, rules.LOINC, rules.DISEASE_STATUS_LOINC):
            continue
        progression = any(
            rules.SNOMED in c.system.lower() and c.code in rules.PROGRESSION_SNOMED
            for c in obs.value_codes
        )
        if not progression:
            understood = any(
                rules.SNOMED in c.system.lower() and c.code in rules.DISEASE_STATUS_OTHER_SNOMED
                for c in obs.value_codes
            )
            late = (
                obs.effective is not None
                and first_line_start is not None
                and obs.effective > first_line_start
            )
            if not understood and late and not _about_other_condition(obs, sclc):
                warnings.append(
                    f"{obs.ref}: disease status value {_value_label(obs)} is not understood; "
                    "not read as a progression"
                )
            continue
        other = _about_other_condition(obs, sclc)
        if other:
            warnings.append(
                f"{obs.ref}: disease status {_value_label(obs)} is about {', '.join(other)}, "
                "not the SCLC; not read as an SCLC progression"
            )
            continue
        if obs.effective is None:
            warnings.append(
                f"{obs.ref}: disease status {_value_label(obs)} without a date; not used"
            )
            continue
        current = by_day.get(obs.effective)
        # Priority 1 over Conditions on the same day; the lowest ref wins among equals.
        if current is None or not current.source.startswith("Observation/"):
            by_day[obs.effective] = Progression(
                obs.effective, obs.ref, estimated=obs.effective_estimated
            )
    for condition in sorted(relapses, key=lambda c: c.ref):
        day, estimated = None, False
        if first_line_start is not None:
            if condition.onset and condition.onset > first_line_start:
                day, estimated = condition.onset, condition.onset_estimated
            elif condition.recorded and condition.recorded > first_line_start:
                day, estimated = condition.recorded, condition.recorded_estimated
        if day is None:
            undated.append(Progression(None, condition.ref))
        elif day not in by_day:
            by_day[day] = Progression(day, condition.ref, estimated=estimated)
    dated = tuple(by_day[d] for d in sorted(by_day))
    return ProgressionFindings(dated, tuple(undated), tuple(warnings))


def proxy_events(lines: Sequence[Line], dated: Sequence[date]) -> tuple[Progression, ...]:
    """§6.3: line N+1's start stands in when no dated event lies in (start N, start N+1]."""
    proxies = []
    for previous, line in zip(lines, lines[1:], strict=False):
        if not any(previous.start < d <= line.start for d in dated):
            # The source is the record that opens line N+1 (first by start date, then agent).
            proxies.append(
                Progression(line.start, line.exposures[0].source, estimated=True, proxy=True)
            )
    return tuple(proxies)


def _all_events(findings: ProgressionFindings, proxies: Sequence[Progression]) -> list[Progression]:
    # Dated records sort before proxies of the same day.
    return sorted([*findings.dated, *proxies], key=lambda p: (p.date or date.min, p.proxy))


def latest_progression(
    findings: ProgressionFindings, proxies: Sequence[Progression]
) -> Progression | None:
    """The latest event, dated or proxy; an undated relapse only when nothing is dated."""
    events = _all_events(findings, proxies)
    if events:
        latest_day = events[-1].date
        return next(p for p in events if p.date == latest_day)
    return findings.undated[0] if findings.undated else None


def _sensitivity(interval_days: int, thresholds: Thresholds) -> Sensitivity:
    if interval_days <= 0:
        return "refractory"
    if interval_days < thresholds.sensitive_days:
        return "resistant"
    return "sensitive"


def platinum_interval(
    lines: Sequence[Line],
    findings: ProgressionFindings,
    proxies: Sequence[Progression],
    *,
    today: date,
    thresholds: Thresholds,
) -> Platinum | None:
    """§7: from the last platinum dose of the latest platinum line to the next progression."""
    platinum_lines = [line for line in lines if line.has_class("platinum")]
    if not platinum_lines:
        return None
    line = platinum_lines[-1]
    doses = [e for e in line.exposures if e.drug_class == "platinum"]
    last_dose = max(e.end for e in doses)
    # §1: a last dose read from a partial date makes everything counted from it estimated.
    dose_estimated = any(e.estimated for e in doses if e.end == last_dose)
    since = (today - last_dose).days
    after = [(p.date, p) for p in _all_events(findings, proxies) if p.date and p.date > line.start]
    if after:
        event_day, event = after[0]
        interval = (event_day - last_dose).days
        sensitivity = _sensitivity(interval, thresholds)
        return Platinum(
            last_dose=last_dose,
            interval_days=interval,
            sensitivity=sensitivity,
            rechallenge_window=interval >= thresholds.rechallenge_window_days,
            estimated=event.estimated or dose_estimated,
            days_since_last_platinum=since,
            line_number=line.number,
            progression_date=event_day,
            annab_resistant=(
                sensitivity == "sensitive" and interval < thresholds.annab_resistant_days
            ),
        )
    return Platinum(
        last_dose=last_dose,
        interval_days=None,
        sensitivity="unknown" if findings.undated else None,
        rechallenge_window=None,
        estimated=dose_estimated,
        days_since_last_platinum=since,
        line_number=line.number,
    )
