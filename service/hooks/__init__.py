"""The CDS services: the registry (`registry`), reading a call (`request`, its JSON body
`body`) and its drafted orders (`drafts`); `call`, one hook call from the request's bytes
to the answer's (it fetches from FHIR servers, so this package does not import it).
Data flows body → `parse_hook_request` → the patient's record through `service.pipeline`
→ the service's handler → cards."""

from service.hooks.drafts import DraftMedication, drafted_agents, read_drafts
from service.hooks.registry import (
    PREFETCH,
    SERVICES,
    Card,
    Handler,
    Service,
    discovery,
    find_service,
)
from service.hooks.request import HookRequest, parse_hook_request

__all__ = [
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
