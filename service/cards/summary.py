"""The summary card (CLINICAL_RULES §11) and the card for SCLC with no therapy (§8).

The summary says where the patient stands, the diagnosis, the lines, the latest
progression, the platinum-free interval under both definitions where they differ (§7),
the patient's age, ECOG and labs with their dates, and "Check the record": the card is a
warning exactly when that list is not empty.
"""

from __future__ import annotations

from typing import Any

from service.cards.checklist import check_items
from service.cards.frame import Frame
from service.cards.markdown import SUMMARY_LIMIT, bullets, escape
from service.cards.phrases import dated_reading, reading_words
from service.engine.model import Line, Platinum

__all__ = ["no_therapy_card", "summary_card"]

# §1 (v3): how many radiotherapy procedures the summary names (the latest).
RADIOTHERAPY_SHOWN = 5


def summary_card(frame: Frame) -> dict[str, Any]:
    """§11: where the patient stands, the interval, the patient, and what to check."""
    e = frame.evaluation
    w = frame.words.summary
    check = _check_items(frame)
    sections = [
        w.where.format(standing=_standing_long(frame)),
        _diagnosis_text(frame),
        bullets(w.lines_title, (_line_text(frame, line) for line in e.lines)),
        _radiotherapy_text(frame),
        _progression_text(frame),
        _platinum_text(frame, e.platinum),
        _patient_text(frame),
    ]
    if check:
        sections.append(bullets(w.check_title, check))
    return frame.card(
        "summary",
        summary=_headline(frame),
        detail="\n\n".join(s for s in sections if s),
        indicator="warning" if check else "info",
        documents=frame.words.cited.platinum_interval,
        links=[frame.timeline_link()],
        disclaimer=True,
    )


def no_therapy_card(frame: Frame) -> dict[str, Any]:
    """§8: SCLC with no systemic therapy on record; first-line choice is out of scope."""
    w = frame.words.no_therapy
    procedures = bool(frame.evaluation.systemic_procedures)
    detail = f"{_diagnosis_text(frame)}\n\n{w.detail_procedures if procedures else w.detail}"
    radiotherapy = _radiotherapy_text(frame)
    if radiotherapy:
        detail += "\n\n" + radiotherapy
    check = _check_items(frame)
    if check:
        detail += "\n\n" + bullets(frame.words.summary.check_title, check)
    return frame.card(
        "no-therapy",
        summary=(w.summary_procedures if procedures else w.summary).format(stage=frame.stage()),
        detail=detail,
        indicator="warning" if check else "info",
        documents=frame.words.cited.first_line,
        links=[frame.timeline_link()],
        disclaimer=True,
    )


def _check_items(frame: Frame) -> list[str]:
    """§11 "Check the record": the engine's record issues, each naming its records."""
    return check_items(frame.evaluation.record_issues, frame.knowledge)


def _headline(frame: Frame) -> str:
    """The one-line summary (§11): stage and lines, where the patient stands, the interval
    and, at a decision point, an ECOG of 3–4 that withholds `recommended` (v3); in the
    first of its forms, longest first, that fits a CDS Hooks summary."""
    e = frame.evaluation
    w = frame.words.summary
    count = len(e.lines)
    lines = (w.one_line if count == 1 else w.lines).format(count=count)
    identity = w.headline.format(stage=frame.stage(), lines=lines)
    tail = []
    if e.platinum and e.platinum.sensitivity:
        tail.append(_interval_short(frame, e.platinum))
    if e.poor_performance is not None and e.options:
        reading = reading_words(e.poor_performance, frame.words)
        tail.append(w.poor_performance.format(reading=reading))
    if e.next_line is None:
        return "; ".join([identity, _standing_short(frame), *tail])
    standing = w.at_decision.format(line=e.lines[-1].number, next_line=e.next_line)
    short = w.at_decision_short.format(next_line=e.next_line)
    forms = (
        [identity, standing],
        [identity, short],
        [w.headline_short.format(stage=frame.stage()), short],
    )
    for parts in forms:
        headline = "; ".join([*parts, *tail])
        if len(headline) < SUMMARY_LIMIT:
            break
    return headline  # frame.card shortens what still does not fit


def _standing_short(frame: Frame) -> str:
    """Where the patient stands outside a decision point, for the headline."""
    e = frame.evaluation
    w = frame.words.summary
    latest = e.lines[-1]
    if latest.ongoing:
        return w.line_ongoing.format(line=latest.number)
    return w.line_ended.format(line=latest.number, date=frame.day(latest.end))


def _interval_short(frame: Frame, platinum: Platinum) -> str:
    """The headline's interval: both definitions where they differ (§7)."""
    w = frame.words.summary
    days = platinum.interval_days
    if days is None:
        return w.interval_class.format(sensitivity=platinum.sensitivity)
    estimated = f" {w.estimated_mark}" if platinum.estimated else ""
    if days <= 0:
        return w.interval_refractory.format(estimated=estimated)
    text = w.interval_free.format(days=days, estimated=estimated, sensitivity=platinum.sensitivity)
    if platinum.annab_resistant:
        text += "; " + w.interval_annab.format(annab_days=frame.thresholds.annab_resistant_days)
    return text


