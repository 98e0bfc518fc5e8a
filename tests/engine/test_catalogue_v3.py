"""How records name their drugs in v3 (CLINICAL_RULES §3): ATC and NDC codes,
international spellings, and the abbreviations oncology orders use."""

from __future__ import annotations

import pytest

from service.engine.catalogue import canonical_ndc, load_catalogue, product_ndc
from service.engine.record import Code

ATC = "http://www.whocc.no/atc"
NDC = "http://hl7.org/fhir/sid/ndc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def agents(*, codes: tuple[Code, ...] = (), texts: tuple[str, ...] = ()) -> list[str]:
    return [a.name for a in load_catalogue().match(codes, texts)]


# --- ATC ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system", "code", "agent"),
    [
        (ATC, "L01XA02", "carboplatin"),
        (ATC, "L01XA01", "cisplatin"),
        (ATC, "L01CB01", "etoposide"),
        (ATC, "L01CE01", "topotecan"),
        (ATC, "L01XX69", "lurbinectedin"),
        (ATC, "L01FX33", "tarlatamab"),
        (ATC, "L01FF05", "atezolizumab"),
        ("http://fhir.de/CodeSystem/bfarm/atc", "L01FF03", "durvalumab"),
        ("urn:oid:2.16.840.1.113883.6.73", "L01CD01", "paclitaxel"),
        (ATC, "l01cb01", "etoposide"),  # written in lower case
    ],
)
def test_atc_codes_name_their_agent(system: str, code: str, agent: str) -> None:
    """§3 v3: an ATC coding (any system naming whocc or atc, or the OID) names its agent."""
    assert agents(codes=(Code(system, code),)) == [agent]


def test_an_atc_code_is_matched_exactly() -> None:
    """Neither the group L01XA nor a code of another system with the same text names it."""
    assert agents(codes=(Code(ATC, "L01XA"),)) == []
    assert agents(codes=(Code("http://example.org/local", "L01XA02"),)) == []
    assert agents(codes=(Code("http://example.org/match", "L01XA02"),)) == []


def test_atc_coded_german_etoposid_is_etoposide() -> None:
    """An ATC coding with its German display (ATC-DE writes "Etoposid") is etoposide."""
    assert agents(codes=(Code(ATC, "L01CB01", "Etoposid"),)) == ["etoposide"]
    assert agents(texts=("Etoposid 100 mg",)) == ["etoposide"]


def test_atc_paclitaxel_with_protein_bound_text_is_nab_paclitaxel() -> None:
    """nab-paclitaxel shares L01CD01: the refinement still tells it apart."""
    code = (Code(ATC, "L01CD01", "Paclitaxel"),)
    assert agents(codes=code) == ["paclitaxel"]
    assert agents(codes=code, texts=("paclitaxel protein-bound 100 mg",)) == ["nab-paclitaxel"]


# --- NDC ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("0703-4244-01", "00703424401"),  # 4-4-2
        ("16729-295-12", "16729029512"),  # 5-3-2
        ("55150-0335-1", "55150033501"),  # 5-4-1
        ("63323-0172-60", "63323017260"),  # 5-4-2 with hyphens
        ("00703424401", "00703424401"),  # 11 digits
        (" 00703424401 ", "00703424401"),
        ("0703424401", None),  # 10 digits without hyphens: cannot be told apart
        ("703-4244-01", None),
        ("0703-4244", None),  # a product code, not a package
        ("007034244011", None),
        ("0703-42a4-01", None),
    ],
)
def test_ndc_forms_are_read_to_their_11_digit_package(written: str, canonical: str | None) -> None:
    """The hyphenated 10-digit layouts pad the short segment; 11 digits are kept."""
    assert canonical_ndc(written) == canonical


@pytest.mark.parametrize(
    ("written", "product"),
    [("0703-4244", "007034244"), ("16729-295", "167290295"), ("55150-0335", "551500335")],
)
def test_product_ndcs_are_read_to_9_digits(written: str, product: str) -> None:
    """A labeler-product code (4-4, 5-3, 5-4) is the first 9 digits of its packages."""
    assert product_ndc(written) == product


@pytest.mark.parametrize(
    ("code", "agent"),
    [
        ("0703-4244-01", "carboplatin"),  # Teva carboplatin, 4-4-2
        ("00703424401", "carboplatin"),  # the same, 11 digits
        ("16729-295-12", "carboplatin"),  # Accord carboplatin, 5-3-2
        ("63323-104-05", "etoposide"),  # Fresenius etoposide, 5-3-2
        ("63323010405", "etoposide"),
        ("0703-5747-11", "cisplatin"),
        ("50242-918-01", "atezolizumab"),  # Tecentriq
        ("0310-4500-12", "durvalumab"),  # Imfinzi
        ("68727-712-01", "lurbinectedin"),  # Zepzelca
        ("55513-059-01", "tarlatamab"),  # Imdelltra
        ("68817-134-50", "nab-paclitaxel"),  # Abraxane: nab by its own code
        ("0703-4244", "carboplatin"),  # the product of a listed package
    ],
)
def test_ndc_codes_name_their_agent_in_either_form(code: str, agent: str) -> None:
    """§3 v3: an NDC coding names its agent however the record writes the NDC."""
    assert agents(codes=(Code(NDC, code),)) == [agent]
    assert agents(codes=(Code("urn:oid:2.16.840.1.113883.6.69", code),)) == [agent]


def test_an_ndc_in_another_system_or_unlisted_names_nothing() -> None:
    """An NDC string under RxNorm, or an NDC the catalogue does not list, names nothing."""
    assert agents(codes=(Code(RXNORM, "00703424401"),)) == []
    assert agents(codes=(Code(NDC, "00000000000"),)) == []
    assert agents(codes=(Code(NDC, "0703424401"),)) == []  # ambiguous 10 digits


