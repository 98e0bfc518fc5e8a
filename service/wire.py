"""The CDS Hooks 2.0.1 wire format, written once as pydantic models.

From the specification text (`../shared/cds-hooks/spec-2.0.1.md`: "Discovery",
"Calling a CDS Service", "CDS Service Response", "Feedback") and the hook definitions
(patient-view, order-select, order-sign). The same models

- validate what arrives (`parse`: a ValidationError becomes an InputError whose message
  is built from field locations and our own words only, never from the values sent);
- build what the service answers (`Card`, `DiscoveryResponse`, `ServiceResponse`), so an
  answer that breaks the specification fails here and not in an EHR;
- give the `/openapi.json` components (`openapi_schemas()`), so the document and the
  code cannot disagree.

Input models allow extra fields (extensions, fields of later versions); output models
forbid them. Where the service is more liberal than the text (`userId` optional because
it is unused; `fhirAuthorization.expires_in`, `scope`, `subject` optional because only
the token is read; `token_type` "Bearer" in any case), the field says so.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from service.errors import InputError

__all__ = [
    "CONTEXTS",
    "AcceptedSuggestion",
    "Card",
    "CdsService",
    "Coding",
    "DiscoveryResponse",
    "Feedback",
    "FeedbackRequest",
    "FeedbackResponse",
    "FhirAuthorization",
    "Link",
    "OrderSelectContext",
    "OrderSignContext",
    "OverrideReason",
    "PatientViewContext",
    "ServiceRequest",
    "ServiceResponse",
    "Source",
    "openapi_schemas",
    "parse",
]

SUMMARY_MAX = 139  # "summary: … <140-character summary message"
# RFC 3339 date-time (the spec's outcomeTimestamp); any explicit offset is accepted.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError("must be an absolute http(s) URL")
    return value


def _bearer(value: str) -> str:
    if value.lower() != "bearer":
        raise ValueError("must be 'Bearer'")
    return value


def _timestamp(value: str) -> datetime:
    if not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)")
    try:
        parsed = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)") from None
    return parsed.astimezone(UTC)


Text = Annotated[str, AfterValidator(_not_blank)]
HttpUrl = Annotated[str, AfterValidator(_http_url), Field(json_schema_extra={"format": "uri"})]
Json = dict[str, Any]


class _In(BaseModel):
    """A request part: extra fields (extensions) allowed, kept as sent."""

    model_config = ConfigDict(extra="allow", frozen=True)


class _Out(BaseModel):
    """An answer part: closed, and dumped without the fields left out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def dump(self) -> Json:
        return self.model_dump(mode="json", exclude_none=True)


# --- shared -----------------------------------------------------------------------------


class Coding(_Out):
    """A FHIR Coding as the spec uses it (`code` and `system` required)."""

    system: Text
    code: Text
    display: Text | None = None


class ReasonCoding(Coding):
    """A Coding as a client sends it (an override reason): extensions allowed."""

    model_config = ConfigDict(extra="allow", frozen=True)


# --- discovery ----------------------------------------------------------------------------


class CdsService(_Out):
    """One entry of the discovery response."""

    hook: Text
    title: Text | None = None
    description: Text
    id: Text
    prefetch: dict[str, str] | None = None
    usageRequirements: Text | None = None


class DiscoveryResponse(_Out):
    services: list[CdsService]


# --- calling a service ----------------------------------------------------------------------


class FhirAuthorization(_In):
    """OAuth 2.0 access to `fhirServer` ("Passing the Access Token to the CDS Service")."""

    access_token: Text
    token_type: Annotated[str, AfterValidator(_bearer)] = Field(
        description="'Bearer' (any letter case is accepted)"
    )
    expires_in: int | None = Field(None, description="REQUIRED by the spec; not read here")
    scope: Text | None = Field(None, description="REQUIRED by the spec; not read here")
    subject: Text | None = Field(None, description="REQUIRED by the spec; not read here")
    patient: Text | None = None


class _Context(_In):
    patientId: Text
    userId: Text | None = Field(None, description="REQUIRED by the hook; not read here")
    encounterId: Text | None = None


class PatientViewContext(_Context):
    """patient-view context (hooks library)."""


class DraftOrders(_In):
    """A FHIR Bundle of draft orders (resources read by `service.hooks.drafts`)."""

    resourceType: Literal["Bundle"]
    entry: list[Json] = []


class OrderSignContext(_Context):
    """order-sign context: the draft orders to be signed."""

    draftOrders: DraftOrders


class OrderSelectContext(OrderSignContext):
    """order-select context: the draft orders and the newly selected ones."""

    selections: Annotated[list[Text], Field(min_length=1)]  # Type/id (or a fullUrl)


# The context model of each hook the service answers.
CONTEXTS: dict[str, type[_Context]] = {
    "patient-view": PatientViewContext,
    "order-select": OrderSelectContext,
    "order-sign": OrderSignContext,
}