def _standing_long(frame: Frame) -> str:
    e = frame.evaluation
    w = frame.words.standing
    latest = e.lines[-1]
    if e.next_line is None:
        if latest.ongoing:
            return w.ongoing.format(
                line=latest.number, start=frame.day(latest.start), end=frame.day(latest.end)
            )
        return w.ended.format(line=latest.number, end=frame.day(latest.end))
    p = e.progression
    if p and p.date and p.proxy:
        previous = latest.number - 1
        after = w.after_line.format(line=previous) if previous else w.after_first_line
        return w.proxy.format(
            after=after, line=latest.number, date=frame.day(p.date), next_line=e.next_line
        )
    if p and p.date:
        dated = w.partial_date if p.estimated else w.dated
        return dated.format(
            date=frame.day(p.date),
            source=escape(p.source),
            line=latest.number,
            next_line=e.next_line,
        )
    return w.undated.format(line=latest.number, next_line=e.next_line)


def _diagnosis_text(frame: Frame) -> str:
    d = frame.evaluation.diagnosis
    w = frame.words.history
    text = w.diagnosis.format(stage=frame.stage(), date=frame.day(d.diagnosed))
    if d.stage in ("limited", "extensive") and d.stage_condition:
        staged = w.staged_at_relapse if d.staged_at_relapse else w.not_restaged
        condition = escape(d.stage_condition)
        text += f" ({staged.format(condition=condition, date=frame.day(d.stage_date))})"
    if d.clinical_status:
        text += "; " + w.clinical_status.format(status=escape(d.clinical_status))
    return text + "."


def _line_text(frame: Frame, line: Line) -> str:
    w = frame.words.history
    template = w.line_ongoing if line.ongoing else w.line
    text = template.format(
        number=line.number,
        start=frame.day(line.start),
        end=frame.day(line.end),
        agents=", ".join(line.agents),
    )
    if line.maintenance_agents:
        text += "; " + w.maintenance.format(agents=", ".join(line.maintenance_agents))
    return text


def _radiotherapy_text(frame: Frame) -> str | None:
    """§1 (v3): radiotherapy procedures with their dates, the latest first."""
    w = frame.words.summary
    events = list(reversed(frame.evaluation.radiotherapy))
    if not events:
        return None
    items = []
    for event in events[:RADIOTHERAPY_SHOWN]:
        if event.start is None:
            when = w.undated
        elif event.end and event.end != event.start:
            when = w.period.format(start=frame.day(event.start), end=frame.day(event.end))
        else:
            when = frame.day(event.start)
        items.append(
            w.radiotherapy_item.format(name=escape(event.name), when=when, source=event.source)
        )
    if len(events) > RADIOTHERAPY_SHOWN:
        items.append(w.radiotherapy_more.format(count=len(events) - RADIOTHERAPY_SHOWN))
    return w.radiotherapy.format(items="; ".join(items))


def _progression_text(frame: Frame) -> str | None:
    e = frame.evaluation
    w = frame.words.history
    p = e.progression
    if p is None:
        return None
    if e.next_line is not None and p.date and not p.estimated:
        return None  # "Where the patient stands" names it, with its source
    if p.date is None:
        return w.progression_undated.format(source=escape(p.source))
    if p.proxy:
        how = w.how_proxy
    elif p.estimated:
        how = w.how_partial_date
    else:
        how = w.how_recorded
    return w.progression.format(date=frame.day(p.date), source=escape(p.source), how=how)


def _platinum_text(frame: Frame, platinum: Platinum | None) -> str:
    w = frame.words.platinum
    t = frame.thresholds
    if platinum is None:
        return w.none
    text = w.last_dose.format(date=frame.day(platinum.last_dose))
    days = platinum.interval_days
    if days is not None:
        on = w.progression_estimated if platinum.estimated else w.progression
        text += "; " + on.format(date=frame.day(platinum.progression_date)) + ": "
        if days <= 0:
            text += w.refractory.format(interval=frame.interval_words(days))
        else:
            text += w.free_interval.format(
                days=frame.day_count(days), sensitivity=platinum.sensitivity
            )
            if platinum.annab_resistant:
                text += " " + w.both_definitions.format(
                    sensitive_days=t.sensitive_days, annab_days=t.annab_resistant_days
                )
            elif platinum.sensitivity == "resistant":
                text += " " + w.under_sensitive.format(sensitive_days=t.sensitive_days)
            if platinum.rechallenge_window:
                text += " " + w.rechallenge_window.format(window_days=t.rechallenge_window_days)
        if platinum.estimated:
            text += ". " + w.estimated
    elif platinum.sensitivity == "unknown":
        text += "; " + w.undated_relapse
    else:
        text += "; " + w.no_progression.format(
            days=frame.day_count(platinum.days_since_last_platinum)
        )
    return text + "."


def _patient_text(frame: Frame) -> str:
    e = frame.evaluation
    w = frame.words.patient
    age = e.patient.age
    if age is None:
        items = [w.age_unknown]
    else:
        items = [(w.age_estimated if e.patient.age_estimated else w.age).format(age=age)]
    # Values of one day together: "ECOG 0, ANC 3.4 x10^9/L on 2026-11-09".
    by_day: dict[tuple[str, bool], list[str]] = {}
    for reading in e.readings:
        shown = reading_words(reading, frame.words)
        by_day.setdefault((reading.day.isoformat(), reading.fresh), []).append(shown)
    for (day, fresh), values in by_day.items():
        item = w.readings.format(values=escape(", ".join(values)), day=escape(day))
        if not fresh:
            item += " " + w.stale.format(days=frame.thresholds.observation_max_age_days)
        items.append(item)
    if not e.readings:
        items.append(w.no_readings)
    text = w.heading.format(items="; ".join(items))
    if e.poor_performance is not None:
        poor = dated_reading(e.poor_performance, frame.words)
        text += "\n\n" + w.poor_performance.format(reading=escape(poor))
    return text
