"""The OpenAPI 3.1 description of every endpoint.

The CDS Hooks endpoints are described in full (service ids from the registry); any
other route the app registers gets an entry generated from its rule and its view's
docstring, so the document never misses an endpoint. A view whose answers are not the
default ones (success, or an OperationOutcome) declares them with `@responses(...)`:
the SMART app's HTML pages and redirects, the demo EHR's OAuth 2 endpoints.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any, TypeVar

from werkzeug.routing import Rule

from service import wire
from service.hooks import SERVICES

__all__ = [
    "html",
    "oauth_error",
    "openapi_document",
    "openapi_path",
    "redirect",
    "responses",
    "schemas",
]

_OUTCOME = {"$ref": "#/components/schemas/OperationOutcome"}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _OUTCOME}},
    }


def _json(description: str, schema: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_SERVICE_ID = {
    "name": "service_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "enum": [service.id for service in SERVICES]},
}
_AUTH_ERRORS = {
    "400": _error("Malformed request: not JSON, wrong content type, a field missing"),
    "401": _error("Missing or invalid JWT (only when SCLC_CDS_JWT_REQUIRED is set)"),
    "404": _error("No service has this id"),
    "405": _error("Method not allowed"),
    "413": _error("Body larger than SCLC_CDS_MAX_BODY_BYTES"),
    "500": _error("Unexpected failure (logged by class name only)"),
}

# Hand-written: what is not CDS Hooks (errors, health). The CDS Hooks schemas are
# generated from the wire models (service.wire), so the document cannot drift from the
# code that validates requests and builds answers.
_OWN_SCHEMAS: dict[str, Any] = {
    "OperationOutcome": {
        "type": "object",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["severity", "code", "diagnostics"],
                    "properties": {
                        "severity": {"const": "error"},
                        "code": {"type": "string"},
                        "diagnostics": {"type": "string"},
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
}


def schemas() -> dict[str, Any]:
    """`components.schemas`: the wire models' schemas and the service's own."""
    return {**wire.openapi_schemas(), **_OWN_SCHEMAS}


def _version() -> str:
    try:
        return version("sclc-relapse-cds")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: `/a/<int:b>` is `/a/{b}`."""
    return _VARIABLE.sub(r"{\1}", rule)


View = TypeVar("View", bound=Callable[..., Any])
_DECLARED = "openapi_responses"  # the attribute `responses` sets on a view


def responses(declared: Mapping[str, Any]) -> Callable[[View], View]:
    """Declare a view's OpenAPI responses, when they are not the default ones."""

    def mark(view: View) -> View:
        setattr(view, _DECLARED, dict(declared))
        return view

    return mark


def html(description: str) -> dict[str, Any]:
    """A response that is an HTML page."""
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def redirect(description: str) -> dict[str, Any]:
    """A redirect (its Location is the answer)."""
    return {"description": description, "headers": {"Location": {"schema": {"type": "string"}}}}


def oauth_error(description: str) -> dict[str, Any]:
    """An OAuth 2 error (RFC 6749 §5.2), or an OperationOutcome for what fails before
    OAuth is reached (a body too large, a wrong method)."""
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {
                    "anyOf": [
                        {
                            "type": "object",
                            "required": ["error"],
                            "properties": {
                                "error": {"type": "string"},
                                "error_description": {"type": "string"},
                            },
                        },
                        _OUTCOME,
                    ]
                }
            }
        },
    }


def _generated(rule: Rule, view: Callable[..., Any] | None) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip() if view is not None else ""
    declared = getattr(view, _DECLARED, None)
    operation: dict[str, Any] = {
        "summary": doc.splitlines()[0] if doc else rule.endpoint,
        "responses": declared
        or {
            "200": {"description": "Success"},
            "default": _error("An error, as an OperationOutcome"),
        },
    }
    names = _VARIABLE.findall(rule.rule)
    if names:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in names
        ]
    return operation


def openapi_document(
    rules: Iterable[Rule] = (), views: Mapping[str, Callable[..., Any]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document served at /openapi.json.

    `rules` and `views` are the app's URL rules and view functions: a route the
    hand-written part does not describe gets a generated entry.
    """
    document = _described()
    paths: dict[str, dict[str, Any]] = document["paths"]
    for rule in rules:
        path = openapi_path(rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations = paths.setdefault(path, {})
            if method.lower() not in operations:
                view = (views or {}).get(rule.endpoint)
                operations[method.lower()] = _generated(rule, view)
    return document


def _described() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sclc-relapse-cds",
            "version": _version(),
            "description": (
                "CDS Hooks 2.0 services for relapsed small-cell lung cancer. Every error "
                "is a FHIR OperationOutcome in application/json."
            ),
        },
        "paths": {
            "/cds-services": {
                "get": {
                    "summary": "CDS Hooks discovery",
                    "responses": {"200": _json("The services", "DiscoveryResponse")},
                }
            },
            "/cds-services/{service_id}": {
                "post": {
                    "summary": "Call a CDS service",
                    "parameters": [_SERVICE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ServiceRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Cards (possibly none)", "ServiceResponse"),
                        "412": _error("Prefetch data missing and the FHIR server unusable"),
                        **_AUTH_ERRORS,
                    },
                }
            },
            "/cds-services/{service_id}/feedback": {
                "post": {
                    "summary": "Feedback on a service's cards",
                    "parameters": [_SERVICE_ID],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/FeedbackRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("Stored (duplicates once)", "FeedbackResponse"),
                        **_AUTH_ERRORS,
                        "503": _error("The database is unavailable: nothing stored, send again"),
                    },
                }
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": _json("The service is up", "Health")},
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": {"description": "The OpenAPI document"}},
                }
            },
        },
        "components": {"schemas": schemas()},
    }
