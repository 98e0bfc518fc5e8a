"""The disease-status values of `service/engine/disease_status.toml` (CLINICAL_RULES §6.1):
every code is a well-formed SNOMED CT concept id and names the public listing it came from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from service.engine import rules

DATA = Path(rules.__file__).with_name("disease_status.toml")
TEXT = DATA.read_text("utf-8")
VALUES = tomllib.loads(TEXT)["value"]
# The source tags the file's header explains.
DECLARED = set(re.findall(r"^#\s+(\[[a-z-]+\])", TEXT, re.MULTILINE))

# Verhoeff's dihedral-group tables, as the SNOMED CT identifier check digit uses them.
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]


def verhoeff_ok(digits: str) -> bool:
    check = 0
    for i, digit in enumerate(reversed(digits)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def is_snomed_concept_id(code: str) -> bool:
    """6-18 digits, no leading zero, a concept partition (00 or 10), Verhoeff check digit."""
    return (
        re.fullmatch(r"[1-9]\d{5,17}", code) is not None
        and code[-3:-1] in {"00", "10"}
        and verhoeff_ok(code)
    )


def test_the_format_check_tells_a_real_id_from_a_typo() -> None:
    """A real concept id passes; one digit off, another partition or too short fails."""
    assert is_snomed_concept_id("271299001")  # worsened
    assert not is_snomed_concept_id("271299002")  # one digit off: check digit fails
    assert not is_snomed_concept_id("271299011")  # description partition, not a concept
    assert not is_snomed_concept_id("2712")


@pytest.mark.parametrize("value", VALUES, ids=lambda v: v["code"])
def test_each_value_is_a_snomed_concept_with_a_declared_source(value: dict[str, str]) -> None:
    """Each value is a well-formed concept id whose source tags the header declares."""
    assert is_snomed_concept_id(value["code"])
    tags = re.findall(r"\[[a-z-]+\]", value["source"])
    assert tags and set(tags) <= DECLARED, value
    assert value["display"].endswith(("(finding)", "(qualifier value)", "(disorder)"))


def test_codes_are_listed_once_and_worsened_is_a_progression() -> None:
    """No code twice; worsened is a progression; no code is both."""
    codes = [v["code"] for v in VALUES]
    assert len(codes) == len(set(codes))
    assert rules.WORSENED_SNOMED in rules.PROGRESSION_SNOMED
    assert not rules.PROGRESSION_SNOMED & rules.DISEASE_STATUS_OTHER_SNOMED


def test_the_engine_codes_of_section_2_are_well_formed_too() -> None:
    """The §2 SCLC and NSCLC codes of rules.py pass the same format check."""
    for code in (*rules.SCLC_SNOMED_CODES, rules.NSCLC_SNOMED):
        assert is_snomed_concept_id(code), code
