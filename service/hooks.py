"""The CDS services this product offers, declared in one registry (CDS Hooks 2.0.1).

Each `Service` names its hook, what discovery says about it, the prefetch templates
of the data it needs and the handler that turns a patient's record into cards.
Discovery (`discovery()`) is generated from `SERVICES`; the HTTP layer only looks a
service up, parses the request into a `HookRequest`, gathers the record and calls the
handler.

Request parsing is the boundary: `parse_hook_request` checks the fields of "Calling a
CDS Service" and the hook's context (hooks library: patient-view, order-select,
order-sign), and reads drafted medication orders into `DraftMedication` values
(R4/STU3 `MedicationRequest`, DSTU2 `MedicationOrder`, R5 `medication.concept`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType
from typing import Any, Protocol
from urllib.parse import urlsplit

from service.cards import order_cards, patient_view_cards
from service.engine import Thresholds, evaluate
from service.engine.catalogue import load_catalogue
from service.engine.record import Code, Record
from service.errors import InputError, NotFound
from service.fhir.medication import drug_of
from service.fhir.parse import OBSERVATION_LOINCS, canonical_ref

__all__ = [
    "HOOK_CONTEXT",
    "PREFETCH",
    "SERVICES",
    "Card",
    "DraftMedication",
    "Handler",
    "HookRequest",
    "Service",
    "discovery",
    "drafted_agents",
    "find_service",
    "parse_hook_request",
    "read_drafts",
]

Card = dict[str, Any]

# The data the engine reads (CLINICAL_RULES §1), one prefetch key per query. The
# Observations are only those of the rules (disease status, ECOG, laboratory values).
# Medication records often name their drug by `medicationReference`; `_include` brings
# the Medication along. It is outside the spec's RECOMMENDED query subset ("Prefetch
# query restrictions"), which a client MAY decline (the service then fetches the key
# itself); FHIR servers that do not support `_include` ignore it.
PREFETCH: Mapping[str, str] = MappingProxyType(
    {
        "patient": "Patient/{{context.patientId}}",
        "conditions": "Condition?patient={{context.patientId}}",
        **{
            key: f"{kind}?patient={{{{context.patientId}}}}&_include={kind}:medication"
            for key, kind in (
                ("medicationStatements", "MedicationStatement"),
                ("medicationRequests", "MedicationRequest"),
                ("medicationAdministrations", "MedicationAdministration"),
            )
        },
        "observations": "Observation?patient={{context.patientId}}&code="
        + ",".join(sorted(OBSERVATION_LOINCS)),
    }
)

# Context fields each hook's definition makes REQUIRED that the service reads; userId
# is REQUIRED too but unused, so its absence is not an error here.
HOOK_CONTEXT: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "patient-view": ("patientId",),
        "order-select": ("patientId", "selections", "draftOrders"),
        "order-sign": ("patientId", "draftOrders"),
    }
)

# Drafted medication orders: MedicationRequest (R4, STU3) and MedicationOrder (DSTU2,
# the CDS Hooks sandbox's default server; hooks library "A Note Concerning FHIR
# Versions").
MEDICATION_ORDERS = frozenset({"MedicationRequest", "MedicationOrder"})
_SIMPLE_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


@dataclass(frozen=True, slots=True)
class DraftMedication:
    """A drafted medication order: its `Type/id`, the drug's codings and texts."""

    ref: str
    codes: tuple[Code, ...]
    texts: tuple[str, ...]
    selected: bool = False


@dataclass(frozen=True, slots=True)
class HookRequest:
    """A parsed CDS Hooks service request.

    `prefetch` holds the request's prefetch values as sent (JSON objects or None); they
    are FHIR data read by `service.fhir`, not by the handlers.
    """

    hook: str
    hook_instance: str
    patient_id: str
    context: Mapping[str, Any]
    prefetch: Mapping[str, Any] = field(default_factory=dict)
    fhir_server: str | None = None
    fhir_token: str | None = None
    drafts: tuple[DraftMedication, ...] = ()


class Handler(Protocol):
    """What a service does with a request and the patient's record."""

    def __call__(
        self, request: HookRequest, record: Record, *, today: date, thresholds: Thresholds
    ) -> list[Card]: ...


