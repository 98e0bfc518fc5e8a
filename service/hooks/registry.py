"""The CDS services this product offers, declared in one registry (CDS Hooks 2.0.1).

Each `Service` names its hook, what discovery says about it, the prefetch templates of
the data it needs and the handler that turns a patient's assessment into cards.
Discovery (`discovery()`) and the OpenAPI enum of service ids are generated from
`SERVICES`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol

from service import wire
from service.cards import order_cards
from service.errors import NotFound
from service.fhir import OBSERVATION_CODES
from service.hooks.drafts import DraftMedication, drafted_agents
from service.hooks.request import HookRequest
from service.pipeline import Assessment

__all__ = [
    "PREFETCH",
    "SERVICES",
    "Card",
    "Handler",
    "Service",
    "discovery",
    "find_service",
]

Card = dict[str, Any]

# The data the engine reads (CLINICAL_RULES §1), one prefetch key per query. The
# Observations are only those of the rules (disease status, ECOG, laboratory values, TNM
# stage).
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
        + ",".join(sorted(OBSERVATION_CODES)),
        # §1 v3: systemic therapy recorded only as a procedure, and radiotherapy. A search
        # by code would need every code of service.fhir.procedure and miss those named
        # by text alone: the reader keeps what it needs.
        "procedures": "Procedure?patient={{context.patientId}}",
    }
)


class Handler(Protocol):
    """What a service does with a request and the patient's assessment."""

    def __call__(self, request: HookRequest, assessment: Assessment) -> list[Card]: ...


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

    def discovery(self) -> wire.CdsService:
        """This service's entry of the discovery response."""
        return wire.CdsService(
            hook=self.hook,
            title=self.title,
            description=self.description,
            id=self.id,
            prefetch=dict(self.prefetch),
            usageRequirements=self.usage_requirements,
        )


# --- handlers ------------------------------------------------------------------------


def _order(drafts: Sequence[DraftMedication], assessment: Assessment) -> list[Card]:
    agents = drafted_agents(drafts)
    if not agents:  # no anticancer drug drafted: nothing for this service to say
        return []
    return order_cards(assessment.evaluation, agents, base_url=assessment.base_url)


def patient_view(request: HookRequest, assessment: Assessment) -> list[Card]:
    """patient-view: the relapse summary and options for the patient's record."""
    del request
    return assessment.cards


def order_select(request: HookRequest, assessment: Assessment) -> list[Card]:
    """order-select: the newly selected orders (context.selections) only."""
    return _order([d for d in request.drafts if d.selected], assessment)


def order_sign(request: HookRequest, assessment: Assessment) -> list[Card]:
    """order-sign: every drafted order of the session."""
    return _order(request.drafts, assessment)


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


def discovery() -> wire.DiscoveryResponse:
    """The discovery response (CDS Hooks 2.0.1 "Discovery")."""
    return wire.DiscoveryResponse(services=[service.discovery() for service in SERVICES])
