"""`/app`: the SMART App Launch 2.0 app, the relapse timeline and everything the hook says.

The blueprint, its views thin:

1. `GET /app/launch?iss=…&launch=…` (EHR launch, as a CDS Hooks `smart` card link opens
   it) or `GET /app/launch?iss=…` (standalone; `GET /app/` is a small form for it): off
   to the EHR's authorization endpoint (`service.smart.launch`).
2. `GET /app/callback`: the EHR's answer, a refusal or a code exchanged for the token
   (`service.smart.launch`); then on to the page.
3. `GET /app/view`: the page (`templates/app.html`, drawn by `static/chart.js`) of the
   token's patient: header, timeline, summary, ranked options with their full evidence,
   the trial pre-screen, the cards. Its data is `GET /app/api/record`: the hook's own
   prefetch queries (`service.hooks.PREFETCH`) read from `iss` with the user's token,
   every page followed, within the settings' FHIR limits, then `service.pipeline.assess`.

The launch under way and then its grant live server side; the cookie holds an opaque
id (`service.smart.session_cookie`), and no token is ever in a cookie, a URL, a page or
the log. Away from loopback the app answers over https only (the request's, or a public
`https://` SCLC_CDS_BASE_URL in front of it): over plain http its sign-in could be read on
the way, so every page says so instead (403). A session that is missing or expired, or a token the
FHIR server refuses (401), gets "Your session has expired; launch the app again from the
EHR", never a blank page: every failure is a `Message` (`service.smart.messages`), which
the pages answer as HTML and `/app/api/*` as OperationOutcomes the page shows.
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Response, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from service.errors import PrefetchUnavailable, SclcCdsError
from service.fetch.client import FhirClient, Limits, SessionFactory
from service.fetch.gather import gather
from service.fetch.urls import is_loopback
from service.hooks import PREFETCH
from service.http.error_handlers import operation_outcome
from service.http.log import log_error
from service.http.openapi import html, responses
from service.http.openapi import redirect as redirection
from service.http.state import state
from service.knowledge import load_knowledge
from service.pipeline import assess
from service.settings import Settings
from service.smart.chart import chart
from service.smart.launch import (
    authorization_url,
    current_grant,
    fhir_server,
    finish_launch,
    service_base,
)
from service.smart.messages import Message, expired
from service.smart.session_cookie import send_cookie

__all__ = ["blueprint"]

blueprint = Blueprint(
    "smart_app",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# The OpenAPI description of the pages: HTML, a message page for every failure.
_MESSAGE = {"default": html("A page saying what went wrong and what to do")}


# --- messages: what the user sees instead of a blank page ------------------------------


def _api() -> bool:
    return request.path.startswith("/app/api/")


def _message_response(status: int, title: str, detail: str = "") -> Response:
    if _api():
        return operation_outcome(status, "login" if status == 401 else "processing", title)
    # Where a new start is made: the demo EHR when there is one, else the launch form.
    again = "/demo" if state().settings.demo_enabled else "/app/"
    html = render_template("message.html", title=title, detail=detail, again=again)
    return Response(html, status=status, mimetype="text/html")


@blueprint.errorhandler(Exception)
def _error(error: Exception) -> Response:
    """Every failure of the app as a message: an HTML page, or an OperationOutcome for
    the page's script; the log gets the class of unexpected ones only."""
    if request.endpoint in (None, "smart_app.static"):  # not a page of the app: JSON
        if isinstance(error, HTTPException):
            return operation_outcome(error.code or 500, "not-found", error.name)
        log_error(error)
        return operation_outcome(500, "exception", "the service failed unexpectedly")
    if isinstance(error, Message):
        return _message_response(error.status, error.title, error.detail)
    if isinstance(error, SclcCdsError):
        return _message_response(error.status, str(error) or error.__class__.__name__)
    if isinstance(error, HTTPException):
        return _message_response(error.code or 500, error.name)
    log_error(error)
    return _message_response(500, "The app failed unexpectedly; the error is logged.")


def _over_plain_http_off_loopback() -> bool:
    """Whether this request reached the app over plain http from away from this machine:
    neither the request nor the public URL (SCLC_CDS_BASE_URL, a TLS proxy in front) is
    https, and the public host or the caller is not loopback."""
    base_url = state().settings.base_url
    if request.is_secure or (base_url or "").startswith("https:"):
        return False
    host = urlsplit(base_url or request.host_url).hostname or ""
    return not (is_loopback(host) and is_loopback(request.remote_addr or ""))


