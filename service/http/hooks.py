"""CDS Hooks endpoints: discovery, the services, and their feedback.

Each view parses, gathers the record, calls the registry's handler and serialises;
the clinical work is the engine's and `service.cards`'. JWT checks and the log line
are request hooks of this blueprint.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, g, request

from service import hooks
from service.errors import PrefetchUnavailable
from service.feedback import parse_feedback
from service.fhir.client import FhirClient, Gathered, gather
from service.http.auth import verify_bearer
from service.http.body import json_body
from service.http.log import log_call
from service.http.state import state
from service.pipeline import assess

__all__ = ["blueprint"]

blueprint = Blueprint("hooks", __name__)

CALL = "hooks.call_service"
FEEDBACK = "hooks.feedback"


def _endpoint_url() -> str:
    """The URL the client called, as a JWT's `aud` must name it."""
    base_url = state().settings.base_url
    return f"{base_url}{request.path}" if base_url else request.base_url


@blueprint.before_request
def _start_clock() -> None:
    g.started = time.perf_counter()


@blueprint.before_request
def _authenticate() -> None:
    """Service and feedback calls carry a verified JWT when SCLC_CDS_JWT_REQUIRED."""
    policy = state().settings.jwt
    if policy is None or request.method == "OPTIONS" or request.endpoint not in (CALL, FEEDBACK):
        return
    verify_bearer(request.headers.get("Authorization"), audience=_endpoint_url(), policy=policy)


@blueprint.after_request
def _log_call(response: Response) -> Response:
    if request.method != "OPTIONS" and request.endpoint in (CALL, FEEDBACK):
        log_call(
            event="hook" if request.endpoint == CALL else "feedback",
            service=g.get("service_id", "(unknown)"),
            hook_instance=g.get("hook_instance") if request.endpoint == CALL else None,
            cards=g.get("cards"),
            items=g.get("items"),
            fhir_requests=g.get("fhir_requests"),
            status=response.status_code,
            duration_ms=(time.perf_counter() - g.get("started", time.perf_counter())) * 1000,
        )
    return response


@blueprint.get("/cds-services")
def discovery() -> dict[str, Any]:
    """Discovery: every service of the registry."""
    return hooks.discovery().dump()


def _gather(service: hooks.Service, hook_request: hooks.HookRequest) -> Gathered:
    """The patient's data: prefetch first, then the FHIR server for missing keys."""
    settings = state().settings
    session, client = None, None
    # Not an open relay: only the FHIR servers the deployment names are queried; with
    # another, the request is answered from its prefetch alone.
    server = hook_request.fhir_server
    refused = server is not None and not settings.may_query(server)
    if server is not None and not refused:
        session = settings.session_factory()
        client = FhirClient(
            server,
            token=hook_request.fhir_token,
            session=session,
            page_cap=settings.page_cap,
            timeouts=settings.timeouts,
        )
    try:
        return gather(
            service.prefetch,
            prefetch=hook_request.prefetch,
            context=hook_request.context,
            client=client,
        )
    except PrefetchUnavailable:
        if refused:
            raise PrefetchUnavailable(
                "prefetch is incomplete and the request's fhirServer is not one the service "
                "may query (SCLC_CDS_FHIR_SERVERS)"
            ) from None
        raise
    finally:
        if client is not None:
            g.fhir_requests = client.requests_made
        if session is not None:
            session.close()


@blueprint.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    """A CDS service call: request → record → handler → cards."""
    service = hooks.find_service(service_id)
    g.service_id = service.id
    body = json_body()
    g.hook_instance = body.get("hookInstance") if isinstance(body, dict) else None
    hook_request = hooks.parse_hook_request(body, hook=service.hook)
    gathered = _gather(service, hook_request)
    settings = state().settings
    assessment = assess(
        gathered.resources,
        patient_id=hook_request.patient_id,
        today=settings.evaluation_date(),
        thresholds=settings.thresholds,
        warnings=gathered.warnings,
    )
    cards = service.handler(hook_request, assessment)
    g.cards = len(cards)
    return {"cards": cards}


@blueprint.post("/cds-services/<service_id>/feedback")
def feedback(service_id: str) -> dict[str, Any]:
    """Feedback on this service's cards, stored once per distinct item."""
    service = hooks.find_service(service_id)
    g.service_id = service.id
    items = parse_feedback(json_body())
    g.items = len(items)
    stored = state().feedback.add(service.id, items)
    return {"received": len(items), "stored": stored}
