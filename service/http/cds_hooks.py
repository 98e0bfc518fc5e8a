"""CDS Hooks endpoints: discovery, the services, and their feedback.

A service call is `service.hooks.call`'s, from the body's bytes to the answer's: the view
hands it the body and what the app knows (settings, FHIR access, the cache) and sends its
answer. JWT checks and the log line are request hooks of this blueprint.
"""

from __future__ import annotations

import functools
import time
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from service import hooks
from service.feedback import parse_feedback
from service.fetch.client import Limits
from service.hooks import call
from service.hooks.call import FhirAccess
from service.hooks.registry import Service
from service.http.auth import verify_bearer
from service.http.collector import freed_after_answer, paused_collector
from service.http.incoming import body_bytes, json_body
from service.http.inprocess import in_process_session
from service.http.log import log_call
from service.http.state import AppState, state
from service.settings import Settings

__all__ = ["blueprint"]

blueprint = Blueprint("hooks", __name__)

CALL = "hooks.call_service"
JSON = "application/json"
FEEDBACK = "hooks.feedback"


def _endpoint_url() -> str:
    """The URL a JWT's `aud` must name: SCLC_CDS_BASE_URL (required with JWTs) and the
    path called; never the request's Host header."""
    return f"{state().settings.base_url}{request.path}"


@blueprint.before_request
def _start_clock() -> None:
    g.started = time.perf_counter()


@blueprint.before_request
def _authenticate() -> None:
    """Service and feedback calls carry a verified JWT when SCLC_CDS_JWT_REQUIRED."""
    policy = state().settings.jwt
    if policy is None or request.method == "OPTIONS" or request.endpoint not in (CALL, FEEDBACK):
        return
    verify_bearer(
        request.headers.get("Authorization"),
        audience=_endpoint_url(),
        policy=policy,
        ledger=state().store,
    )


@blueprint.after_request
def _log_call(response: Response) -> Response:
    if request.method != "OPTIONS" and request.endpoint in (CALL, FEEDBACK):
        facts = g.get("facts") or call.Facts()
        log_call(
            event="hook" if request.endpoint == CALL else "feedback",
            service=g.get("service_id", "(unknown)"),
            hook_instance=facts.hook_instance if request.endpoint == CALL else None,
            cards=facts.cards,
            items=g.get("items"),
            fhir_requests=facts.fhir_requests,
            status=response.status_code,
            duration_ms=(time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
        )
    return response


@blueprint.get("/cds-services")
def discovery() -> dict[str, Any]:
    """Discovery: every service of the registry."""
    return hooks.discovery().dump()


def _fhir_access(settings: Settings, base_url: str) -> FhirAccess:
    """The FHIR servers this app's calls may read (SCLC_CDS_FHIR_*), its own fixture /fhir
    among them when the demo is on: as a client names it (under `base_url`, the service's
    SCLC_CDS_BASE_URL, else the URL this request came to: harmless, as that /fhir is read
    in process)."""
    own = None
    if settings.demo_enabled:
        base = f"{base_url}/fhir"
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        own = (base, functools.partial(in_process_session, app, base))
    return FhirAccess(
        limits=Limits(
            seconds=settings.fhir_budget_seconds,
            answer_bytes=settings.fhir_max_answer_bytes,
            call_bytes=settings.fhir_max_call_bytes,
            page_cap=settings.page_cap,
            timeouts=settings.timeouts,
        ),
        sessions=settings.session_factory,
        servers=settings.fhir_servers,
        own=own,
    )


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> Response:
    """A CDS service call: the body handed to `service.hooks.call`, its answer sent."""
    service = hooks.find_service(service_id)
    g.service_id = service.id
    app_state = state()
    settings = app_state.settings
    g.facts = facts = call.Facts()
    base_url = settings.base_url or request.host_url.rstrip("/")
    body = body_bytes()  # received in full before the collector is paused (issue 19)
    with paused_collector():  # a call frees what it allocates by reference counting
        response = _answer(service, body, settings, app_state, base_url, facts)
    return response


def _answer(
    service: Service,
    body: bytes,
    settings: Settings,
    app_state: AppState,
    base_url: str,
    facts: call.Facts,
) -> Response:
    """The call's answer, computed with the collector paused; what it read is freed once
    the answer is sent."""
    answered = call.answer(
        call.Call(
            service=service,
            body=body,
            declared_bytes=request.content_length,
            today=settings.evaluation_date(),
            thresholds=settings.thresholds,
            base_url=base_url,
            fhir=_fhir_access(settings, base_url),
            cache=app_state.cache,
            facts=facts,
            compact=_compact_json(),
        )
    )
    response = current_app.response_class(answered.body, mimetype=JSON)
    # the parsed body and what was read from it are freed once the answer is sent
    return freed_after_answer(response, *answered.held)


def _compact_json() -> bool:
    """Whether the app's JSON provider writes compact JSON (not in debug mode)."""
    compact = current_app.json.compact  # type: ignore[attr-defined]
    return bool(compact) if compact is not None else not current_app.debug


@blueprint.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> dict[str, Any]:
    """Feedback on this service's cards, stored once per distinct item; 503 (nothing
    acknowledged, send again) when the database does not answer."""
    service = hooks.find_service(service_id)
    g.service_id = service.id
    items = parse_feedback(json_body())
    g.items = len(items)
    stored = state().store.add_feedback(service.id, items)  # StoreUnavailable: 503
    return {"received": len(items), "stored": stored}
