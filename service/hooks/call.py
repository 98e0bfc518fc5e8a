"""One hook call, from the request's bytes to the answer's bytes.

`answer(call)` is the whole path of a `POST /cds-services/{id}`, in order:

1. the request-content key (`_sent_again`): the body cut around its prefetch, unparsed
   (`service.hooks.body.sent_prefetch`), and everything the assessment depends on;
2. the cache (`service.cache.AssessmentCache.recall`): a chart sent again is answered
   here, its prefetch never parsed;
3. otherwise the body parsed once (`service.hooks.body.loads`) and read as a request;
4. gathered: the prefetch, then the request's FHIR server for missing keys (`_gather`,
   with `fhir_client`'s policy of which server may be read), within the call's budget;
5. assessed (`service.pipeline.assess`: record, evaluation, cards), the cache consulted
   again once the reader has planned what it reads, and the assessment remembered under
   the request's key unless part of it was fetched;
6. the service's cards (its registry handler) and the answer encoded as JSON.

The Flask view (`service.http.cds_hooks`) hands it the body and what the app knows, and sends
back `Answer.body`; it is the only caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from service.cache import CONTENT_BYTES_EACH, AssessmentCache
from service.engine import Thresholds
from service.errors import InputError, PrefetchUnavailable
from service.fetch.client import FhirClient, Limits, SessionFactory
from service.fetch.gather import Gathered, gather
from service.fetch.templates import template_values
from service.fetch.urls import allowed, same_url
from service.hooks.body import loads, sent_prefetch
from service.hooks.registry import Service
from service.hooks.request import HookRequest, parse_hook_request
from service.pipeline import assess, cards_json

__all__ = ["Answer", "Call", "FhirAccess", "Facts", "answer", "fhir_client"]


@dataclass(slots=True)
class Facts:
    """What the call's log line says of it, filled in as the call goes, so that a call
    refused halfway is logged with what was known by then (no patient data)."""

    hook_instance: Any = None  # as sent; the log writes only what looks like a token
    cards: int | None = None
    fhir_requests: int | None = None


@dataclass(frozen=True, slots=True)
class FhirAccess:
    """Which FHIR servers a call may read, and how (SCLC_CDS_FHIR_* settings).

    `own` is the service's own fixture `/fhir` as a client names it, with the session
    that reads it in process (the demo; None when it is off); `servers` the prefixes
    SCLC_CDS_FHIR_SERVERS allows (None: none but `own`).
    """

    limits: Limits
    sessions: SessionFactory
    servers: tuple[str, ...] | None
    own: tuple[str, SessionFactory] | None = None


@dataclass(frozen=True, slots=True)
class Call:
    """What one hook call is made of: the service called, the body as sent, and what the
    app decides (date, thresholds, where the cards link, FHIR access, the cache)."""

    service: Service
    body: bytes
    declared_bytes: int | None  # Content-Length; None when not stated
    today: date
    thresholds: Thresholds
    base_url: str
    fhir: FhirAccess
    cache: AssessmentCache
    facts: Facts
    compact: bool = True  # JSON without spaces (the app's provider outside debug mode)


@dataclass(frozen=True, slots=True)
class Answer:
    """The encoded answer; `held` is what the call read, for the caller to free once the
    answer is sent (`service.http.collector.freed_after_answer`)."""

    body: str
    held: tuple[object, ...]


def answer(call: Call) -> Answer:
    """The answer to `call` (InputError: 400; PrefetchUnavailable: 412)."""
    service = call.service
    keyed = _sent_again(call) if _keyable(call.declared_bytes) else None
    assessment = call.cache.recall(keyed[0]) if keyed is not None else None
    gathered = body = None
    if keyed is not None and assessment is not None:
        hook_request = keyed[1]
        call.facts.hook_instance = hook_request.hook_instance
    else:
        body = loads(call.body)
        call.facts.hook_instance = body.get("hookInstance") if isinstance(body, dict) else None
        hook_request = parse_hook_request(body, hook=service.hook)
        gathered = _gather(call, hook_request)
        assessment = assess(
            gathered.resources,
            patient_id=hook_request.patient_id,
            today=call.today,
            thresholds=call.thresholds,
            warnings=gathered.warnings,
            base_url=call.base_url,
            cache=call.cache,  # a record read before: answered once its reading is planned
        )
        if keyed is not None and not gathered.fetched:
            call.cache.remember(keyed[0], len(keyed[0][-1]), assessment)
    cards = service.handler(hook_request, assessment)
    call.facts.cards = len(cards)
    if cards is assessment.cards and call.compact:  # patient-view: encoded once
        text = assessment.cards_answer
    else:
        text = cards_json(cards, compact=call.compact)
    return Answer(body=f"{text}\n", held=(call.body, body, keyed, hook_request, gathered))


def _keyable(size: int | None) -> bool:
    """A body of stated length up to CONTENT_BYTES_EACH may be a request-content key."""
    return size is not None and size <= CONTENT_BYTES_EACH


def _sent_again(call: Call) -> tuple[tuple[Any, ...], HookRequest] | None:
    """A request's key of `AssessmentCache.recall`, and the request read without its
    prefetch (`sent_prefetch`). The key holds everything a call's assessment depends on
    when no key is fetched: the service (its templates), the context's values for their
    tokens (what renders them), the patient, the date, thresholds and card base URL, and
    the prefetch, byte for byte as sent. None when the body cannot be cut so, or the
    request or its templates are refused (the whole body is read then, and the call
    refused with its own message)."""
    sent = sent_prefetch(call.body)
    if sent is None:
        return None
    service = call.service
    try:
        hook_request = parse_hook_request(sent.rest, hook=service.hook)
        templates = template_values(service.prefetch.values(), hook_request.context)
    except InputError:
        return None
    key = (
        service.id,
        templates,
        hook_request.patient_id,
        call.today,
        call.thresholds,
        call.base_url,
    )
    return (*key, sent.prefetch), hook_request


def fhir_client(access: FhirAccess, hook_request: HookRequest) -> FhirClient | str | None:
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
    if access.own is not None and same_url(server, access.own[0]):
        own, sessions = access.own
        return FhirClient(
            own, token=hook_request.fhir_token, sessions=sessions, limits=access.limits
        )
    if access.servers is None:
        return (
            "the service queries no fhirServer but its own fixture /fhir; "
            "SCLC_CDS_FHIR_SERVERS names the servers it may query"
        )
    if not allowed(server, access.servers):
        return "the request's fhirServer is not one SCLC_CDS_FHIR_SERVERS allows"
    if hook_request.fhir_token is None:
        return "a fhirServer is used only with the request's fhirAuthorization"
    return FhirClient(
        server, token=hook_request.fhir_token, sessions=access.sessions, limits=access.limits
    )


def _gather(call: Call, hook_request: HookRequest) -> Gathered:
    """The patient's data: prefetch first, then the FHIR server for missing keys, within
    the call's FHIR budget and byte caps."""
    found = fhir_client(call.fhir, hook_request)
    client = found if isinstance(found, FhirClient) else None
    try:
        return gather(
            call.service.prefetch,
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
            call.facts.fhir_requests = client.requests_made
            client.close()
