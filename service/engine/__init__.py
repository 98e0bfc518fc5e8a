"""The clinical engine: record -> history -> lines -> platinum -> options/trials.

Pure functions over `service.engine.record` values; no Flask, no I/O beyond reading
the packaged drug catalogue once.
"""

from __future__ import annotations

from datetime import date

from service.engine.catalogue import Catalogue, load_catalogue
from service.engine.diagnosis import find_sclc
from service.engine.exposures import collect_exposures
from service.engine.lines import build_lines
from service.engine.model import Evaluation, PatientSummary, TrialResult
from service.engine.options import OPTION_IDS, select_options
from service.engine.progression import (
    find_dated_events,
    latest_progression,
    platinum_interval,
    proxy_events,
)
from service.engine.record import PatientFact, Record
from service.engine.rules import DEFAULT_THRESHOLDS, Thresholds
from service.engine.trials import ANTIANGIOGENIC_TKI, LINES_CRITERION, TrialInputs, prescreen

__all__ = ["OPTION_IDS", "Evaluation", "Thresholds", "evaluate"]


def _age(patient: PatientFact | None, today: date) -> int | None:
    if patient is None or patient.birth_date is None:
        return None
    born = patient.birth_date
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def evaluate(
    record: Record,
    *,
    today: date,
    catalogue: Catalogue | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Evaluation:
    """Evaluate one patient's record at `today` (CLINICAL_RULES §1–§10)."""
    catalogue = catalogue or load_catalogue()
    patient = record.patient
    summary = PatientSummary(
        id=patient.ref.partition("/")[2] if patient else None,
        age=_age(patient, today),
        deceased=bool(patient and patient.deceased),
    )
    warnings = list(record.warnings)
    sclc = find_sclc(record.conditions)
    warnings.extend(sclc.warnings)
    diagnosis = sclc.diagnosis
    history = collect_exposures(
        record.medications,
        conditions={c.ref: c for c in record.conditions},
        diagnosed=diagnosis.diagnosed,
        sclc=diagnosis.sclc,
        catalogue=catalogue,
        thresholds=thresholds,
    )
    warnings.extend(history.warnings)
    if not diagnosis.sclc:
        return Evaluation(
            today=today, patient=summary, diagnosis=diagnosis, warnings=tuple(warnings)
        )

    first_start = min((e.start for e in history.attributed), default=None)
    findings = find_dated_events(
        observations=record.observations, relapses=sclc.relapses, first_line_start=first_start
    )
    warnings.extend(findings.warnings)
    lines = build_lines(
        history.attributed, progressions=findings.dates, today=today, thresholds=thresholds
    )
    proxies = proxy_events(lines, findings.dates)
    progression = latest_progression(findings, proxies)
    platinum = platinum_interval(lines, findings, proxies, today=today, thresholds=thresholds)

    latest = lines[-1] if lines else None
    progressed_after_latest = latest is not None and any(d > latest.start for d in findings.dates)
    undated_relapse = bool(findings.undated)
    decision_point = latest is not None and (
        progressed_after_latest or (undated_relapse and not latest.ongoing)
    )
    next_line = latest.number + 1 if decision_point and latest and not summary.deceased else None

    received = history.received_agents()
    antiangiogenic = any(catalogue.agent(a).antiangiogenic for a in received)
    antiangiogenic_tki = any(catalogue.agent(a).drug_class == ANTIANGIOGENIC_TKI for a in received)
    options = select_options(
        next_line=next_line,
        lines=lines,
        platinum=platinum,
        stage=diagnosis.stage,
        received=received,
        antiangiogenic_received=antiangiogenic,
    )
    trials: tuple[TrialResult, ...] = ()
    if next_line is not None:
        trial = prescreen(
            TrialInputs(
                stage=diagnosis.stage,
                lines=lines,
                progressed_after_latest=True if progressed_after_latest else None,
                age=summary.age,
                received=received,
                antiangiogenic_tki_received=antiangiogenic_tki,
                observations=record.observations,
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
    )
