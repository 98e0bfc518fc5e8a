"""A request's JSON body as the endpoints take it: sent as JSON, within the size limit,
read by `service.hooks.body.loads` (its limits and messages)."""

from __future__ import annotations

from typing import Any

from flask import request

from service.errors import InputError
from service.hooks.body import loads

__all__ = ["body_bytes", "json_body"]


def body_bytes() -> bytes:
    """The request's body as sent; InputError (400) when it is not sent as JSON, 413
    past the size limit."""
    if not request.is_json:
        raise InputError("send the body as JSON with Content-Type: application/json")
    return request.get_data(cache=False)  # raises RequestEntityTooLarge past the limit


def json_body() -> Any:
    """The request's JSON; InputError (400) when it is not usable JSON, 413 past the size
    limit."""
    return loads(body_bytes())
