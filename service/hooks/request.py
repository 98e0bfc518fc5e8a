"""Reading a CDS service call ("Calling a CDS Service") into a `HookRequest`.

The request and the hook's context are validated by the wire models
(`service.wire.ServiceRequest` and `CONTEXTS`); drafted orders are read by
`service.hooks.drafts`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from service import wire
from service.errors import InputError
from service.hooks.drafts import DraftMedication, read_drafts

__all__ = ["HookRequest", "parse_hook_request"]

_SIMPLE_TOKEN = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


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


def _shown(value: Any) -> str:
    """`value` quoted when it is a short plain token, else a neutral word (no echo)."""
    return f"'{value}'" if isinstance(value, str) and _SIMPLE_TOKEN.match(value) else "another"


def parse_hook_request(body: Any, *, hook: str) -> HookRequest:
    """The request `body` (parsed JSON) for a service of `hook`; InputError (400) says
    which field is wrong."""
    request = wire.parse(wire.ServiceRequest, body)
    if request.hook != hook:
        raise InputError(f"this service answers the {hook} hook, not {_shown(request.hook)}")
    context = wire.parse(wire.CONTEXTS[hook], request.context, where="context")
    drafts: tuple[DraftMedication, ...] = ()
    if isinstance(context, wire.OrderSignContext):
        selections = context.selections if isinstance(context, wire.OrderSelectContext) else ()
        drafts = read_drafts(request.context["draftOrders"], selections=selections)
    authorization = request.fhirAuthorization
    return HookRequest(
        hook=hook,
        hook_instance=request.hookInstance,
        patient_id=context.patientId,
        context=MappingProxyType(request.context),
        prefetch=MappingProxyType(dict(request.prefetch)),
        fhir_server=request.fhirServer,
        fhir_token=authorization.access_token if authorization else None,
        drafts=drafts,
    )