# --- international spellings ----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Carboplatine 450 mg", "carboplatin"),
        ("CARBOPLATINO", "carboplatin"),
        ("Carboplatinum", "carboplatin"),
        ("Cisplatine", "cisplatin"),
        ("cisplatino 75 mg/m2", "cisplatin"),
        ("Cisplatinum", "cisplatin"),
        ("Étoposide", "etoposide"),
        ("Etopósido 100 mg", "etoposide"),
        ("Etoposido", "etoposide"),
        ("Etoposidum", "etoposide"),
        ("Topotécan", "topotecan"),
        ("Topotecán 1,5 mg/m2", "topotecan"),
        ("Irinotécan", "irinotecan"),
        ("Docétaxel", "docetaxel"),
        ("Paclitaxelum", "paclitaxel"),
        ("Durvalumabum", "durvalumab"),
        ("Atézolizumab", "atezolizumab"),
        ("Lurbinectedina", "lurbinectedin"),
        ("Ciclofosfamida", "cyclophosphamide"),
        ("Doxorrubicina", "doxorubicin"),
        ("Vincristin", "vincristine"),
    ],
)
def test_international_spellings_name_their_agent(text: str, agent: str) -> None:
    """German, French, Spanish, Italian and Latin INN spellings, accents or not."""
    assert agents(texts=(text,)) == [agent]


def test_a_spelling_inside_another_word_names_nothing() -> None:
    """Word boundaries hold for spellings as for names."""
    assert agents(texts=("xcarboplatinox", "etoposidos")) == []


# --- abbreviations --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Carbo/VP16", ["carboplatin", "etoposide"]),
        ("Carbo-Etop", ["carboplatin", "etoposide"]),
        ("carbo AUC 5 + VP-16 100 mg/m2", ["carboplatin", "etoposide"]),
        ("VP 16 day 1-3", ["etoposide"]),
        ("Cis/VP-16", ["cisplatin", "etoposide"]),
        ("CDDP 75", ["cisplatin"]),
        ("atezo maintenance", ["atezolizumab"]),
        ("Durva q4w", ["durvalumab"]),
        ("topo 1.5", ["topotecan"]),
        ("Lurbi 3.2", ["lurbinectedin"]),
        ("pembro", ["pembrolizumab"]),
        ("Nivo 240 mg", ["nivolumab"]),
    ],
)
def test_abbreviations_in_medication_text_name_their_agents(text: str, expected: list[str]) -> None:
    """§3 v3: the abbreviations oncology orders use, as whole words of the record's text."""
    assert agents(texts=(text,)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "shared decision making",  # "cis" inside a word
        "Cisatracurium 10 mg",
        "13-cis-retinoic acid",  # a chemical locant
        "carbonyl iron",
        "Topol",
        "Nivolin syrup",
    ],
)
def test_abbreviations_do_not_match_inside_words_or_chemical_names(text: str) -> None:
    """'cis' is no cisplatin inside 'decision', nor after a locant ('13-cis')."""
    assert agents(texts=(text,)) == []


def test_abbreviations_are_read_in_the_records_own_text_only() -> None:
    """A coding's display (of any system) is not searched for abbreviations."""
    assert agents(codes=(Code("http://example.org/orders", "77", "Carbo/VP16"),)) == []
    assert agents(codes=(Code("http://example.org/orders", "77"),), texts=("Carbo/VP16",)) == [
        "carboplatin",
        "etoposide",
    ]


# --- regimen abbreviations ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("EP", ["cisplatin", "etoposide"]),
        ("EP x 4 cycles", ["cisplatin", "etoposide"]),
        ("Chemo: EP C1D1", ["cisplatin", "etoposide"]),
        ("CE + atezolizumab", ["atezolizumab", "carboplatin", "etoposide"]),
        ("EC q21d", ["carboplatin", "etoposide"]),
        ("EP/atezo", ["atezolizumab", "cisplatin", "etoposide"]),
        ("EP + RT for LS-SCLC", ["cisplatin", "etoposide"]),
    ],
)
def test_regimen_abbreviations_name_etoposide_and_a_platinum(
    text: str, expected: list[str]
) -> None:
    """EP = etoposide + cisplatin, CE and EC = etoposide + carboplatin (decisions.md)."""
    assert agents(texts=(text,)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ep",  # lower case
        "Ep",
        "the ce mark",
        "Aspirin EC 81 mg",  # enteric-coated
        "ASA 81mg EC tablet",
        "EC-T",  # another regimen (epirubicin-cyclophosphamide then a taxane)
        "Pantoprazole EC",
        "STEP",
        "CEA level",
    ],
)
def test_regimen_abbreviations_need_upper_case_and_an_order(text: str) -> None:
    """Lower-case 'ep'/'ce' in prose, and EC beside another drug's name, name nothing."""
    assert agents(texts=(text,)) == []


def test_a_text_spelling_out_another_regimen_keeps_its_own_agents() -> None:
    """'Epirubicin/cyclophosphamide (EC)' is the breast-cancer EC: those two, not EC's."""
    assert agents(texts=("Epirubicin/cyclophosphamide (EC)",)) == [
        "cyclophosphamide",
        "epirubicin",
    ]


def test_a_regimen_abbreviation_in_a_coding_display_names_nothing() -> None:
    """Regimen abbreviations, like the others, are read in the record's own text only."""
    assert agents(codes=(Code("http://example.org/orders", "1", "EP"),)) == []
