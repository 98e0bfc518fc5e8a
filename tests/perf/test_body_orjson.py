"""The request body read by orjson gives what `json` with the number hooks gives.

`service.hooks.body.loads` hands a plain UTF-8 body to orjson and everything else (a run
of 19 digits, NaN, a byte-order mark, a lone surrogate, invalid JSON) to `json`; for any
body both must answer the same value, or the same 400.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InputError
from service.hooks.body import _decimal, _integer, _orjson_reads, loads

ROOT = Path(__file__).resolve().parents[2]

texts = st.text(alphabet=st.sampled_from('ab"\\é\n\u2028\U0001f600 0123456789.e-'), max_size=30)
numbers = st.one_of(
    st.integers(),  # unbounded: past 64 bits too
    st.integers(min_value=2**62, max_value=2**66),
    st.floats(),  # NaN and infinities as well: json.dumps writes NaN, Infinity
    st.integers(min_value=0, max_value=10**45).map(lambda n: float(f"{n}.5")),
)
values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, texts),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(texts, children, max_size=4)
    ),
    max_leaves=30,
)


def _json_reading(raw: bytes) -> Any:
    """What the body reader answered before orjson: `json` with the number hooks."""
    try:
        return json.loads(raw, parse_int=_integer, parse_float=_decimal)
    except InputError as error:
        return ("error", str(error))


def _reading(raw: bytes) -> Any:
    try:
        return loads(raw)
    except InputError as error:
        return ("error", str(error))


def _same(a: Any, b: Any) -> bool:
    """Equal values, of equal types (1 is not 1.0), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return bool(a == b)


@settings(max_examples=500, deadline=None)
@given(values, st.booleans())
def test_any_body_reads_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    """orjson or not, the body's value (types included) or its 400 is json's."""
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    assert _same(_reading(raw), _json_reading(raw))


digits = st.text(alphabet="0123456789", min_size=1, max_size=25)
number_literals = st.builds(
    lambda sign, whole, fraction, exponent: f"{sign}{whole.lstrip('0') or '0'}{fraction}{exponent}",
    st.sampled_from(["", "-"]),
    digits,
    st.one_of(st.just(""), digits.map(lambda d: f".{d}")),
    st.one_of(
        st.just(""),
        st.tuples(
            st.sampled_from("eE"),
            st.sampled_from(["", "+", "-"]),
            digits.filter(lambda d: len(d) < 4),
        ).map("".join),
    ),
)
raw_values = st.one_of(
    number_literals,
    digits.map(lambda d: json.dumps(f"seed: -{d}")),  # long runs of digits inside strings
    number_literals.map(lambda n: json.dumps(f'\\"{n}')),  # after an escaped quote
)


@settings(max_examples=500, deadline=None)
@given(st.lists(raw_values, min_size=1, max_size=6))
def test_number_literals_of_any_length_read_as_json_reads_them(parts: list[str]) -> None:
    """Long integers, long fractions and exponents, and digit runs in strings, as written
    by other JSON writers (not Python's): json's value or 400, and orjson only when no
    integer literal is long enough to differ."""
    raw = ("[" + ", ".join(parts) + "]").encode()
    assert _same(_reading(raw), _json_reading(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b"18446744073709551616",  # past 64 bits: orjson would give a float
        b"[9223372036854775808, -9223372036854775809]",
        b'{"n": NaN, "i": Infinity}',
        b"\xef\xbb\xbf{}",  # byte-order mark
        b'["\\ud800"]',  # lone surrogate
        b"1e400",
        b'{"a": 1, "a": 2}',
        b"-18446744073709551617",
        b'{"text": "seed: -7938921803910075873", "n": 18446744073709551616}',
        b'{"value": 0.00018101502119545753, "big": 123456789012345678901234567890.5}',
        b'{"t": "\\"", "n": -18446744073709551617}',  # an escaped quote before it
        b'{"t": "\\\\", "n": 18446744073709551616}',  # an escaped backslash before it
        b'{"t": [' + b", ".join([b'"seed -1234567890123456789012"'] * 20) + b'], "n": 1}',
        b'{"t": [' + b", ".join([b'"seed 1234567890123456789012"'] * 20) + b'], "n": 1e25}',
    ],
)
def test_bodies_orjson_would_read_otherwise(raw: bytes) -> None:
    """The bodies where orjson differs from json or refuses are json's reading."""
    assert _same(_reading(raw), _json_reading(raw))


def test_an_ordinary_hook_body_is_read_by_orjson() -> None:
    """A fixture's patient-view body takes the orjson path (not only the fallback)."""
    bundle = json.loads((ROOT / "fhir_fixtures" / "third-line.json").read_text())
    raw = json.dumps({"hook": "patient-view", "prefetch": {"b": bundle}}).encode()
    assert _orjson_reads(raw) == json.loads(raw)


def test_a_synthea_record_is_read_by_orjson(external_fhir: Path) -> None:
    """Synthea's long decimals and the 19-digit seed in its narratives are no integers:
    the whole Sherman_McGlynn record is orjson's, equal to json's reading."""
    path = next(iter(sorted((external_fhir / "synthea-r4").glob("Sherman_McGlynn_*.json"))))
    raw = path.read_bytes()
    assert b"7938921803910075873" in raw
    assert _orjson_reads(raw) == json.loads(raw)
