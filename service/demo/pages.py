"""`/demo`: a small EHR-like page to try the service in a browser.

The page lists the fixture patients; picking one launches the SMART app (`/app`) on the
service's own fixture `/fhir`, as an EHR launches it (`static/demo.js`). A pasted
bundle is shown on the page itself: its chart from `/demo/api/evaluate` (the same
builder as the app's, `service.smart.chart`) and its cards from the service's own
`patient-view` endpoint, called as an EHR would.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from service.demo.fixture_fhir import fixture_store
from service.errors import NotFound
from service.fhir import resources_from_json
from service.http.incoming import json_body
from service.http.state import evaluation_date, state
from service.knowledge import load_knowledge
from service.pipeline import assess
from service.smart.chart import chart, display_name

__all__ = ["blueprint"]

blueprint = Blueprint(
    "demo",
    __name__,
    static_folder="static",
    static_url_path="/demo/static",
    template_folder="templates",
)


@blueprint.get("/demo")
@blueprint.get("/demo/")
def page() -> Response:
    """The demo page."""
    return Response(
        render_template("demo.html"), mimetype="text/html", headers={"Cache-Control": "no-cache"}
    )


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
            listing.append(
                {"id": patient.get("id"), "name": display_name(patient), "scenario": scenario}
            )
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


@blueprint.post("/demo/api/evaluate")
def evaluate_bundle() -> Response:
    """Evaluate a posted Bundle: header, evaluation, timeline, options, trials, cards."""
    document = json_body()
    resources, warnings = resources_from_json(document, origin="posted bundle")
    settings = state().settings
    assessment = assess(
        resources,
        patient_id=None,
        today=evaluation_date(),
        thresholds=settings.thresholds,
        warnings=warnings,
        base_url=settings.base_url or request.host_url.rstrip("/"),
    )
    patient_id = assessment.evaluation.patient.id
    raw_patient = next(
        (
            r.resource
            for r in resources
            if r.resource.get("resourceType") == "Patient" and r.resource.get("id") == patient_id
        ),
        None,
    )
    return jsonify(chart(assessment, raw_patient, load_knowledge()))
