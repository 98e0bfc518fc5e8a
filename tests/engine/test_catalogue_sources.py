"""The drug catalogue file held to its sources (CLINICAL_RULES §3 v3): every code in the
shape its code system gives it, every ATC and NDC entry with a source the header lists."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

import pytest

from service.engine.catalogue import Catalogue, canonical_ndc, load_catalogue

TEXT = resources.files("service.engine").joinpath("drugs.toml").read_text("utf-8")
DATA = tomllib.loads(TEXT)
AGENTS: list[dict[str, Any]] = DATA["agent"]
# The source tags the header defines: `#   [tag]   where it is`.
HEADER_TAGS = frozenset(re.findall(r"^#\s+\[([a-z][a-z0-9-]*)\]", TEXT, re.MULTILINE))
TAG = re.compile(r"\[([a-z][a-z0-9-]*)")
ATC_L01 = re.compile(r"L01[A-Z]{2}\d{2}")  # an antineoplastic agent (L01), chemical level
ATC_SUBSTANCE = re.compile(r"[A-Z]\d{2}[A-Z]{2}\d{2}")  # any ATC fifth level


def _ids(entries: list[dict[str, Any]]) -> list[str]:
    return [str(e["name"]) for e in entries]


def test_the_header_lists_the_new_sources() -> None:
    """The v3 sources are defined in the header, beside the RxNorm ones."""
    assert {"who-atc", "mii-atc", "cms-asp", "fda-shortage", "hemonc", "nmdp"} <= HEADER_TAGS


@pytest.mark.parametrize("entry", AGENTS, ids=_ids(AGENTS))
def test_atc_codes_have_the_atc_shape_and_a_listed_source(entry: dict[str, Any]) -> None:
    """Anticancer agents have L01 codes; supportive ones any fifth-level ATC code; every
    code is named in `atc_note` with a source tag of the header."""
    codes = entry.get("atc", [])
    shape = ATC_SUBSTANCE if entry.get("supportive") else ATC_L01
    assert all(shape.fullmatch(code) for code in codes), codes
    if codes:
        note = entry["atc_note"]
        assert all(code in note for code in codes)
        tags = set(TAG.findall(note))
        assert tags and tags <= HEADER_TAGS, tags
    else:
        assert "atc_note" not in entry


def _layout(ndc: str) -> bool:
    """An 11-digit NDC padded from a 10-digit one: 4-4-2, 5-3-2 or 5-4-1."""
    return ndc[0] == "0" or ndc[5] == "0" or ndc[9] == "0"


@pytest.mark.parametrize("entry", AGENTS, ids=_ids(AGENTS))
def test_ndc_codes_are_canonical_11_digit_packages_with_a_listed_source(
    entry: dict[str, Any],
) -> None:
    """Each NDC is 11 digits (5-4-2) padded from a valid 10-digit layout, written once;
    `ndc_note` counts them and names a source tag of the header."""
    codes = entry.get("ndc", [])
    assert all(re.fullmatch(r"\d{11}", c) and canonical_ndc(c) == c for c in codes), codes
    assert all(_layout(c) for c in codes), [c for c in codes if not _layout(c)]
    assert len(set(codes)) == len(codes)
    if codes:
        note = entry["ndc_note"]
        assert note.startswith(f"{len(codes)} package(s)")
        tags = set(TAG.findall(note))
        assert tags and tags <= HEADER_TAGS, tags
    else:
        assert "ndc_note" not in entry


@pytest.mark.parametrize("entry", AGENTS, ids=_ids(AGENTS))
def test_every_note_cites_only_sources_of_the_header(entry: dict[str, Any]) -> None:
    """No source tag in a note is missing from the header."""
    assert set(TAG.findall(entry["note"])) <= HEADER_TAGS


def test_the_codes_the_rules_name_are_in_the_catalogue() -> None:
    """§3's example and the ATC codes of the SCLC agents (WHO ATC index)."""
    atc = {e["name"]: e.get("atc", []) for e in AGENTS}
    assert atc["carboplatin"] == ["L01XA02"]
    assert atc["cisplatin"] == ["L01XA01"]
    assert atc["etoposide"] == ["L01CB01"]
    assert atc["topotecan"] == ["L01CE01"]
    assert atc["lurbinectedin"] == ["L01XX69"]
    assert atc["tarlatamab"] == ["L01FX33"]
    assert atc["atezolizumab"] == ["L01FF05"]
    assert atc["durvalumab"] == ["L01FF03"]
    assert atc["anlotinib"] == []  # in no ATC listing found: names carry the match
    assert atc["nab-paclitaxel"] == []  # paclitaxel's L01CD01, told apart by `refines`


def test_regimen_abbreviations_are_upper_case_and_name_listed_agents() -> None:
    """EP, CE, EC name etoposide with a platinum; every regimen cites a source or says
    it is uncertain."""
    regimens = {r["abbreviation"]: set(r["agents"]) for r in DATA["regimen"]}
    assert regimens == {
        "EP": {"etoposide", "cisplatin"},
        "CE": {"carboplatin", "etoposide"},
        "EC": {"etoposide", "carboplatin"},
    }
    for regimen in DATA["regimen"]:
        assert set(TAG.findall(regimen["note"])) <= HEADER_TAGS
        assert TAG.search(regimen["note"]) or "Uncertain" in regimen["note"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("atc", ["L01XA02"], "ATC 'L01XA02' to two agents"),
        ("ndc", ["00703424401"], "NDC '00703424401' to two agents"),
        ("names", ["platin"], "the name 'platin' to two agents"),
        ("abbreviations", ["carbo"], "the abbreviation 'carbo' to two agents"),
    ],
)
def test_a_code_or_word_given_to_two_agents_is_refused(
    field: str, value: list[str], message: str
) -> None:
    """A catalogue naming one code, name or abbreviation for two agents is refused."""
    entries = [{"name": n, "class": "platinum", field: value} for n in ("a", "b")]
    with pytest.raises(ValueError, match=re.escape(message)):
        Catalogue(entries)


def test_an_ndc_not_in_canonical_form_is_refused() -> None:
    """The file keeps NDCs as 11 digits; a hyphenated one is a mistake in the data."""
    with pytest.raises(ValueError, match="not 11 digits"):
        Catalogue([{"name": "a", "class": "platinum", "ndc": ["0703-4244-01"]}])


def test_the_shipped_catalogue_loads_with_its_regimens() -> None:
    """The file as shipped loads (no code given twice) and reads a regimen."""
    assert [a.name for a in load_catalogue().match((), ("EP",))] == ["cisplatin", "etoposide"]
