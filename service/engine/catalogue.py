"""The drug catalogue: codes and names of anticancer agents, read from `drugs.toml`.

The data lives in `drugs.toml` beside this module (CLINICAL_RULES §3); this module only
matches a medication record against it. Drugs the catalogue does not list are not
anticancer for the engine and are ignored, except that a name which *looks*
antineoplastic is reported (see `looks_antineoplastic`), and a record that looks like
systemic anticancer therapy without naming an agent is unidentified (§1 v3, see
`looks_like_chemotherapy`).

A record names an agent by
- a code: RxNorm, WHO ATC (exact code) or NDC (package code in any of its written
  forms, see `canonical_ndc`, or the product code of a listed package);
- a name (generic, brand, international spelling), case-insensitive, on word boundaries,
  accents ignored, in coding displays and texts;
- an abbreviation (carbo, VP-16 …), case-insensitive, as a whole word, in the record's own
  texts only (never a coding's display);
- a regimen abbreviation (EP, EC, CE), upper case, as a whole word, in the record's own
  texts, when the rest of the text is an order and no other regimen (see `_is_order`).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

from service.engine.record import Code

__all__ = ["Agent", "Catalogue", "canonical_ndc", "load_catalogue", "product_ndc"]

RXNORM_SYSTEM_MARK = "rxnorm"  # http://www.nlm.nih.gov/research/umls/rxnorm and variants
ATC_OID = "2.16.840.1.113883.6.73"  # WHO ATC, as HL7 names it
NDC_OID = "2.16.840.1.113883.6.69"  # FDA National Drug Code
# http://www.whocc.no/atc and its variants (http://fhir.de/CodeSystem/bfarm/atc, the OID).
_ATC_SYSTEM = re.compile(rf"whocc|(?<![a-z])atc(?![a-z])|{re.escape(ATC_OID)}")
# http://hl7.org/fhir/sid/ndc and its OID.
_NDC_SYSTEM = re.compile(rf"(?<![a-z])ndc(?![a-z])|{re.escape(NDC_OID)}")
# §1 (v3): ATC group L01, antineoplastic agents.
ANTINEOPLASTIC_ATC_GROUP = "L01"

# An NDC as written: three hyphenated segments (a package) or two (a product).
_NDC_PACKAGE = re.compile(r"(\d{4,5})-(\d{3,4})-(\d{1,2})", re.ASCII)
_NDC_PRODUCT = re.compile(r"(\d{4,5})-(\d{3,4})", re.ASCII)
_NDC_LAYOUTS = frozenset({(4, 4, 2), (5, 3, 2), (5, 4, 1), (5, 4, 2)})
_NDC_ELEVEN = re.compile(r"\d{11}", re.ASCII)

# §3: an unknown drug whose name ends like this is reported in warnings.
_ANTINEOPLASTIC_SUFFIX = re.compile(
    r"\b([a-z][a-z-]*(?:mab|tinib|platin|taxel|rubicin|tecan))\b", re.IGNORECASE
)
# §1 (v3): what makes a text look like systemic anticancer therapy, read on folded text
# (so `m²` reads `m2`). "chemo" is a word of its own or chemotherapy, chemoradiation,
# chemoimmunotherapy; not a chemo port (a port flush is no chemotherapy).
_CHEMOTHERAPY_SIGNS = (
    (
        "the word chemo",
        re.compile(
            r"(?<![a-z])chemo(?:therap[a-z]*|radi[a-z]*|immuno[a-z]*)?(?![a-z])(?!\s*-?\s*port)",
            re.IGNORECASE,
        ),
    ),
    ("AUC dosing", re.compile(r"(?<![a-z])AUC(?![a-z])", re.IGNORECASE)),
    ("mg/m2 dosing", re.compile(r"mg\s*/\s*m\^?2(?![0-9])", re.IGNORECASE)),
    ("a cycle day (C1D1)", re.compile(r"(?<![a-z0-9])C\d{1,2}\s*D\d{1,2}(?![0-9])", re.I)),
    ("a numbered cycle", re.compile(r"(?<![a-z])cycle\s*(?:#|no\.?)?\s*\d{1,2}(?![0-9])", re.I)),
)
_WORDS = re.compile(r"[A-Za-z0-9]+")

PD1_CLASSES = frozenset({"PD-1 inhibitor", "PD-L1 inhibitor"})


@dataclass(frozen=True, slots=True)
class Agent:
    """One agent: its lowercase generic name and class, with flags the rules use."""

    name: str
    drug_class: str
    supportive: bool = False
    antiangiogenic: bool = False

    @property
    def is_platinum(self) -> bool:
        return self.drug_class == "platinum"

    @property
    def is_checkpoint_inhibitor(self) -> bool:
        """PD-1 or PD-L1 inhibitor (the maintenance agents of §5.4)."""
        return self.drug_class in PD1_CLASSES


@dataclass(frozen=True, slots=True)
class _Refinement:
    base: str
    agent: str
    terms: tuple[str, ...]


@lru_cache(maxsize=8192)
def _fold(text: str) -> str:
    """`text` with its accents dropped and compatibility forms spelled out (NFKD):
    'Étoposide' reads 'Etoposide', 'Topotecán' 'Topotecan', 'm²' 'm2'."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def canonical_ndc(code: str) -> str | None:
    """The 11-digit (5-4-2, no hyphens) form of a package NDC written with hyphens as
    4-4-2, 5-3-2, 5-4-1 or 5-4-2, or as 11 digits; None for anything else (10 digits
    without hyphens cannot be told apart, and are not read)."""
    text = code.strip()
    if _NDC_ELEVEN.fullmatch(text):
        return text
    hit = _NDC_PACKAGE.fullmatch(text)
    if hit is None or tuple(len(p) for p in hit.groups()) not in _NDC_LAYOUTS:
        return None
    labeler, product, package = hit.groups()
    return labeler.zfill(5) + product.zfill(4) + package.zfill(2)


