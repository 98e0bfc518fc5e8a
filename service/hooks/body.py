"""Reading a request's JSON body, bounded: every endpoint that takes JSON reads it with
`loads` (`service.http.incoming` hands it the bytes).

Beyond the size limit (`MAX_CONTENT_LENGTH`, 413), a body is refused with 400, never
500, when it is not UTF-8 JSON, nests deeper than `MAX_DEPTH`, holds an integer of more
than `MAX_NUMBER_DIGITS` digits (Python refuses to convert huge integers, and a deep
nesting would exhaust the parser's recursion) or a decimal too large for a double
(no FHIR decimal is infinite).

Parsing is orjson's (Rust; faster than `json` on a large prefetch, and no Python call
per number) when the body is plain UTF-8 JSON with no integer literal of
`ORJSON_DIGITS` digits: orjson turns an integer past 64 bits into a float, so a body
that may hold one, or that orjson refuses (a byte-order mark, `NaN`, a lone surrogate,
an infinite decimal, invalid JSON), is read by `json` with the number hooks below, with
the same messages. Both readings give equal values and equal refusals (tested).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

import msgspec
import orjson

from service.errors import InputError
from service.wire import ServiceRequest

__all__ = [
    "MAX_DEPTH",
    "MAX_NUMBER_DIGITS",
    "SentPrefetch",
    "loads",
    "sent_prefetch",
]

# FHIR resources nest a dozen levels; a CDS Hooks request with a Bundle in prefetch
# stays well under this.
MAX_DEPTH = 64
# Longer than any FHIR integer a record holds (FHIR integers: 32 bits; decimals, read as
# floats, have no length limit).
MAX_NUMBER_DIGITS = 40


# No integer below 2**63 has this many digits: a body with no integer literal this long
# holds no number orjson would read differently from `json` (`_may_hold_huge_integer`).
ORJSON_DIGITS = 19
# Digits as "0", what continues a number's fraction or exponent as ".", the rest " ".
_NUMBER_MARKS = bytes(48 if 48 <= b <= 57 else 46 if b in b".eE" else 32 for b in range(256))
_DIGIT_RUN = b"0" * ORJSON_DIGITS
_LONG_RUN = b" " + _DIGIT_RUN  # a run starting a token: after a quote, bracket, sign …
# Long runs of digits `_may_hold_huge_integer` looks at one by one before giving the body
# to `json` (each costs a count of the quotes before it).
_RUNS_LOOKED_AT = 16


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise InputError(f"the request body holds a number of more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _decimal(text: str) -> float:
    value = float(text)  # linear in the text's length, whatever it is
    if math.isinf(value):
        raise InputError("the request body holds a decimal too large to read")
    return value


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
    text = _unescaped(raw).translate(_SQUARE, _NOT_STRUCTURE)
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


def _unescaped(text: bytes) -> bytes:
    """`text` without escaped backslashes, then escaped quotes: every quote left in valid
    JSON opens or closes a string."""
    if b"\\" in text:
        return text.replace(b"\\\\", b"").replace(b'\\"', b"")
    return text


def _may_hold_huge_integer(data: bytes) -> bool:
    """Whether `data` (valid JSON or not) may hold an integer literal of `ORJSON_DIGITS`
    digits or more.

    A pass in C finds every run of that many digits that starts a token (a decimal's
    fraction does not); such runs are rare (a seed in a narrative). Each is looked at
    where it stands: inside a string (an odd number of unescaped quotes before it) it is
    text; anywhere else it may be an integer, and `json` reads the body. Past
    `_RUNS_LOOKED_AT` of them, `json` reads the body without looking further. Quotes are
    counted from one run to the next, so the whole look reads the body once: a run
    starts at a digit, which no escape pair (`\\\\`, `\\"`) straddles.
    """
    marks = data.translate(_NUMBER_MARKS)
    at = 0 if marks.startswith(_DIGIT_RUN) else _next_run(marks, 0)
    looked_at = quotes = counted_to = 0
    while at >= 0:
        looked_at += 1
        if looked_at > _RUNS_LOOKED_AT:
            return True
        quotes += _unescaped(data[counted_to:at]).count(b'"')
        counted_to = at
        if quotes % 2 == 0:  # outside every string
            return True
        at = _next_run(marks, at + ORJSON_DIGITS)
    return False


def _next_run(marks: bytes, start: int) -> int:
    """Where the next run of digits starting a token begins, from `start`; -1: none."""
    found = marks.find(_LONG_RUN, start)
    return found + 1 if found >= 0 else -1


def _orjson_reads(raw: bytes | str) -> Any:
    """orjson's reading of `raw`, or None when `json` must read it (see the docstring)."""
    try:
        data = raw.encode() if isinstance(raw, str) else raw
        if _may_hold_huge_integer(data):
            return None
        return orjson.loads(data)
    except (orjson.JSONDecodeError, UnicodeEncodeError):
        return None