class ServiceRequest(_In):
    """A call to a CDS service ("HTTP Request"); `context` is checked per hook."""

    hook: Text
    hookInstance: Text
    fhirServer: HttpUrl | None = None
    fhirAuthorization: FhirAuthorization | None = None
    context: Json = Field(
        description="checked by hook: PatientViewContext, OrderSelectContext, OrderSignContext"
    )
    prefetch: dict[str, Json | None] = {}

    @model_validator(mode="after")
    def _token_needs_a_server(self) -> Self:
        if self.fhirAuthorization is not None and self.fhirServer is None:
            raise ValueError("fhirAuthorization is given without fhirServer")
        return self


# --- the answer -------------------------------------------------------------------------------


class Source(_Out):
    label: Text
    url: HttpUrl | None = None
    icon: HttpUrl | None = None
    topic: Coding | None = None


class Link(_Out):
    """A link: `absolute` to a page, or `smart` to launch a SMART app (with appContext)."""

    label: Text
    url: HttpUrl
    type: Literal["absolute", "smart"]
    appContext: Text | None = None

    @model_validator(mode="after")
    def _app_context_only_for_smart(self) -> Self:
        if self.appContext is not None and self.type != "smart":
            raise ValueError("appContext is only for links of type smart")
        return self


class Card(_Out):
    """A CDS card; the service gives information only (no suggestions)."""

    uuid: Text | None = None
    summary: Annotated[str, AfterValidator(_not_blank), Field(max_length=SUMMARY_MAX)]
    detail: Text | None = None
    indicator: Literal["info", "warning", "critical"]
    source: Source
    overrideReasons: Annotated[list[Coding], Field(min_length=1)] | None = None
    links: Annotated[list[Link], Field(min_length=1)] | None = None


class ServiceResponse(_Out):
    cards: list[Card]


# --- feedback -----------------------------------------------------------------------------------


class AcceptedSuggestion(_In):
    id: Text


class OverrideReason(_In):
    reason: ReasonCoding | None = None
    userComment: Text | None = None

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if self.reason is None and self.userComment is None:
            raise ValueError("needs 'reason' (a Coding) or 'userComment'")
        return self


class Feedback(_In):
    """One feedback item ("Feedback"); extensions are kept with the item."""

    card: Text
    outcome: Literal["accepted", "overridden"]
    outcomeTimestamp: Annotated[
        datetime,
        Field(json_schema_extra={"type": "string", "format": "date-time"}),
    ]
    acceptedSuggestions: Annotated[list[AcceptedSuggestion], Field(min_length=1)] | None = None
    overrideReason: OverrideReason | None = None

    @model_validator(mode="before")
    @classmethod
    def _rfc3339(cls, data: Any) -> Any:
        # RFC 3339 only (pydantic would also take other ISO 8601 forms); UTC afterwards.
        if isinstance(data, dict) and isinstance(data.get("outcomeTimestamp"), str):
            try:
                data = {**data, "outcomeTimestamp": _timestamp(data["outcomeTimestamp"])}
            except ValueError:
                data = {**data, "outcomeTimestamp": "not RFC 3339"}
        return data

    @model_validator(mode="after")
    def _accepted_names_its_suggestions(self) -> Self:
        if self.outcome == "accepted" and self.acceptedSuggestions is None:
            raise ValueError("acceptedSuggestions is required when outcome is 'accepted'")
        return self


class FeedbackRequest(_In):
    feedback: Annotated[list[Feedback], Field(min_length=1)]


class FeedbackResponse(_Out):
    received: int = Field(description="items in the request")
    stored: int = Field(description="items not stored before")


# --- parsing and the OpenAPI components -------------------------------------------------------

M = TypeVar("M", bound=BaseModel)

_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "too_short": "must not be empty",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "is not of the expected form",
    "datetime_type": "must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)",
    "datetime_from_date_parsing": "must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)",
    "datetime_parsing": "must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)",
}


def _where(location: tuple[int | str, ...]) -> str:
    out = ""
    for part in location:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(error: Any) -> str:
    """What is wrong, in our words: never the value that was sent."""
    kind = error["type"]
    if kind == "value_error":
        return str(error["ctx"]["error"])
    if kind == "literal_error":
        return f"must be {error['ctx']['expected']}"
    return _MESSAGES.get(kind, "is not valid")


def parse(model: type[M], data: Any, *, where: str = "") -> M:
    """`data` validated as `model`; InputError (400) names the first field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        location = _where((*([where] if where else []), *first["loc"]))
        message = _message(first)
        raise InputError(f"{location} {message}" if location else message) from None


def openapi_schemas() -> dict[str, Any]:
    """The `components.schemas` of /openapi.json, generated from the models."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (ServiceRequest, "validation"),
        (PatientViewContext, "validation"),
        (OrderSelectContext, "validation"),
        (OrderSignContext, "validation"),
        (FeedbackRequest, "validation"),
        (DiscoveryResponse, "serialization"),
        (ServiceResponse, "serialization"),
        (FeedbackResponse, "serialization"),
    ]
    _, schema = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return dict(schema["$defs"])
