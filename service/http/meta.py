"""Endpoints about the service itself: liveness and the OpenAPI description."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from service.http.openapi import openapi_document

__all__ = ["blueprint"]

blueprint = Blueprint("meta", __name__)


@blueprint.get("/healthz")
def healthz() -> dict[str, Any]:
    """Liveness: the process is up and its app was built."""
    return {"status": "ok"}


@blueprint.get("/openapi.json")
def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every endpoint."""
    return openapi_document(current_app.url_map.iter_rules(), current_app.view_functions)
