"""Drug catalogue matching (CLINICAL_RULES §3)."""

from __future__ import annotations

import pytest

from service.engine.catalogue import Catalogue, load_catalogue
from service.engine.record import Code

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def agents(*, codes: tuple[Code, ...] = (), texts: tuple[str, ...] = ()) -> list[str]:
    return [a.name for a in load_catalogue().match(codes, texts)]


@pytest.mark.parametrize(
    ("code", "agent"),
    [
        ("40048", "carboplatin"),
        ("597195", "carboplatin"),
        ("2555", "cisplatin"),
        ("1736854", "cisplatin"),  # Synthea "Cisplatin 50 MG Injection"
        ("309311", "cisplatin"),
        ("4179", "etoposide"),
        ("1734340", "etoposide"),
        ("197687", "etoposide"),  # oral
        ("1792776", "atezolizumab"),
        ("1919503", "durvalumab"),
        ("57308", "topotecan"),
        ("56946", "paclitaxel"),
        ("583214", "paclitaxel"),
        ("1860480", "docetaxel"),
        ("1736776", "oxaliplatin"),
    ],
)
def test_rxnorm_codes_name_their_agent(code: str, agent: str) -> None:
    """§3: each RxNorm ingredient or product code names exactly its agent."""
    assert agents(codes=(Code(RXNORM, code),)) == [agent]


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("Tecentriq 1200 mg IV", "atezolizumab"),
        ("IMFINZI", "durvalumab"),
        ("Zepzelca 3.2 mg/m2", "lurbinectedin"),
        ("Imdelltra step-up dose", "tarlatamab"),
        ("Anlotinib hydrochloride capsules 12 mg", "anlotinib"),
        ("Carboplatin AUC5", "carboplatin"),
    ],
)
def test_brand_and_generic_names_match_case_insensitively(text: str, agent: str) -> None:
    """§3: brand and generic names in free text name their agent, whatever the case."""
    assert agents(texts=(text,)) == [agent]


@pytest.mark.parametrize(
    "text",
    [
        "paclitaxel protein-bound particles 100 mg",
        "Paclitaxel albumin-bound",
        "PACLitaxel 100 MG Injectable Suspension",
        "nab-paclitaxel 125 mg/m2",
        "Abraxane",
    ],
)
def test_protein_bound_paclitaxel_is_nab_paclitaxel_only(text: str) -> None:
    """§3: protein-bound, albumin-bound, nab- or Abraxane paclitaxel is nab-paclitaxel alone."""
    assert agents(codes=(Code(RXNORM, "56946"),), texts=(text,)) == ["nab-paclitaxel"]


def test_names_match_on_word_boundaries_only() -> None:
    """'carboplatinum-like' text inside another word must not match."""
    assert agents(texts=("xcarboplatinx",)) == []


def test_non_oncology_drugs_match_nothing() -> None:
    """§3: a non-oncology drug (lisinopril) matches no agent."""
    assert agents(codes=(Code(RXNORM, "314076", "lisinopril 10 MG Oral Tablet"),)) == []


def test_supportive_agents_are_flagged() -> None:
    """§3: filgrastim, pegfilgrastim, trilaciclib are supportive; anlotinib is anti-angiogenic."""
    catalogue = load_catalogue()
    assert all(
        catalogue.agent(n).supportive for n in ("filgrastim", "pegfilgrastim", "trilaciclib")
    )
    assert catalogue.agent("anlotinib").antiangiogenic


@pytest.mark.parametrize(
    ("text", "word"),
    [("Foobarmab 200 mg", "Foobarmab"), ("zorotecan", "zorotecan"), ("aspirin", None)],
)
def test_unknown_antineoplastic_looking_names_are_spotted(text: str, word: str | None) -> None:
    """§3: an unknown -mab or -tecan name is spotted by its word; aspirin is not."""
    assert Catalogue.looks_antineoplastic([text]) == word


def test_a_code_given_to_two_agents_is_refused() -> None:
    """A catalogue that gives one RxNorm code to two agents is refused when loaded."""
    with pytest.raises(ValueError, match="two agents"):
        Catalogue(
            [
                {"name": "a", "class": "platinum", "rxnorm": ["1"]},
                {"name": "b", "class": "platinum", "rxnorm": ["1"]},
            ]
        )
