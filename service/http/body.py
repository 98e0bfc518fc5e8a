"""Reading a request's JSON body, bounded: every endpoint that takes JSON reads it here.

Beyond the size limit (`MAX_CONTENT_LENGTH`, 413), a body is refused with 400, never
500, when it is not UTF-8 JSON, nests deeper than `MAX_DEPTH`, or holds a number with
more than `MAX_NUMBER_DIGITS` digits (Python refuses to convert huge integers, and a
deep nesting would exhaust the parser's recursion).
"""

from __future__ import annotations

import json
import re
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
    """Whether `value` (parsed JSON: dicts, lists, scalars) nests at most `limit` levels.

    Level by level, without recursion; a hook call's whole prefetch passes through here,
    so it touches each value once and builds no tuple per value.
    """
    level = [value] if isinstance(value, dict | list) else []
    depth = 1
    while level:
        if depth > limit:
            return False
        below: list[Any] = []
        add = below.append
        for node in level:
            for child in node.values() if node.__class__ is dict else node:
                if child.__class__ is dict or child.__class__ is list:
                    add(child)
        level = below
        depth += 1
    return True


_STRUCTURE = frozenset(b'[]{}"')
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in _STRUCTURE)
_SQUARE = bytes.maketrans(b"{}", b"[]")
_QUOTED = re.compile(rb'"[^"]*"')


def _text_depth_within(raw: bytes, limit: int) -> bool:
    """`_depth_within(json.loads(raw), limit)` for valid UTF-8 JSON, read from the text
    with bytes operations only (a few passes in C instead of a visit of every value).

    Escaped backslashes and quotes go first, so that every quote left delimits a string;
    then everything but quotes and brackets; then the strings (the brackets inside
    them); what is left is the nesting alone, `[` for `[` and `{`. Each pass removes the
    innermost pairs: the text is empty after `depth` passes.
    """
    text = raw
    if b"\\" in text:  # escapes: an escaped backslash, then an escaped quote
        text = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    text = text.translate(_SQUARE, _NOT_STRUCTURE)
    text = _QUOTED.sub(b"", text.replace(b'""', b""))
    for _ in range(limit):
        if not text:
            return True
        text = text.replace(b"[]", b"")
    return not text


def _within_limit(raw: bytes | str, document: Any) -> bool:
    if isinstance(raw, bytes) and json.detect_encoding(raw) in ("utf-8", "utf-8-sig"):
        return _text_depth_within(raw, MAX_DEPTH)
    return _depth_within(document, MAX_DEPTH)


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
    if not _within_limit(raw, document):
        raise InputError(f"the request body nests deeper than {MAX_DEPTH} levels")
    return document


def json_body() -> Any:
    """The request's JSON; InputError (400) when it is not usable JSON, 413 past the size
    limit."""
    if not request.is_json:
        raise InputError("send the body as JSON with Content-Type: application/json")
    raw = request.get_data(cache=False)  # raises RequestEntityTooLarge past the limit
    return loads(raw)
