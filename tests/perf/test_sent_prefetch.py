"""A hook request cut in two: its prefetch as sent, the rest read as the whole body is.

`service.http.body.sent_prefetch` lets a call answered before be recognised without
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
from service.http.body import MAX_DEPTH, MAX_NUMBER_DIGITS, loads, sent_prefetch
from tests.perf.test_body_orjson import _same, values

FIELDS = ("hook", "hookInstance", "fhirServer", "fhirAuthorization", "context", "prefetch")


def _whole(raw: bytes) -> Any:
    try:
        return loads(raw)
    except InputError as error:
        return ("error", str(error))


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
    """Whatever the fields, values, layout and duplicates: when the body is cut, its rest
    is the whole body's reading without `prefetch`, and the prefetch bytes read as its
    prefetch; an unknown field is never cut."""
    text = json.dumps(body, indent=2 if indent else None)
    if dup and body:  # a field sent twice: both parsers keep the last
        name = next(iter(body))
        text = text.replace("{", f'{{"{name}": "first", ', 1)
    raw = text.encode()
    whole = _whole(raw)
    cut = sent_prefetch(raw)
    if cut is None:
        return
    assert "somethingElse" not in body
    assert isinstance(whole, dict)
    assert _same(cut.rest, {k: v for k, v in whole.items() if k != "prefetch"})
    if "prefetch" in whole:
        assert _same(loads(cut.prefetch), whole["prefetch"])
    else:
        assert cut.prefetch == b""


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
    assert _whole(past)[0] == "error"
    huge = b'{"hook": "patient-view", "context": {"n": 1%s}}' % (b"0" * MAX_NUMBER_DIGITS)
    assert sent_prefetch(huge) is None
    assert _whole(huge)[0] == "error"


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