@blueprint.before_request
def _https_only() -> None:
    if request.endpoint != "smart_app.static" and _over_plain_http_off_loopback():
        raise Message(
            403,
            "The app is served over https only.",
            "Open it at its https:// address: over plain http the EHR's sign-in could be "
            "read on the way. Nothing was read or kept.",
        )


@blueprint.after_request
def _headers(response: Response) -> Response:
    # Authorization codes travel in the callback's URL: keep pages out of caches and
    # their URLs out of the Referer of any link the page holds.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return send_cookie(response)


# --- the launch ------------------------------------------------------------------------


@blueprint.get("/")
@responses({"200": html("The standalone launch form"), **_MESSAGE})
def start() -> Response:
    """The standalone launch form: which FHIR server to sign in to."""
    settings = state().settings
    own = f"{service_base(settings)}/fhir" if settings.demo_enabled else ""
    html = render_template("app_start.html", default_iss=own)
    return Response(html, mimetype="text/html")


@blueprint.get("/launch")
@responses({"302": redirection("To the EHR's authorization endpoint"), **_MESSAGE})
def launch() -> Response:
    """EHR launch (`iss` and `launch`) or standalone launch (`iss`): off to the EHR's
    authorization endpoint."""
    iss = request.args.get("iss", "").strip()
    if not iss:
        raise Message(400, "The launch names no FHIR server (iss).", "Open the app from the EHR.")
    url = authorization_url(iss, launch_id=request.args.get("launch") or None)
    return cast(Response, redirect(url))


@blueprint.get("/callback")
@responses({"302": redirection("To the app's page"), **_MESSAGE})
def callback() -> Response:
    """The EHR's answer: a refusal, or a code to exchange for the token."""
    finish_launch(request.url, request.args)
    return cast(Response, redirect(f"{service_base(state().settings)}/app/view"))


# --- the page and its data -------------------------------------------------------------


@blueprint.get("/view")
@responses({"200": html("The app's page"), **_MESSAGE})
def view() -> Response:
    """The app's page for the session's patient (its data comes from /app/api/record)."""
    current_grant()
    return Response(render_template("app.html"), mimetype="text/html")


class _Watch:
    """Notes whether any answer of the FHIR server was 401 (the token was refused)."""

    def __init__(self) -> None:
        self.refused = False

    def sessions(self, factory: SessionFactory) -> SessionFactory:
        def make() -> requests.Session:
            made = factory()
            made.hooks["response"].append(self._see)
            return made

        return make

    def _see(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code == 401:
            self.refused = True


def _limits(settings: Settings) -> Limits:
    return Limits(
        seconds=settings.fhir_budget_seconds,
        answer_bytes=settings.fhir_max_answer_bytes,
        call_bytes=settings.fhir_max_call_bytes,
        page_cap=settings.page_cap,
        timeouts=settings.timeouts,
    )


@blueprint.get("/api/record")
def record() -> Response:
    """The session's patient, read from the EHR with the user's token and assessed: the
    header, timeline, options with evidence, trial pre-screen and cards."""
    grant = current_grant()
    settings = state().settings
    server = fhir_server(grant["iss"])
    patient = str(grant["patient"])
    watch = _Watch()
    client = FhirClient(
        server.base,
        token=str(grant["access_token"]),
        sessions=watch.sessions(server.sessions),
        limits=_limits(settings),
    )
    try:
        gathered = gather(PREFETCH, prefetch={}, context={"patientId": patient}, client=client)
    except PrefetchUnavailable:
        if watch.refused:
            raise expired() from None
        raise Message(502, "The EHR's FHIR server could not be read for this patient.") from None
    finally:
        client.close()
    resource = next(
        (
            r.resource
            for r in gathered.resources
            if r.resource.get("resourceType") == "Patient" and r.resource.get("id") == patient
        ),
        None,
    )
    if resource is None:
        raise Message(502, "The EHR's FHIR server has no record of this patient.")
    assessment = assess(
        gathered.resources,
        patient_id=patient,
        today=settings.evaluation_date(),
        thresholds=settings.thresholds,
        warnings=gathered.warnings,
        base_url=service_base(settings),
    )
    body = chart(assessment, resource, load_knowledge())
    return jsonify({**body, "server": server.base})