def product_ndc(code: str) -> str | None:
    """The 9-digit (5-4) form of a product NDC written 4-4, 5-3 or 5-4; else None."""
    hit = _NDC_PRODUCT.fullmatch(code.strip())
    if hit is None or (len(hit.group(1)), len(hit.group(2))) == (4, 3):
        return None
    return hit.group(1).zfill(5) + hit.group(2).zfill(4)


def _alternation(terms: Iterable[str]) -> str:
    return "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))


def _index(table: dict[str, str], keys: Iterable[str], agent: str, what: str) -> None:
    """Add `keys` of `agent` to `table`; a key already another agent's is refused."""
    for key in keys:
        if table.setdefault(key, agent) != agent:
            raise ValueError(f"drug catalogue gives {what} {key!r} to two agents")


class Catalogue:
    """Maps codes, names and abbreviations to agents (see the module docstring)."""

    def __init__(
        self,
        entries: Iterable[Mapping[str, Any]],
        *,
        regimens: Iterable[Mapping[str, Any]] = (),
        order_words: Iterable[str] = (),
        unlisted_regimens: Iterable[str] = (),
    ) -> None:
        self._agents: dict[str, Agent] = {}
        self._codes: dict[str, tuple[str, ...]] = {}
        self._by_code: dict[str, str] = {}
        self._by_atc: dict[str, str] = {}
        self._by_ndc: dict[str, str] = {}
        self._by_product: dict[str, str] = {}
        self._names: dict[str, str] = {}
        self._abbreviations: dict[str, str] = {}
        refinements: list[_Refinement] = []
        for entry in entries:
            agent = Agent(
                name=str(entry["name"]),
                drug_class=str(entry["class"]),
                supportive=bool(entry.get("supportive", False)),
                antiangiogenic=bool(entry.get("antiangiogenic", False)),
            )
            if agent.name in self._agents:
                raise ValueError(f"drug catalogue lists {agent.name!r} twice")
            self._agents[agent.name] = agent
            self._codes[agent.name] = tuple(str(c) for c in entry.get("rxnorm", []))
            _index(self._by_code, self._codes[agent.name], agent.name, "RxNorm")
            _index(self._by_atc, (str(c) for c in entry.get("atc", [])), agent.name, "ATC")
            packages = [str(c) for c in entry.get("ndc", [])]
            if any(canonical_ndc(p) != p for p in packages):
                raise ValueError(f"drug catalogue: an NDC of {agent.name!r} is not 11 digits")
            _index(self._by_ndc, packages, agent.name, "NDC")
            _index(self._by_product, (p[:9] for p in packages), agent.name, "NDC product")
            names = (_fold(str(n)).lower() for n in [agent.name, *entry.get("names", [])])
            _index(self._names, names, agent.name, "the name")
            abbreviations = (_fold(str(a)).lower() for a in entry.get("abbreviations", []))
            _index(self._abbreviations, abbreviations, agent.name, "the abbreviation")
            if "refines" in entry:
                refinements.append(
                    _Refinement(
                        base=str(entry["refines"]),
                        agent=agent.name,
                        terms=tuple(str(t).lower() for t in entry.get("refine_terms", [])),
                    )
                )
        self._refinements = tuple(refinements)
        self._regimens = {str(r["abbreviation"]): tuple(map(str, r["agents"])) for r in regimens}
        for abbreviation, agents in self._regimens.items():
            if abbreviation != abbreviation.upper() or not set(agents) <= self._agents.keys():
                raise ValueError(
                    f"drug catalogue: regimen {abbreviation!r} is not upper case "
                    "or names an agent it does not list"
                )
        self._order_words = frozenset(w.lower() for w in order_words)
        self._name_pattern = re.compile(
            rf"(?<![a-z0-9])({_alternation(self._names)})(?![a-z0-9])", re.IGNORECASE
        )
        # A locant before it ("13-cis") makes an abbreviation part of a chemical name.
        self._abbreviation_pattern = re.compile(
            rf"(?<![a-z0-9])(?<!\d-)({_alternation(self._abbreviations)})(?![a-z0-9])",
            re.IGNORECASE,
        )
        self._regimen_pattern = self._token_pattern(self._regimens)
        self._unlisted_pattern = self._token_pattern(unlisted_regimens, variants=True)

    @staticmethod
    def _token_pattern(tokens: Iterable[str], *, variants: bool = False) -> re.Pattern[str]:
        """Upper-case whole tokens (case-sensitive); with `variants` also a modified or
        numbered form (mFOLFOX6). A pattern that never matches when there are none."""
        found = _alternation(tokens) or r"(?!x)x"
        before, after = (r"m?", r"\d*") if variants else ("", "")
        return re.compile(rf"(?<![A-Za-z0-9]){before}({found}){after}(?![A-Za-z0-9])")

    def __contains__(self, name: object) -> bool:
        return name in self._agents

    def agent(self, name: str) -> Agent:
        return self._agents[name]

    def rxnorm(self, name: str) -> tuple[str, ...]:
        """The agent's RxNorm codes as the catalogue lists them (ingredient first)."""
        return self._codes[name]

    @property
    def agents(self) -> tuple[Agent, ...]:
        return tuple(self._agents.values())

    def _coded(self, coding: Code) -> str | None:
        """The agent a coding names by its code (RxNorm, ATC or NDC), if any."""
        system, code = coding.system.lower(), coding.code.strip()
        if RXNORM_SYSTEM_MARK in system:
            return self._by_code.get(code)
        if _ATC_SYSTEM.search(system):
            return self._by_atc.get(code.upper())
        if _NDC_SYSTEM.search(system):
            package = canonical_ndc(code)
            if package is not None:
                return self._by_ndc.get(package)
            product = product_ndc(code)
            return self._by_product.get(product) if product is not None else None
        return None

    def _named(self, text: str) -> set[str]:
        return {self._names[hit.group(1).lower()] for hit in self._name_pattern.finditer(text)}

    def _abbreviated(self, text: str) -> set[str]:
        """Agents an own text names by abbreviation: agent abbreviations, and regimen
        abbreviations of a text that is an order (`_is_order`) naming no other regimen."""
        found = {
            self._abbreviations[hit.group(1).lower()]
            for hit in self._abbreviation_pattern.finditer(text)
        }
        regimens = [self._regimens[h.group(1)] for h in self._regimen_pattern.finditer(text)]
        if regimens and self._is_order(text):
            named = self._named(text) | found
            for agents in regimens:
                # "Epirubicin/cyclophosphamide (EC)" spells out another regimen.
                if len(named - set(agents)) < 2:
                    found.update(agents)
        return found

    def _is_order(self, text: str) -> bool:
        """True when every word of `text` is a drug term of the catalogue, a regimen
        abbreviation, a number or dose ("C1D1", "100mg") or an order word of the catalogue
        ("cycle", "x", "IV" …): "Aspirin EC 81 mg" names aspirin, enteric-coated, and
        "EC-T" another regimen, so neither is read as a regimen of the catalogue."""
        rest = text
        for pattern in (self._name_pattern, self._abbreviation_pattern, self._regimen_pattern):
            rest = pattern.sub(" ", rest)
        return all(
            any(c.isdigit() for c in word) or word.lower() in self._order_words
            for word in _WORDS.findall(rest)
        )

    def match(self, codes: Iterable[Code], texts: Iterable[str]) -> tuple[Agent, ...]:
        """Agents named by these codings and texts, sorted by name; () when none.

        `texts` are the record's own texts (CodeableConcept.text, a reference's display,
        a Medication's code text and its ingredients'): only there are abbreviations read.
        """
        codes = tuple(codes)
        own = [_fold(t) for t in texts]
        words = [*own, *(_fold(c.display) for c in codes if c.display)]
        found = {agent for agent in map(self._coded, codes) if agent is not None}
        for text in words:
            found |= self._named(text)
        for text in own:
            found |= self._abbreviated(text)
        lowered = " ".join(words).lower()
        for refinement in self._refinements:
            refined = refinement.agent in found or any(t in lowered for t in refinement.terms)
            if refinement.base in found and refined:
                # One record, one drug: "paclitaxel" with a protein-bound marker (or next
                # to a nab-paclitaxel name or code) is nab-paclitaxel only.
                found.discard(refinement.base)
                found.add(refinement.agent)
        return tuple(self._agents[name] for name in sorted(found))

    def looks_like_chemotherapy(self, codes: Iterable[Code], texts: Iterable[str]) -> str | None:
        """Why a record looks like systemic anticancer therapy (§1 v3), or None: an ATC
        code under L01, or a text (or coding display) with "chemo", AUC or mg/m2 dosing,
        a cycle day (C1D1) or numbered cycle, or a regimen abbreviation the catalogue does
        not list (FOLFOX, CAV …). Asked of records that name no agent."""
        codes = tuple(codes)
        for coding in codes:
            code = coding.code.strip().upper()
            if _ATC_SYSTEM.search(coding.system.lower()) and code.startswith(
                ANTINEOPLASTIC_ATC_GROUP
            ):
                return f"ATC {code}, an antineoplastic agent"
        for text in [*texts, *(c.display for c in codes if c.display)]:
            folded = _fold(text)
            for sign, pattern in _CHEMOTHERAPY_SIGNS:
                if pattern.search(folded):
                    return sign
            hit = self._unlisted_pattern.search(folded)
            if hit is not None:
                return f"the regimen {hit.group(0)}"
        return None

    @staticmethod
    def looks_antineoplastic(texts: Iterable[str]) -> str | None:
        """The first word that ends like an anticancer drug name (-mab, -tinib …), as written."""
        for text in texts:
            hit = _ANTINEOPLASTIC_SUFFIX.search(text)
            if hit:
                return hit.group(1)
        return None


@cache
def load_catalogue() -> Catalogue:
    """The catalogue shipped with the package (`service/engine/drugs.toml`)."""
    text = resources.files("service.engine").joinpath("drugs.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return Catalogue(
        data["agent"],
        regimens=data.get("regimen", []),
        order_words=data.get("order_words", {}).get("words", []),
        unlisted_regimens=data.get("looks_like_chemotherapy", {}).get("regimens", []),
    )
