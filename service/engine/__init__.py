"""The clinical engine: record -> history -> lines -> platinum -> options/trials.

Pure functions over `service.engine.record` values; no Flask, no I/O beyond reading
the packaged drug catalogue once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import date

from service.engine import observations as measures
from service.engine.catalogue import PD1_CLASSES, Catalogue, load_catalogue
from service.engine.diagnosis import (
    QUIET_STATUSES,
    SclcFindings,
    find_sclc,
    other_active_cancers,
)
from service.engine.exposures import ExposureHistory, collect_exposures
from service.engine.lines import build_lines, line_warnings, settle_overlaps
from service.engine.model import (
    Diagnosis,
    Evaluation,
    Line,
    PatientSummary,
    Progression,
    TrialResult,
)
from service.engine.options import (
    OPTION_IDS,
    OptionInputs,
    chemo_immunotherapy,
    other_cancer_notes,
    select_options,
)
from service.engine.procedures import read_procedures
from service.engine.progression import (
    ProgressionFindings,
    find_dated_events,
    latest_progression,
    platinum_interval,
    proxy_events,
)
from service.engine.record import PatientFact, Record
from service.engine.rules import DEFAULT_THRESHOLDS, Thresholds
from service.engine.study_notes import PopulationInputs, population_notes
from service.engine.trials import (
    ANTIANGIOGENIC_AGENTS_BARRED,
    ANTIANGIOGENIC_TKI,
    LINES_CRITERION,
    TrialInputs,
    prescreen,
)

__all__ = ["OPTION_IDS", "Evaluation", "Thresholds", "evaluate"]


def _age_at(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _age_range(patient: PatientFact | None, today: date) -> tuple[int, int] | None:
    """(oldest, youngest) possible age; equal unless the birthDate is partial (§1)."""
    if patient is None or patient.birth_date is None:
        return None
    latest = patient.birth_latest or patient.birth_date
    return _age_at(patient.birth_date, today), _age_at(latest, today)


def _past_progression(lines: Sequence[Line], dated: Sequence[Progression]) -> list[str]:
    """§5.3b/§9: PD-1/PD-L1 inhibitors given after a dated progression inside their line."""
    found = []
    for line in lines:
        days = [p.date for p in dated if p.date and p.date > line.start and not p.proxy]
        for day in days:
            late = [e for e in line.exposures if e.drug_class in PD1_CLASSES and e.end > day]
            if late:
                sources = ", ".join(sorted({e.source for e in late}))
                agents = " and ".join(sorted({e.agent for e in late}))
                found.append(
                    f"{sources}: {agents} continued past the progression of "
                    f"{day.isoformat()}; the evidence is insufficient to support "
                    "continuing checkpoint inhibitors after progression"
                )
                break  # one item per line, at its first progression
    return found


def _status_disagrees(sclc: SclcFindings, findings: ProgressionFindings) -> list[str]:
    """§11: an SCLC Condition in remission / resolved before a dated progression."""
    found = []
    for condition in sclc.conditions:
        day = condition.recorded or condition.onset
        if condition.clinical_status not in QUIET_STATUSES or day is None:
            continue
        later = next((p for p in findings.dated if p.date and p.date > day), None)
        if later is not None and later.date is not None:
            found.append(
                f"{condition.ref}: clinical status '{condition.clinical_status}' but a "
                f"progression is recorded on {later.date.isoformat()} ({later.source})"
            )
    return found


def _possibly_map(history: ExposureHistory) -> dict[str, tuple[str, ...]]:
    found: defaultdict[str, list[str]] = defaultdict(list)
    for record in history.possibly:
        for agent in record.agents:
            found[agent].append(record.source)
    return {agent: tuple(sources) for agent, sources in found.items()}


def evaluate(
    record: Record,
    *,
    today: date,
    catalogue: Catalogue | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Evaluation:
    """Evaluate one patient's record at `today` (CLINICAL_RULES v3 §1–§11)."""
    catalogue = catalogue or load_catalogue()
    patient = record.patient
    ages = _age_range(patient, today)
    summary = PatientSummary(
        id=patient.ref.partition("/")[2] if patient else None,
        age=ages[0] if ages else None,
        deceased=bool(patient and patient.deceased),
        age_estimated=bool(ages and ages[0] != ages[1]),
    )
    warnings = list(record.warnings)
    sclc = find_sclc(record.conditions, record.observations)
    warnings.extend(sclc.warnings)
    others = other_active_cancers(record.conditions) if sclc.diagnosis.sclc else ()
    history = collect_exposures(
        record.medications,
        conditions={c.ref: c for c in record.conditions},
        diagnosed=sclc.diagnosis.diagnosed,
        sclc=sclc.diagnosis.sclc,
        catalogue=catalogue,
        thresholds=thresholds,
        today=today,
        other_cancers=tuple(c.ref for c in others),
    )
    warnings.extend(history.warnings)
    if not sclc.diagnosis.sclc:
        return Evaluation(
            today=today,
            patient=summary,
            diagnosis=sclc.diagnosis,
            warnings=tuple(warnings),
            thresholds=thresholds,
        )

    first_start = min((e.start for e in history.attributed), default=None)
    findings = find_dated_events(
        observations=record.observations,
        relapses=sclc.relapses,
        first_line_start=first_start,
        sclc_conditions=(c.ref for c in sclc.conditions),
    )
    warnings.extend(findings.warnings)
    lines, overlaps = settle_overlaps(
        build_lines(
            history.attributed, progressions=findings.dates, today=today, thresholds=thresholds
        )
    )
    warnings.extend(line_warnings(lines, thresholds))
    warnings.extend(overlaps)
    procedures = read_procedures(
        record.procedures,
        lines=lines,
        conditions={c.ref: c for c in record.conditions},
        thresholds=thresholds,
    )
    warnings.extend(procedures.warnings)
    proxies = proxy_events(lines, findings.dates)
    progression = latest_progression(findings, proxies)
    platinum = platinum_interval(lines, findings, proxies, today=today, thresholds=thresholds)
    warnings.extend(_past_progression(lines, findings.dated))
    warnings.extend(_status_disagrees(sclc, findings))

    diagnosis = _staged(sclc.diagnosis, progression)
    latest = lines[-1] if lines else None
    progressed_after_latest = latest is not None and any(d > latest.start for d in findings.dates)
    undated_relapse = bool(findings.undated)
    decision_point = latest is not None and (
        progressed_after_latest or (undated_relapse and not latest.ongoing)
    )
    next_line = latest.number + 1 if decision_point and latest and not summary.deceased else None

    readings = tuple(
        r
        for m in measures.SUMMARY_MEASURES
        if (r := measures.read(record.observations, m, today=today, thresholds=thresholds))
    )
    ecog = next((r for r in readings if r.name == measures.ECOG.name), None)
    poor = (
        ecog
        if ecog is not None
        and ecog.fresh
        and ecog.value is not None
        and ecog.value >= thresholds.poor_performance_ecog
        else None
    )
    received = history.received_agents()
    possibly = _possibly_map(history)
    unidentified = tuple(p.source for p in history.unidentified)
    antiangiogenic = frozenset(a.name for a in catalogue.agents if a.antiangiogenic)
    option_inputs = OptionInputs(
        next_line=next_line,
        lines=lines,
        platinum=platinum,
        limited_at_relapse=diagnosis.stage == "limited" and diagnosis.staged_at_relapse,
        # §4, §9 (v3): only what was given for SCLC hides an option.
        received=frozenset(e.agent for e in history.attributed),
        possibly=possibly,
        unidentified=unidentified,
        antiangiogenic=antiangiogenic,
        taxanes=frozenset(a.name for a in catalogue.agents if a.drug_class == "taxane"),
        poor_performance=poor is not None,
    )
    options, withheld = select_options(option_inputs)
    others_received = tuple(
        f"{e.agent} ({e.source})"
        for e in history.attributed
        if e.agent in antiangiogenic and e.agent != "anlotinib"
    )
    notes = population_notes(
        options,
        PopulationInputs(
            diagnosis=diagnosis,
            age_range=ages,
            observations=record.observations,
            today=today,
            other_antiangiogenic=tuple(dict.fromkeys(others_received)),
        ),
        thresholds,
    )
    trials: tuple[TrialResult, ...] = ()
    if next_line is not None:
        barred = frozenset(
            a.name
            for a in catalogue.agents
            if a.name in ANTIANGIOGENIC_AGENTS_BARRED or a.drug_class == ANTIANGIOGENIC_TKI
        )
        trial = prescreen(
            TrialInputs(
                stage=diagnosis.stage,
                staged_at_relapse=diagnosis.staged_at_relapse,
                lines=lines,
                progressed_after_latest=True if progressed_after_latest else None,
                age_range=ages,
                barred_received=bool(received & barred),
                barred_possibly=bool(barred & possibly.keys()) or bool(unidentified),
                observations=record.observations,
                today=today,
            ),
            thresholds,
        )
        line_count = next(c for c in trial.criteria if c.criterion == LINES_CRITERION)
        # §10: a patient with fewer than two prior lines is not this trial's population.
        if line_count.result != "not-met":
            trials = (trial,)
    return Evaluation(
        today=today,
        patient=summary,
        diagnosis=diagnosis,
        lines=lines,
        progression=progression,
        platinum=platinum,
        next_line=next_line,
        options=options,
        trials=trials,
        warnings=tuple(warnings),
        relapse_undated=undated_relapse and not progressed_after_latest,
        thresholds=thresholds,
        possibly_received=history.possibly,
        withheld=withheld,
        readings=readings,
        poor_performance=poor,
        population_notes=notes,
        radiotherapy=procedures.radiotherapy,
        systemic_procedures=procedures.systemic,
        other_cancer_notes=other_cancer_notes(options, history.other_cancer, option_inputs),
        first_line_chemo_immunotherapy=bool(lines) and chemo_immunotherapy(lines[0]),
    )


def _staged(diagnosis: Diagnosis, progression: Progression | None) -> Diagnosis:
    """§2: the stage is staged at relapse when its Condition is dated on or after the
    latest progression event (a proxy counts; an undated relapse does not)."""
    if diagnosis.stage_date is None or progression is None or progression.date is None:
        return diagnosis
    return replace(diagnosis, staged_at_relapse=diagnosis.stage_date >= progression.date)
