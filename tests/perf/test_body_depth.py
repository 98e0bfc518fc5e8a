"""The request body's nesting limit, read from the text, agrees with a walk of the JSON.

`service.hooks.body` checks the 64-level limit on the bytes of a UTF-8 body (a few passes
in C) instead of visiting every value; whatever the JSON holds (brackets, quotes and
backslashes inside strings, any nesting), both readings must answer the same.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InputError
from service.hooks.body import MAX_DEPTH, _depth_within, _text_depth_within, loads

texts = st.text(alphabet=st.sampled_from('ab[]{}"\\/é\n\u2028 :,'), max_size=12)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), texts),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=40,
)


def nested(depth: int, inner: Any = 1) -> Any:
    value = inner
    for level in range(depth):
        value = [value] if level % 2 else {"k[": value, "s": '"]}\\'}
    return value


@settings(max_examples=400, deadline=None)
@given(values, st.integers(min_value=1, max_value=12), st.booleans())
def test_the_text_reading_is_the_walk(value: Any, limit: int, ascii_only: bool) -> None:
    """For any JSON, the bytes reading and the walk agree at any limit."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert _text_depth_within(raw, limit) == _depth_within(json.loads(raw), limit)


@pytest.mark.parametrize("depth", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 200])
def test_bodies_at_and_past_the_limit(depth: int) -> None:
    """A body nesting `MAX_DEPTH` levels is read; one level more is a 400 (InputError)."""
    raw = json.dumps(nested(depth)).encode()
    if depth <= MAX_DEPTH:
        assert loads(raw) == nested(depth)
    else:
        with pytest.raises(InputError, match="nests deeper"):
            loads(raw)