def loads(raw: bytes | str) -> Any:
    """JSON from `raw` within the limits above; InputError (400) says what is wrong."""
    document = _orjson_reads(raw) if raw else None
    if document is None:
        document = _json_reads(raw)
    if not _within_limit(raw, document):
        raise InputError(f"the request body nests deeper than {MAX_DEPTH} levels")
    return document


def _json_reads(raw: bytes | str) -> Any:
    """`json`'s reading of `raw` with the number hooks; InputError says what is wrong."""
    try:
        return json.loads(raw, parse_int=_integer, parse_float=_decimal)
    except UnicodeDecodeError:
        raise InputError("the request body is not UTF-8 JSON") from None
    except RecursionError:
        raise InputError(f"the request body nests deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as error:
        raise InputError(
            f"the request body is not valid JSON (line {error.lineno}, column {error.colno}:"
            f" {error.msg})"
        ) from None


# --- a hook request's prefetch, as sent ---------------------------------------------------


# A CDS Hooks request's top-level fields (the wire model's, and the spec's `extension`),
# each decoded as its JSON text (empty: not sent).
_HOOK_FIELDS = (*ServiceRequest.model_fields, "extension")
_ENVELOPE = msgspec.json.Decoder(
    msgspec.defstruct(
        "_HookEnvelope",
        [(name, msgspec.Raw, msgspec.Raw(b"")) for name in _HOOK_FIELDS],
        forbid_unknown_fields=True,
    )
)
_BESIDE_PREFETCH = tuple(name for name in _HOOK_FIELDS if name != "prefetch")


@dataclass(frozen=True, slots=True)
class SentPrefetch:
    """A hook request cut in two: its prefetch as sent (`b""` when it has none) and the
    rest of the body, read by `loads`."""

    prefetch: bytes
    rest: dict[str, Any]


def sent_prefetch(raw: bytes) -> SentPrefetch | None:
    """`raw`'s prefetch untouched, and every other field read as `loads` reads the whole
    body: without parsing the prefetch, which is nearly all of a request.

    None when the body is anything but a JSON object of the CDS Hooks request's fields,
    each once and named plainly (a field the spec does not name, a field sent twice, an
    escaped name, invalid or non-strict JSON: NaN, a byte-order mark, a lone surrogate)
    or its other fields are refused by `loads`: the caller reads the whole body then,
    and says what is wrong. The rest is then a JSON object of the very fields, values
    and nesting of the body but the prefetch, so `loads` reads it as it reads them in
    the body, limits included; two bodies with the same prefetch bytes hold the same
    prefetch, whichever parser reads it.
    """
    try:
        envelope: Any = _ENVELOPE.decode(raw)  # a struct of _HOOK_FIELDS
    except msgspec.DecodeError:
        return None
    prefetch = bytes(envelope.prefetch)
    fields = [
        (name, bytes(value)) for name in _BESIDE_PREFETCH if (value := getattr(envelope, name))
    ]
    if not _each_field_once(raw, prefetch, fields):
        return None
    text = b",".join(b'"%s":%s' % (name.encode(), value) for name, value in fields)
    try:
        rest = loads(b"{" + text + b"}")
    except InputError:
        return None
    return SentPrefetch(prefetch, rest)


_WHITESPACE = b" \t\r\n"


def _solid(data: bytes) -> int:
    """How many bytes of `data` are not JSON whitespace."""
    return len(data.translate(None, _WHITESPACE))


def _each_field_once(raw: bytes, prefetch: bytes, fields: list[tuple[str, bytes]]) -> bool:
    """Whether the JSON object `raw` is made of these fields alone, each sent once under
    its plain name, with these values (the decoder keeps the last of a field sent twice,
    and never reads the first: its bytes need not even be UTF-8). Counted, not parsed:
    the bytes of `raw` that are not whitespace are the braces, a comma between members
    and each member's quoted name, colon and value; a member more, or an escaped name,
    makes them more. The prefetch is left out of the count where it stands in `raw` (at
    any of its places: they are the same bytes)."""
    members = len(fields) + bool(prefetch)
    outside = raw
    if prefetch:
        at = _place_of(raw, prefetch)
        if at < 0:
            return False
        outside = raw[:at] + raw[at + len(prefetch) :]
        fields = [*fields, ("prefetch", b"")]
    expected = (
        1 + members + sum(len(name) + 3 + _solid(value) for name, value in fields) if members else 2
    )
    return _solid(outside) == expected


def _place_of(raw: bytes, part: bytes) -> int:
    """Where `part` (a slice of `raw`) stands in `raw`: found by its first bytes, then
    compared whole (a search for the whole of a long part costs more than reading it)."""
    head = part[:64]
    at = raw.find(head)
    while at >= 0 and not raw.startswith(part, at):
        at = raw.find(head, at + 1)
    return at
