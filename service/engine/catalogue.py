"""The drug catalogue: codes and names of anticancer agents, read from `drugs.toml`.

The data lives in `drugs.toml` beside this module (CLINICAL_RULES §3); this module only
matches a medication record against it. Drugs the catalogue does not list are not
anticancer for the engine and are ignored, except that a name which *looks*
antineoplastic is reported (see `looks_antineoplastic`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from service.engine.record import Code

__all__ = ["Agent", "Catalogue", "load_catalogue"]

RXNORM_SYSTEM_MARK = "rxnorm"  # http://www.nlm.nih.gov/research/umls/rxnorm and variants

# §3: an unknown drug whose name ends like this is reported in warnings.
_ANTINEOPLASTIC_SUFFIX = re.compile(
    r"\b([a-z][a-z-]*(?:mab|tinib|platin|taxel|rubicin|tecan))\b", re.IGNORECASE
)

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


class Catalogue:
    """Maps RxNorm codes and drug names to agents."""

    def __init__(self, entries: Iterable[Mapping[str, Any]]) -> None:
        self._agents: dict[str, Agent] = {}
        self._by_code: dict[str, str] = {}
        self._codes: dict[str, tuple[str, ...]] = {}
        names: dict[str, str] = {}
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
            for code in entry.get("rxnorm", []):
                if self._by_code.setdefault(str(code), agent.name) != agent.name:
                    raise ValueError(f"drug catalogue gives RxNorm {code} to two agents")
            for name in [agent.name, *entry.get("names", [])]:
                names[str(name).lower()] = agent.name
            if "refines" in entry:
                refinements.append(
                    _Refinement(
                        base=str(entry["refines"]),
                        agent=agent.name,
                        terms=tuple(str(t).lower() for t in entry.get("refine_terms", [])),
                    )
                )
        self._names = names
        alternation = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        self._name_pattern = re.compile(rf"(?<![a-z0-9])({alternation})(?![a-z0-9])", re.IGNORECASE)
        self._refinements = tuple(refinements)

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

    def match(self, codes: Iterable[Code], texts: Iterable[str]) -> tuple[Agent, ...]:
        """Agents named by these codings and texts, sorted by name; () when none."""
        codes = tuple(codes)
        words = [*texts, *(c.display for c in codes if c.display)]
        found: set[str] = set()
        for coding in codes:
            if RXNORM_SYSTEM_MARK in coding.system.lower() and coding.code in self._by_code:
                found.add(self._by_code[coding.code])
        for text in words:
            for hit in self._name_pattern.finditer(text):
                found.add(self._names[hit.group(1).lower()])
        lowered = " ".join(words).lower()
        for refinement in self._refinements:
            refined = refinement.agent in found or any(t in lowered for t in refinement.terms)
            if refinement.base in found and refined:
                # One record, one drug: "paclitaxel" with a protein-bound marker (or next
                # to a nab-paclitaxel name or code) is nab-paclitaxel only.
                found.discard(refinement.base)
                found.add(refinement.agent)
        return tuple(self._agents[name] for name in sorted(found))

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
    return Catalogue(tomllib.loads(text)["agent"])