@dataclass(frozen=True, slots=True)
class Service:
    """One CDS service: what discovery says about it and the handler that answers it."""

    id: str
    hook: str
    title: str
    description: str
    handler: Handler
    prefetch: Mapping[str, str] = field(default_factory=lambda: PREFETCH)
    usage_requirements: str | None = None

    def discovery(self) -> dict[str, Any]:
        """This service's entry of the discovery response (optional fields omitted)."""
        entry: dict[str, Any] = {
            "hook": self.hook,
            "title": self.title,
            "description": self.description,
            "id": self.id,
            "prefetch": dict(self.prefetch),
        }
        if self.usage_requirements:
            entry["usageRequirements"] = self.usage_requirements
        return entry


# --- handlers ------------------------------------------------------------------------


def drafted_agents(drafts: Sequence[DraftMedication]) -> tuple[str, ...]:
    """The catalogue agents the drafted orders name, sorted, each once."""
    catalogue = load_catalogue()
    return tuple(
        sorted({agent.name for d in drafts for agent in catalogue.match(d.codes, d.texts)})
    )


def _order(
    drafts: Sequence[DraftMedication], record: Record, *, today: date, thresholds: Thresholds
) -> list[Card]:
    agents = drafted_agents(drafts)
    if not agents:  # no anticancer drug drafted: nothing for this service to say
        return []
    evaluation = evaluate(record, today=today, thresholds=thresholds)
    return order_cards(evaluation, agents)


def patient_view(
    request: HookRequest, record: Record, *, today: date, thresholds: Thresholds
) -> list[Card]:
    """patient-view: the relapse summary and options for the patient's record."""
    del request
    return patient_view_cards(evaluate(record, today=today, thresholds=thresholds))


def order_select(
    request: HookRequest, record: Record, *, today: date, thresholds: Thresholds
) -> list[Card]:
    """order-select: the newly selected orders (context.selections) only."""
    selected = [d for d in request.drafts if d.selected]
    return _order(selected, record, today=today, thresholds=thresholds)


def order_sign(
    request: HookRequest, record: Record, *, today: date, thresholds: Thresholds
) -> list[Card]:
    """order-sign: every drafted order of the session."""
    return _order(request.drafts, record, today=today, thresholds=thresholds)


_USAGE = (
    "Needs the patient's FHIR R4 data through prefetch or a fhirServer the service may "
    "query; answers 412 when neither is available. Information for clinicians, not orders."
)

SERVICES: tuple[Service, ...] = (
    Service(
        id="sclc-relapse-patient-view",
        hook="patient-view",
        title="SCLC relapse: line of therapy and options",
        description=(
            "For a patient with small-cell lung cancer: the line of therapy, the "
            "platinum-free interval and, at relapse, the next-line options and the trial "
            "pre-screen of the source documents."
        ),
        handler=patient_view,
        usage_requirements=_USAGE,
    ),
    Service(
        id="sclc-relapse-order-select",
        hook="order-select",
        title="SCLC relapse: drafted anticancer drug",
        description=(
            "When an anticancer drug is selected for a patient with small-cell lung "
            "cancer: how it fits the relapse options for this patient's history."
        ),
        handler=order_select,
        usage_requirements=_USAGE,
    ),
    Service(
        id="sclc-relapse-order-sign",
        hook="order-sign",
        title="SCLC relapse: anticancer orders before signing",
        description=(
            "Before anticancer drug orders for a patient with small-cell lung cancer are "
            "signed: how they fit the relapse options for this patient's history."
        ),
        handler=order_sign,
        usage_requirements=_USAGE,
    ),
)
_BY_ID = MappingProxyType({service.id: service for service in SERVICES})


def find_service(service_id: str) -> Service:
    """The service with this id; NotFound (404) otherwise."""
    service = _BY_ID.get(service_id)
    if service is None:
        raise NotFound("no CDS service has this id; GET /cds-services lists them")
    return service


def discovery() -> dict[str, Any]:
    """The discovery response (CDS Hooks 2.0.1 "Discovery")."""
    return {"services": [service.discovery() for service in SERVICES]}


# --- request parsing -----------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _shown(value: Any) -> str:
    """`value` quoted when it is a short plain token, else a neutral word (no echo)."""
    return f"'{value}'" if isinstance(value, str) and _SIMPLE_TOKEN.match(value) else "another"


