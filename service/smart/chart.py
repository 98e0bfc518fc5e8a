"""What a patient's page shows, as JSON: header, timeline, ranked options with their full
evidence, the trial pre-screen and the cards.

One builder for both pages that draw a patient: the SMART app (`service.smart.views`, the
record read from the EHR's FHIR server with the user's token) and the demo's pasted
bundle (`service.demo.pages`). Both take an `Assessment` from `service.pipeline.assess`,
so the page shows what the hook answers. No Flask and no I/O here: the knowledge base is
passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from service.cards.phrases import note_words
from service.engine.model import Evaluation, Line, ProcedureEvent
from service.knowledge import Knowledge
from service.pipeline import Assessment

__all__ = ["chart", "display_name", "header", "options", "timeline", "trials"]


def display_name(patient: Mapping[str, Any]) -> str:
    """The patient's name as a header shows it (`text`, else given and family names)."""
    for name in patient.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("given", []), name.get("family", "")]
        text = " ".join(str(p) for p in parts if p)
        if text:
            return text
    return f"Patient {patient.get('id', '')}".strip()


def _maintenance_from(line: Line) -> date | None:
    if not line.maintenance_agents:
        return None
    others = [e.end for e in line.exposures if e.agent not in line.maintenance_agents]
    return max(others) if others else line.start


def _procedure_order(event: ProcedureEvent) -> tuple[date, str]:
    return (event.start or date.min, event.source)


def timeline(evaluation: Evaluation) -> dict[str, Any]:
    """What the page draws: bars, markers and the platinum-free interval label."""
    e = evaluation
    platinum = None
    if e.platinum is not None:
        label = None
        estimated = ", estimated" if e.platinum.estimated else ""
        if e.platinum.sensitivity == "refractory":
            # §7 (v3): never a negative number of days.
            label = f"Progressed during platinum therapy (refractory{estimated})"
        elif e.platinum.interval_days is not None:
            label = (
                f"Platinum-free interval: {e.platinum.interval_days} "
                f"{'day' if e.platinum.interval_days == 1 else 'days'} "
                f"({e.platinum.sensitivity}{estimated})"
            )
        platinum = {
            "last_dose": e.platinum.last_dose.isoformat(),
            "interval_days": e.platinum.interval_days,
            "sensitivity": e.platinum.sensitivity,
            "estimated": e.platinum.estimated,
            "progression_date": (
                e.platinum.progression_date.isoformat() if e.platinum.progression_date else None
            ),
            "label": label,
        }
    if not e.diagnosis.sclc:
        note = "Not small-cell lung cancer: the service gives no cards for this patient."
    elif not e.lines and e.systemic_procedures:
        # §1 (v3): never "no systemic therapy" while a Procedure records some.
        note = "Systemic therapy is recorded only as procedures, which name no drug: no line."
    elif not e.lines:
        note = "No systemic therapy for SCLC is recorded."
    elif e.platinum is not None and e.platinum.interval_days is None:
        note = (
            f"No progression after the last platinum line; last platinum dose "
            f"{e.platinum.days_since_last_platinum} days ago."
        )
    else:
        note = None
    return {
        "today": e.today.isoformat(),
        "diagnosed": e.diagnosis.diagnosed.isoformat() if e.diagnosis.diagnosed else None,
        "lines": [
            {
                **line.to_json(),
                "maintenance_from": (
                    m.isoformat() if (m := _maintenance_from(line)) is not None else None
                ),
            }
            for line in e.lines
        ],
        "progression": e.progression.to_json() if e.progression else None,
        # §1 (v3): radiotherapy and systemic therapy recorded as procedures, never lines.
        "procedures": [
            {
                "kind": p.kind,
                "name": p.name,
                "start": p.start.isoformat(),
                "end": (p.end or p.start).isoformat(),
                "source": p.source,
            }
            for p in sorted({*e.radiotherapy, *e.systemic_procedures}, key=_procedure_order)
            if p.start is not None
        ],
        "platinum": platinum,
        "note": note,
    }


def header(resource: Mapping[str, Any] | None, evaluation: Evaluation) -> dict[str, Any]:
    """The patient banner: name, sex, birth date and age, diagnosis."""
    resource = resource or {}
    d = evaluation.diagnosis
    diagnosis = (
        f"small-cell lung cancer, {d.stage or 'unknown'} stage" if d.sclc else "no SCLC recorded"
    )
    return {
        "name": display_name(resource),
        "gender": resource.get("gender"),
        "birth_date": resource.get("birthDate"),
        "age": evaluation.patient.age,
        "deceased": evaluation.patient.deceased,
        "diagnosis": diagnosis,
        "diagnosed": d.diagnosed.isoformat() if d.diagnosed else None,
    }


def _source(knowledge: Knowledge, document: str, url: str | None = None) -> dict[str, Any]:
    source = knowledge.source_for(document)
    return {"label": source.short_label, "title": source.title, "url": url or source.url}


def options(evaluation: Evaluation, knowledge: Knowledge) -> list[dict[str, Any]]:
    """Every option shown at the decision point, ranked as the options card ranks them,
    with its full evidence from the knowledge base (what `/evidence/<id>` shows)."""
    e = evaluation
    if e.next_line is None:
        return []
    shown = []
    for rank, result in enumerate(e.options, start=1):
        option = knowledge.option(result.id)
        shown.append(
            {
                "rank": rank,
                "id": option.id,
                "title": option.title,
                "status": result.status,
                "regimen": option.regimen,
                "when": option.when,
                "key_figure": option.key_figure_for(e.next_line),
                "key_figure_source": _source(knowledge, option.key_figure_document),
                "evidence": [
                    {"text": item.text, "source": _source(knowledge, item.document)}
                    for item in option.evidence_for(e.next_line)
                ],
                "population": option.population,
                "population_notes": [
                    note_words(n, knowledge.wording) for n in e.notes_for(option.id)
                ],
                # §4 (v3): drugs given for another cancer, which do not hide the option.
                "other_cancer_notes": [
                    note_words(n, knowledge.wording) for n in e.other_cancer_for(option.id)
                ],
                "safety": list(option.safety),
                "availability": option.availability,
                "notes": list(option.notes),
                "sources": [
                    {**_source(knowledge, c.document, c.url), "cited": c.label}
                    for c in option.citations
                ],
            }
        )
    return shown


def trials(evaluation: Evaluation, knowledge: Knowledge) -> list[dict[str, Any]]:
    """The trial pre-screen: each criterion in the trial's own words and its result."""
    found = []
    for result in evaluation.trials:
        trial = knowledge.trial(result.id)
        wording = {c.criterion: c.description for c in trial.criteria}
        found.append(
            {
                "id": trial.nct_id,
                "title": trial.title,
                "phase": trial.phase,
                "url": trial.url,
                "regimen": trial.regimen,
                "verdict": result.verdict,
                "criteria": [
                    {
                        "criterion": wording.get(c.criterion, c.criterion),
                        "result": c.result,
                        "detail": note_words(c.detail, knowledge.wording)
                        if c.detail is not None
                        else None,
                    }
                    for c in result.criteria
                ],
                "not_prescreened": [c.description for c in trial.not_prescreened],
            }
        )
    return found


def chart(
    assessment: Assessment, patient: Mapping[str, Any] | None, knowledge: Knowledge
) -> dict[str, Any]:
    """Everything a patient page draws, from one assessment."""
    e = assessment.evaluation
    return {
        "header": header(patient, e),
        "evaluation": e.to_json(),
        "timeline": timeline(e),
        "options": options(e, knowledge),
        "trials": trials(e, knowledge),
        "cards": assessment.cards,
    }
