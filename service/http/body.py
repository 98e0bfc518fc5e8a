"""Reading a request's JSON body, bounded: every endpoint that takes JSON reads it here.

Beyond the size limit (`MAX_CONTENT_LENGTH`, 413), a body is refused with 400, never
500, when it is not UTF-8 JSON, nests deeper than `MAX_DEPTH`, or holds a number with
more than `MAX_NUMBER_DIGITS` digits (Python refuses to convert huge integers, and a
deep nesting would exhaust the parser's recursion).
"""

from __future__ import annotations

import json
from typing import Any

from flask import request

from service.errors import InputError

__all__ = ["MAX_DEPTH", "MAX_NUMBER_DIGITS", "json_body", "loads"]

# FHIR resources nest a dozen levels; a CDS Hooks request with a Bundle in prefetch
# stays well under this.
MAX_DEPTH = 64
# Larger than any FHIR decimal or integer a record holds (FHIR decimals: 18 digits).
MAX_NUMBER_DIGITS = 40


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise InputError(f"the request body holds a number of more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _decimal(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise InputError(f"the request body holds a number of more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def _depth_within(value: Any, limit: int) -> bool:
    """Whether `value` nests at most `limit` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return False
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return True


def loads(raw: bytes | str) -> Any:
    """JSON from `raw` within the limits above; InputError (400) says what is wrong."""
    try:
        document = json.loads(raw, parse_int=_integer, parse_float=_decimal)
    except UnicodeDecodeError:
        raise InputError("the request body is not UTF-8 JSON") from None
    except RecursionError:
        raise InputError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"the request body is not valid JSON (line {error.lineno}, column {error.colno}:"
            f" {error.msg})"
        ) from None
    if not _depth_within(document, MAX_DEPTH):
        raise InputError(f"the request body nests deeper than {MAX_DEPTH} levels")
    return document


def json_body() -> Any:
    """The request's JSON; InputError (400) when it is not usable JSON, 413 past the size
    limit."""
    if not request.is_json:
        raise InputError("send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=False)  # raises RequestEntityTooLarge past the limit
    return loads(raw)
