"""A hook request cut in two: its prefetch as sent, the rest read as the whole body is.

`service.hooks.body.sent_prefetch` lets a call answered before be recognised without
parsing its prefetch. For any body it cuts, the rest must be what `loads` gives for the
whole body without `prefetch`, and the prefetch bytes must read as the body's prefetch;
a body it cannot cut (None) is read whole by the caller, so the only thing it may never
do is answer something else.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InputError
from service.hooks.body import MAX_DEPTH, MAX_NUMBER_DIGITS, loads, sent_prefetch
from tests.perf.test_body_orjson import _same, values

FIELDS = ("hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch")


def _whole(raw: bytes) -> Any:
    try:
        return loads(raw)
    except InputError as error:
        return ("error", str(error))


def _strict(value: Any) -> bool:
    """Whether `value` is written as strict JSON (no NaN, no Infinity)."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


def _refused(reading: Any) -> bool:
    return isinstance(reading, tuple) and reading[0] == "error"


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


bodies = st.dictionaries(
    st.sampled_from((*FIELDS, "extension", "somethingElse")), values, max_size=6
)


@settings(max_examples=400, deadline=None)
@given(bodies, st.booleans(), st.booleans())
def test_a_cut_body_reads_as_the_whole_body(body: dict[str, Any], indent: bool, dup: bool) -> None:
    """Whatever the fields, values and layout: a body of the request's fields, each once,
    in strict JSON, that reads whole is cut; its rest is the whole body's reading
    without `prefetch`, and the prefetch bytes read as its prefetch. A field sent twice
    or one the spec does not name: never cut."""
    text = json.dumps(body, indent=2 if indent else None)
    twice = dup and bool(body)
    if twice:  # a field sent twice: the decoder would keep the last, never reading the first
        name = next(iter(body))
        text = text.replace("{", f'{{"{name}": "first", ', 1)
    raw = text.encode()
    whole = _whole(raw)
    cut = sent_prefetch(raw)
    if twice or "somethingElse" in body:
        assert cut is None
        return
    if cut is None:  # only when the whole body is refused too, or is not strict JSON
        assert _refused(whole) or not _strict(body)
        return
    if _refused(whole):  # refused for its prefetch, which the cut does not read
        assert "prefetch" in body
        return
    assert _same(cut.rest, {k: v for k, v in whole.items() if k != "prefetch"})
    if "prefetch" in whole:
        assert _same(loads(cut.prefetch), whole["prefetch"])
    else:
        assert cut.prefetch == b""


def test_a_field_sent_twice_is_never_cut() -> None:
    """The first of two `context`s holds bytes that are not UTF-8, nests too deep, or
    holds an integer of too many digits: the whole body is refused, and it is not cut
    (answering it from its last `context` would answer what a fresh call refuses)."""
    good = b'{"hook": "patient-view", "context": {"patientId": "p"}, "prefetch": {}}'
    assert sent_prefetch(good) is not None
    for first in (b'"\xff"', json.dumps(_nested(MAX_DEPTH)).encode(), b"1" * 50):
        raw = good.replace(b'"context"', b'"context": %s, "context"' % first, 1)
        assert _refused(_whole(raw))
        assert sent_prefetch(raw) is None
    escaped = good.replace(b'"hook"', b'"hoo\\u006b"')
    assert json.loads(escaped)["hook"] == "patient-view"
    assert sent_prefetch(escaped) is None  # named otherwise than plainly: read whole


def test_the_prefetch_is_kept_byte_for_byte() -> None:
    """Spaces, key order and escapes of the prefetch are kept as sent: only a body sent
    again to the byte has the same prefetch."""
    raw = b'{"hook": "patient-view", "prefetch": {"b" : [1 ,2], "a": "\\u00e9"}, "context": {}}'
    cut = sent_prefetch(raw)
    assert cut is not None
    assert cut.prefetch == b'{"b" : [1 ,2], "a": "\\u00e9"}'
    assert cut.rest == {"hook": "patient-view", "context": {}}


def test_the_rest_is_held_to_the_limits_of_the_whole_body() -> None:
    """A context nesting past MAX_DEPTH (as placed in the body) or holding an integer past
    MAX_NUMBER_DIGITS: not cut, and the whole body is refused."""
    deep = {"hook": "patient-view", "context": {"x": _nested(MAX_DEPTH - 2)}, "prefetch": {}}
    at_limit = json.dumps(deep).encode()
    assert sent_prefetch(at_limit) is not None
    assert not isinstance(_whole(at_limit), tuple)
    deep["context"] = {"x": _nested(MAX_DEPTH - 1)}
    past = json.dumps(deep).encode()
    assert sent_prefetch(past) is None
    assert _refused(_whole(past))
    huge = b'{"hook": "patient-view", "context": {"n": 1%s}}' % (b"0" * MAX_NUMBER_DIGITS)
    assert sent_prefetch(huge) is None
    assert _refused(_whole(huge))


def test_what_is_not_a_plain_hook_request_is_not_cut() -> None:
    """Not an object, invalid JSON, NaN, a byte-order mark, an unknown field: None."""
    for raw in (
        b"[1]",
        b'{"hook": "patient-view"',
        b'{"hook": "patient-view", "prefetch": {"x": NaN}}',
        b'\xef\xbb\xbf{"hook": "patient-view"}',
        b'{"hook": "patient-view", "unknown": 1}',
        b"",
    ):
        assert sent_prefetch(raw) is None, raw
