"""CDS Hooks endpoints: discovery, the services, and their feedback.

Each view parses, gathers the record, calls the registry's handler and serialises;
the clinical work is the engine's and `service.cards`'. JWT checks and the log line
are request hooks of this blueprint.
"""

from __future__ import annotations

import time
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, g, request

from service import hooks
from service.engine import Thresholds
from service.errors import InputError, PrefetchUnavailable
from service.feedback import parse_feedback
from service.fhir.client import FhirClient, Gathered, Limits, gather, template_values
from service.fhir.urls import allowed, same_url
from service.http.auth import verify_bearer
from service.http.body import body_bytes, json_body, loads, sent_prefetch
from service.http.collector import collector_paused, freed_after_answer
from service.http.inprocess import in_process_session
from service.http.log import log_call
from service.http.state import state
from service.pipeline import CONTENT_BYTES_EACH, assess, cache_of
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


def _own_fhir_base(settings: Settings) -> str:
    """The service's own fixture /fhir, as a client names it (SCLC_CDS_BASE_URL, else the
    URL this request came to: harmless, as that /fhir is read in process)."""
    base = settings.base_url or request.host_url.rstrip("/")
    return f"{base}/fhir"


def _fhir_client(settings: Settings, hook_request: hooks.HookRequest) -> FhirClient | str | None:
    """The client for the request's fhirServer, or why it is not used (issue 9 defaults).

    - the service's own fixture /fhir (demo on): read in process, with the request's
      fhirAuthorization when it has one (SCLC_CDS_DEMO_FHIR_AUTH requires it there);
    - otherwise only a server SCLC_CDS_FHIR_SERVERS allows (none when unset), and only
      with the request's fhirAuthorization ("If the CDS Client provides both fhirServer
      and fhirAuthorization… the CDS Service MAY use the FHIR server").
    """
    server = hook_request.fhir_server
    if server is None:
        return None
    limits = Limits(
        seconds=settings.fhir_budget_seconds,
        answer_bytes=settings.fhir_max_answer_bytes,
        call_bytes=settings.fhir_max_call_bytes,
        page_cap=settings.page_cap,
        timeouts=settings.timeouts,
    )
    own = _own_fhir_base(settings)
    if settings.demo_enabled and same_url(server, own):
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        return FhirClient(
            own,
            token=hook_request.fhir_token,
            sessions=lambda: in_process_session(app, own),
            limits=limits,
        )
    if settings.fhir_servers is None:
        return (
            "the service queries no fhirServer but its own fixture /fhir; "
            "SCLC_CDS_FHIR_SERVERS names the servers it may query"
        )
    if not allowed(server, settings.fhir_servers):
        return "the request's fhirServer is not one SCLC_CDS_FHIR_SERVERS allows"
    if hook_request.fhir_token is None:
        return "a fhirServer is used only with the request's fhirAuthorization"
    return FhirClient(
        server, token=hook_request.fhir_token, sessions=settings.session_factory, limits=limits
    )


def _gather(service: hooks.Service, hook_request: hooks.HookRequest) -> Gathered:
    """The patient's data: prefetch first, then the FHIR server for missing keys, within
    the call's FHIR budget and byte caps."""
    settings = state().settings
    found = _fhir_client(settings, hook_request)
    client = found if isinstance(found, FhirClient) else None
    try:
        return gather(
            service.prefetch,
            prefetch=hook_request.prefetch,
            context=hook_request.context,
            client=client,
        )
    except PrefetchUnavailable:
        if isinstance(found, str):
            raise PrefetchUnavailable(f"prefetch is incomplete and {found}") from None
        raise
    finally:
        if client is not None:
            g.fhir_requests = client.requests_made
            client.close()


def _sent_again(
    service: hooks.Service,
    raw: bytes,
    *,
    today: date,
    thresholds: Thresholds,
    base_url: str,
) -> tuple[tuple[Any, ...], hooks.HookRequest] | None:
    """A request's key of `AssessmentCache.recall`, and the request read without its
    prefetch (`sent_prefetch`). The key holds everything a call's assessment depends on
    when no key is fetched: the service (its templates), the context's values for their
    tokens (what renders them), the patient, the date, thresholds and card base URL, and
    the prefetch, byte for byte as sent. None when the body cannot be cut so, or the
    request or its templates are refused (the whole body is read then, and the call
    refused with its own message)."""
    sent = sent_prefetch(raw)
    if sent is None:
        return None
    try:
        hook_request = hooks.parse_hook_request(sent.rest, hook=service.hook)
        templates = template_values(service.prefetch.values(), hook_request.context)
    except InputError:
        return None
    key = (service.id, templates, hook_request.patient_id, today, thresholds, base_url)
    return (*key, sent.prefetch), hook_request


@blueprint.post("/cds-services/<service_id>")
@collector_paused  # a call frees what it allocates by reference counting
def call_service(service_id: str) -> Response:
    """A CDS service call: request → record → handler → cards."""
    service = hooks.find_service(service_id)
    g.service_id = service.id
    raw = body_bytes()
    settings = state().settings
    today = settings.evaluation_date()
    base_url = settings.base_url or request.host_url.rstrip("/")
    cache = cache_of(current_app.extensions)
    # A request with the very prefetch and context of one answered before (a chart opened
    # again; only hookInstance, the user or the access token differ) is answered without
    # parsing its prefetch; one whose answer came partly from the FHIR server is never
    # remembered, nor a body over CONTENT_BYTES_EACH (or of no stated length).
    size = request.content_length
    keyed = (
        _sent_again(service, raw, today=today, thresholds=settings.thresholds, base_url=base_url)
        if size is not None and size <= CONTENT_BYTES_EACH
        else None
    )
    assessment = cache.recall(keyed[0]) if keyed is not None else None
    gathered = body = None
    if keyed is not None and assessment is not None:
        hook_request = keyed[1]
        g.hook_instance = hook_request.hook_instance
    else:
        body = loads(raw)
        g.hook_instance = body.get("hookInstance") if isinstance(body, dict) else None
        hook_request = hooks.parse_hook_request(body, hook=service.hook)
        gathered = _gather(service, hook_request)
        assessment = assess(
            gathered.resources,
            patient_id=hook_request.patient_id,
            today=today,
            thresholds=settings.thresholds,
            warnings=gathered.warnings,
            base_url=base_url,
            cache=cache,  # a record read before: answered once its reading is planned
        )
        if keyed is not None and not gathered.fetched:
            cache.remember(keyed[0], len(keyed[0][-1]), assessment)
    cards = service.handler(hook_request, assessment)
    g.cards = len(cards)
    if cards is assessment.cards and _compact_json():  # patient-view: encoded once
        response = current_app.response_class(f"{assessment.cards_answer}\n", mimetype=JSON)
    else:
        response = current_app.make_response({"cards": cards})
    # the parsed body and what was read from it are freed once the answer is sent
    return freed_after_answer(response, raw, body, keyed, hook_request, gathered)


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
