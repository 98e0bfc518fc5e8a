"""The OpenAPI 3.1 description of every endpoint.

The CDS Hooks endpoints are described in full (service ids from the registry); any
other route the app registers gets an entry generated from its rule and its view's
docstring, so the document never misses an endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from werkzeug.routing import Rule

from service.hooks import SERVICES

__all__ = ["openapi_document"]

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

_SCHEMAS: dict[str, Any] = {
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
    "DiscoveryResponse": {
        "type": "object",
        "required": ["services"],
        "properties": {
            "services": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["hook", "description", "id"],
                    "properties": {
                        "hook": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "id": {"type": "string"},
                        "prefetch": {
                            "type": "object",
                            "additionalProperties": {"type": "string"},
                        },
                        "usageRequirements": {"type": "string"},
                    },
                },
            }
        },
    },
    "ServiceRequest": {
        "type": "object",
        "required": ["hook", "hookInstance", "context"],
        "properties": {
            "hook": {"enum": sorted({service.hook for service in SERVICES})},
            "hookInstance": {"type": "string"},
            "fhirServer": {"type": "string", "format": "uri"},
            "fhirAuthorization": {
                "type": "object",
                "required": ["access_token", "token_type"],
                "properties": {
                    "access_token": {"type": "string"},
                    "token_type": {"const": "Bearer"},
                    "expires_in": {"type": "integer"},
                    "scope": {"type": "string"},
                    "subject": {"type": "string"},
                },
            },
            "context": {
                "type": "object",
                "required": ["patientId"],
                "properties": {
                    "userId": {"type": "string"},
                    "patientId": {"type": "string"},
                    "encounterId": {"type": "string"},
                    "selections": {"type": "array", "items": {"type": "string"}},
                    "draftOrders": {"type": "object"},
                },
            },
            "prefetch": {
                "type": "object",
                "additionalProperties": {"type": ["object", "null"]},
            },
        },
    },
    "Card": {
        "type": "object",
        "required": ["summary", "indicator", "source"],
        "properties": {
            "uuid": {"type": "string"},
            "summary": {"type": "string", "maxLength": 139},
            "detail": {"type": "string"},
            "indicator": {"enum": ["info", "warning", "critical"]},
            "source": {
                "type": "object",
                "required": ["label"],
                "properties": {
                    "label": {"type": "string"},
                    "url": {"type": "string", "format": "uri"},
                    "icon": {"type": "string", "format": "uri"},
                    "topic": {"type": "object"},
                },
            },
            "suggestions": {"type": "array", "items": {"type": "object"}},
            "selectionBehavior": {"enum": ["at-most-one", "any"]},
            "overrideReasons": {"type": "array", "items": {"type": "object"}},
            "links": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ServiceResponse": {
        "type": "object",
        "required": ["cards"],
        "properties": {
            "cards": {"type": "array", "items": {"$ref": "#/components/schemas/Card"}},
            "systemActions": {"type": "array", "items": {"type": "object"}},
        },
    },
    "FeedbackRequest": {
        "type": "object",
        "required": ["feedback"],
        "properties": {
            "feedback": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["card", "outcome", "outcomeTimestamp"],
                    "properties": {
                        "card": {"type": "string"},
                        "outcome": {"enum": ["accepted", "overridden"]},
                        "acceptedSuggestions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["id"],
                                "properties": {"id": {"type": "string"}},
                            },
                        },
                        "overrideReason": {
                            "type": "object",
                            "properties": {
                                "reason": {"type": "object"},
                                "userComment": {"type": "string"},
                            },
                        },
                        "outcomeTimestamp": {"type": "string", "format": "date-time"},
                    },
                },
            }
        },
    },
    "FeedbackResponse": {
        "type": "object",
        "required": ["received", "stored"],
        "properties": {
            "received": {"type": "integer", "description": "items in the request"},
            "stored": {"type": "integer", "description": "items not stored before"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
}


def _version() -> str:
    try:
        return version("sclc-relapse-cds")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


_VARIABLE = re.compile(r"<(?:[^<>:]+:)?([^<>]+)>")


def openapi_path(rule: str) -> str:
    """A Werkzeug rule as an OpenAPI path: `/a/<int:b>` is `/a/{b}`."""
    return _VARIABLE.sub(r"{\1}", rule)


def _generated(rule: Rule, view: Callable[..., Any] | None) -> dict[str, Any]:
    doc = (view.__doc__ or "").strip() if view is not None else ""
    operation: dict[str, Any] = {
        "summary": doc.splitlines()[0] if doc else rule.endpoint,
        "responses": {
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
        "components": {"schemas": _SCHEMAS},
    }