def _fhir_server(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    server, authorization = body.get("fhirServer"), body.get("fhirAuthorization")
    if server is not None:
        parts = urlsplit(server) if isinstance(server, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise InputError("fhirServer must be an absolute http(s) URL")
    if authorization is None:
        return server, None
    if server is None:
        raise InputError("fhirAuthorization is given without fhirServer")
    if not isinstance(authorization, dict):
        raise InputError("fhirAuthorization must be an object")
    token = _text(authorization.get("access_token"))
    if token is None:
        raise InputError("fhirAuthorization.access_token must be a non-empty string")
    token_type = authorization.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise InputError("fhirAuthorization.token_type must be 'Bearer'")
    return server, token


def _context(hook: str, context: Mapping[str, Any]) -> None:
    for name in HOOK_CONTEXT[hook]:
        if name not in context:
            raise InputError(f"context.{name} is required for the {hook} hook")
    if _text(context.get("patientId")) is None:
        raise InputError("context.patientId must be a non-empty string")
    for name in ("userId", "encounterId"):
        if name in context and _text(context[name]) is None:
            raise InputError(f"context.{name} must be a non-empty string")
    if "selections" in HOOK_CONTEXT[hook]:
        selections = context["selections"]
        if not isinstance(selections, list) or not selections:
            raise InputError("context.selections must be a non-empty list of references")
        if not all(_text(s) for s in selections):
            raise InputError("context.selections must hold non-empty strings (Type/id)")
    if "draftOrders" in HOOK_CONTEXT[hook]:
        orders = context["draftOrders"]
        if not isinstance(orders, dict) or orders.get("resourceType") != "Bundle":
            raise InputError("context.draftOrders must be a FHIR Bundle")
        if not isinstance(orders.get("entry", []), list):
            raise InputError("context.draftOrders.entry must be a list")


def parse_hook_request(body: Any, service: Service) -> HookRequest:
    """The request `body` (parsed JSON) for `service`; InputError (400) says what is wrong."""
    if not isinstance(body, dict):
        raise InputError("the request body must be a JSON object")
    hook = body.get("hook")
    if _text(hook) is None:
        raise InputError("hook is required (a non-empty string)")
    if hook != service.hook:
        raise InputError(f"this service answers the {service.hook} hook, not {_shown(hook)}")
    hook_instance = _text(body.get("hookInstance"))
    if hook_instance is None:
        raise InputError("hookInstance is required (a non-empty string, a UUID)")
    context = body.get("context")
    if not isinstance(context, dict):
        raise InputError("context is required (a JSON object)")
    _context(service.hook, context)
    prefetch = body.get("prefetch", {})
    if not isinstance(prefetch, dict):
        raise InputError("prefetch must be a JSON object")
    fhir_server, token = _fhir_server(body)
    drafts: tuple[DraftMedication, ...] = ()
    if "draftOrders" in HOOK_CONTEXT[service.hook]:
        drafts = read_drafts(context["draftOrders"], selections=context.get("selections"))
    return HookRequest(
        hook=service.hook,
        hook_instance=hook_instance,
        patient_id=context["patientId"],
        context=MappingProxyType(context),
        prefetch=MappingProxyType(prefetch),
        fhir_server=fhir_server,
        fhir_token=token,
        drafts=drafts,
    )


# --- drafted medication orders -------------------------------------------------------


def read_drafts(
    bundle: Mapping[str, Any], *, selections: Any = None
) -> tuple[DraftMedication, ...]:
    """The medication orders of a draftOrders Bundle; `selected` marks `selections`."""
    resources: list[tuple[str | None, Mapping[str, Any]]] = [
        (entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None, resource)
        for entry in bundle.get("entry") or []
        if isinstance(entry, dict) and isinstance(resource := entry.get("resource"), dict)
    ]
    in_bundle: dict[str, Mapping[str, Any]] = {}
    for full_url, resource in resources:
        if resource.get("resourceType") == "Medication":
            if _text(resource.get("id")):
                in_bundle[f"Medication/{resource['id']}"] = resource
            if full_url:
                in_bundle[full_url] = resource
    chosen = set(selections) if isinstance(selections, list) else set()
    drafts = []
    for number, (full_url, resource) in enumerate(resources, start=1):
        kind = resource.get("resourceType")
        if kind not in MEDICATION_ORDERS:
            continue
        ident = _text(resource.get("id"))
        ref = f"{kind}/{ident}" if ident else (full_url or f"{kind}/#{number}")
        drug = drug_of(
            resource,
            lambda target: in_bundle.get(target) or in_bundle.get(canonical_ref(target) or ""),
        )
        selected = ref in chosen or (full_url is not None and full_url in chosen)
        drafts.append(
            DraftMedication(ref=ref, codes=drug.codes, texts=drug.texts, selected=selected)
        )
    return tuple(drafts)
