"""Second-line and later options (CLINICAL_RULES §9). Ids are part of the contract."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from service.engine.catalogue import PD1_CLASSES
from service.engine.model import (
    ForAnotherCancer,
    Line,
    Note,
    OptionReason,
    OptionResult,
    OptionStatus,
    Platinum,
    Withheld,
)

__all__ = [
    "OPTION_AGENTS",
    "OPTION_IDS",
    "RELAPSE_AGENTS",
    "OptionInputs",
    "other_cancer_notes",
    "chemo_immunotherapy",
    "select_options",
]

# §9, in the order of its table (and of the cards).
OPTION_IDS = (
    "platinum-rechallenge",
    "topotecan",
    "lurbinectedin",
    "tarlatamab",
    "amrubicin",
    "nab-paclitaxel-anlotinib",
    "anlotinib",
    "taxane",
    "palliative-radiotherapy",
    "clinical-trial",
)
# Agents of each drug option: an option is not shown once any of them was received
# ("re-treatment is only ever platinum-rechallenge"), nor while one is possibly received.
OPTION_AGENTS: dict[str, frozenset[str]] = {
    "platinum-rechallenge": frozenset({"carboplatin", "cisplatin", "etoposide"}),
    "topotecan": frozenset({"topotecan"}),
    "lurbinectedin": frozenset({"lurbinectedin"}),
    "tarlatamab": frozenset({"tarlatamab"}),
    "amrubicin": frozenset({"amrubicin"}),
    "nab-paclitaxel-anlotinib": frozenset({"nab-paclitaxel", "anlotinib"}),
    "anlotinib": frozenset({"anlotinib"}),
    "taxane": frozenset({"nab-paclitaxel", "paclitaxel"}),
}
# Drugs for a relapse: the agents of the drug options other than platinum-etoposide.
RELAPSE_AGENTS = frozenset(
    agent
    for option, agents in OPTION_AGENTS.items()
    if option != "platinum-rechallenge"
    for agent in agents
)
# Why the options that need more than a decision point are shown (§9 "shown when").
_SHOWN_BECAUSE: dict[str, OptionReason] = {
    "topotecan": "after-platinum",
    "lurbinectedin": "after-platinum",
    "tarlatamab": "after-platinum",
    "nab-paclitaxel-anlotinib": "after-chemo-immunotherapy",
    "anlotinib": "after-platinum",
    "taxane": "after-platinum",
}


@dataclass(frozen=True, slots=True)
class OptionInputs:
    """What §9 decides by.

    `received`: agents of the dated exposures attributed to SCLC (v3: a drug given for
    another cancer never hides an option, §4); `possibly`: agent → the
    records that only possibly show it (§1); `unidentified`: records that may be any
    drug; `antiangiogenic` / `taxanes`: the catalogue's agents of those kinds.
    """

    next_line: int | None
    lines: Sequence[Line]
    platinum: Platinum | None
    limited_at_relapse: bool
    received: frozenset[str]
    possibly: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    unidentified: tuple[str, ...] = ()
    antiangiogenic: frozenset[str] = frozenset()
    taxanes: frozenset[str] = frozenset()
    poor_performance: bool = False


def chemo_immunotherapy(line: Line) -> bool:
    """Platinum chemo-immunotherapy (§9, docs/decisions.md): the line has a platinum agent
    and a PD-1/PD-L1 inhibitor."""
    classes = {e.drug_class for e in line.exposures}
    return "platinum" in classes and bool(classes & PD1_CLASSES)


def _rechallenge_status(inputs: OptionInputs) -> OptionStatus | None:
    platinum = inputs.platinum
    if platinum is None or platinum.sensitivity != "sensitive":
        return None
    # 003_…: ORR 49% on re-treatment at >= 180 days, second-line studies: recommended at
    # line 2 only; later, 90–179 days, or ECOG 3–4 (001_…): consider.
    if platinum.rechallenge_window and inputs.next_line == 2 and not inputs.poor_performance:
        return "recommended"
    return "consider"


def _reason(option_id: str, status: OptionStatus, inputs: OptionInputs) -> OptionReason | None:
    """Why a shown option is shown; None for those shown at every decision point."""
    if option_id != "platinum-rechallenge":
        return _SHOWN_BECAUSE.get(option_id)
    # Shown for a sensitive relapse only (§7), so with an interval.
    if not (inputs.platinum and inputs.platinum.rechallenge_window):
        return "sensitive-below-window"
    if status == "recommended":
        return "rechallenge-window"
    # §9: recommended at line 2 only (003_…: second-line studies); there, ECOG 3-4 (001_…).
    if (inputs.next_line or 0) > 2:
        return "rechallenge-window-later-line"
    return "rechallenge-window-poor-performance"


def _blocking(option_id: str, inputs: OptionInputs) -> frozenset[str]:
    """Agents whose (possible) receipt hides the option."""
    agents = OPTION_AGENTS.get(option_id, frozenset())
    if option_id == "nab-paclitaxel-anlotinib":
        return agents | inputs.antiangiogenic
    if option_id == "taxane":
        return agents | inputs.taxanes
    return agents


def select_options(inputs: OptionInputs) -> tuple[tuple[OptionResult, ...], tuple[Withheld, ...]]:
    """The options shown at a decision point with next_line >= 2, ranked
    (`recommended` first, then table order), and those withheld for unreadable records."""
    next_line = inputs.next_line
    if next_line is None or next_line < 2:
        return (), ()
    after_platinum = inputs.platinum is not None
    received = inputs.received
    shown: dict[str, OptionStatus | None] = {
        "platinum-rechallenge": _rechallenge_status(inputs),
        "topotecan": "consider" if after_platinum else None,
        "lurbinectedin": "consider" if after_platinum else None,
        "tarlatamab": "consider" if after_platinum and not inputs.limited_at_relapse else None,
        "amrubicin": "consider",
        "nab-paclitaxel-anlotinib": (
            "consider"
            if next_line == 2
            and inputs.lines
            and chemo_immunotherapy(inputs.lines[0])
            and not received & inputs.antiangiogenic
            else None
        ),
        "anlotinib": "consider" if after_platinum else None,
        "taxane": "consider" if after_platinum and not received & inputs.taxanes else None,
        "palliative-radiotherapy": "consider",
        "clinical-trial": "consider",
    }
    results: list[OptionResult] = []
    withheld: list[Withheld] = []
    for option_id in OPTION_IDS:
        status = shown[option_id]
        if status is None:
            continue
        agents = OPTION_AGENTS.get(option_id, frozenset())
        if option_id != "platinum-rechallenge" and agents & received:
            continue
        blocking = _blocking(option_id, inputs)
        sources = [s for agent in sorted(blocking) for s in inputs.possibly.get(agent, ())]
        if agents:
            sources.extend(inputs.unidentified)
        if sources:
            withheld.append(Withheld(option_id, tuple(dict.fromkeys(sources))))
            continue
        results.append(OptionResult(option_id, status, _reason(option_id, status, inputs)))
    ranked = sorted(results, key=lambda o: o.status != "recommended")
    return tuple(ranked), tuple(withheld)


def other_cancer_notes(
    options: Sequence[OptionResult],
    other_cancer: Sequence[ForAnotherCancer],
    inputs: OptionInputs,
) -> tuple[tuple[str, tuple[Note, ...]], ...]:
    """§4 (v3): a shown option containing a drug given for another cancer names the
    record ("docetaxel for Condition/pca, 2019"), once per agent and record."""
    found: list[tuple[str, tuple[Note, ...]]] = []
    for option in options:
        blocking = _blocking(option.id, inputs)
        notes = tuple(
            dict.fromkeys(
                Note.of(
                    "other_cancer_drug", agent=e.agent, condition=e.condition, year=e.start.year
                )
                if e.condition
                else Note.of("pre_diagnosis_drug", agent=e.agent, year=e.start.year)
                for e in other_cancer
                if e.agent in blocking
            )
        )
        if notes:
            found.append((option.id, notes))
    return tuple(found)
