"""`/demo`: a small EHR-like page to try the service in a browser.

The page (static HTML, JS and SVG in `static/`) lists the fixture patients, draws the
treatment timeline from `/demo/api/evaluate`, and fetches its cards from the service's
own `patient-view` endpoint, as an EHR would.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify

from service.engine.model import Evaluation, Line
from service.errors import NotFound
from service.fhir import resources_from_json
from service.http.body import json_body
from service.http.fhir import fixture_store
from service.http.state import evaluation_date, state
from service.pipeline import assess

__all__ = ["blueprint", "timeline"]

blueprint = Blueprint("demo", __name__, static_folder="static", static_url_path="/demo/static")


@blueprint.get("/demo")
@blueprint.get("/demo/")
def page() -> Response:
    """The demo page (read whole: it is small, and nothing stays open)."""
    html = (Path(__file__).parent / "static" / "demo.html").read_bytes()
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-cache"})


def _name(patient: dict[str, Any]) -> str:
    for name in patient.get("name") or []:
        if name.get("text"):
            return str(name["text"])
        parts = [*name.get("given", []), name.get("family", "")]
        text = " ".join(str(p) for p in parts if p)
        if text:
            return text
    return f"Patient {patient.get('id', '')}".strip()


@blueprint.get("/demo/api/patients")
def patients() -> Response:
    """The fixture patients: id, display name and scenario."""
    store = fixture_store()
    listing = []
    for scenario in store.scenarios():
        bundle = store.bundle(scenario) or {}
        patient = next(
            (
                e["resource"]
                for e in bundle.get("entry", [])
                if e.get("resource", {}).get("resourceType") == "Patient"
            ),
            None,
        )
        if patient is not None:
            listing.append({"id": patient.get("id"), "name": _name(patient), "scenario": scenario})
    return jsonify(listing)


@blueprint.get("/demo/api/patients/<patient_id>")
def patient_bundle(patient_id: str) -> Response:
    """A fixture patient's Bundle, as the fixture file has it."""
    store = fixture_store()
    scenario = store.scenario_of(patient_id)
    bundle = store.bundle(scenario) if scenario else None
    if bundle is None:
        raise NotFound("no fixture patient with that id")
    return jsonify(bundle)


def _maintenance_from(line: Line) -> date | None:
    if not line.maintenance_agents:
        return None
    others = [e.end for e in line.exposures if e.agent not in line.maintenance_agents]
    return max(others) if others else line.start


def timeline(evaluation: Evaluation) -> dict[str, Any]:
    """What the page draws: bars, markers and the platinum-free interval label."""
    e = evaluation
    platinum = None
    if e.platinum is not None:
        label = None
        if e.platinum.interval_days is not None:
            label = (
                f"Platinum-free interval: {e.platinum.interval_days} days "
                f"({e.platinum.sensitivity}{', estimated' if e.platinum.estimated else ''})"
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
        "platinum": platinum,
        "note": note,
    }


def _header(resource: dict[str, Any] | None, evaluation: Evaluation) -> dict[str, Any]:
    resource = resource or {}
    d = evaluation.diagnosis
    diagnosis = (
        f"small-cell lung cancer, {d.stage or 'unknown'} stage" if d.sclc else "no SCLC recorded"
    )
    return {
        "name": _name(resource),
        "gender": resource.get("gender"),
        "birth_date": resource.get("birthDate"),
        "age": evaluation.patient.age,
        "deceased": evaluation.patient.deceased,
        "diagnosis": diagnosis,
        "diagnosed": d.diagnosed.isoformat() if d.diagnosed else None,
    }


@blueprint.post("/demo/api/evaluate")
def evaluate_bundle() -> Response:
    """Evaluate a posted Bundle: header, evaluation (without cards) and timeline."""
    document = json_body()
    resources, warnings = resources_from_json(document, origin="posted bundle")
    assessment = assess(
        resources,
        patient_id=None,
        today=evaluation_date(),
        thresholds=state().settings.thresholds,
        warnings=warnings,
    )
    result = assessment.evaluation
    patient_id = result.patient.id
    raw_patient = next(
        (
            r.resource
            for r in resources
            if r.resource.get("resourceType") == "Patient" and r.resource.get("id") == patient_id
        ),
        None,
    )
    return jsonify(
        {
            "header": _header(raw_patient, result),
            "evaluation": result.to_json(),
            "timeline": timeline(result),
        }
    )
