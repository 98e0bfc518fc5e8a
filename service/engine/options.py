"""Second-line and later options (CLINICAL_RULES §9). Ids are part of the contract."""

from __future__ import annotations

from collections.abc import Sequence

from service.engine.catalogue import PD1_CLASSES
from service.engine.model import Line, OptionResult, OptionStatus, Platinum, Stage

__all__ = ["OPTION_AGENTS", "OPTION_IDS", "select_options"]

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
# ("re-treatment is only ever platinum-rechallenge").
OPTION_AGENTS: dict[str, frozenset[str]] = {
    "platinum-rechallenge": frozenset({"carboplatin", "cisplatin", "etoposide"}),
    "topotecan": frozenset({"topotecan"}),
    "lurbinectedin": frozenset({"lurbinectedin"}),
    "tarlatamab": frozenset({"tarlatamab"}),
    "amrubicin": frozenset({"amrubicin"}),
    "nab-paclitaxel-anlotinib": frozenset({"nab-paclitaxel", "anlotinib"}),
    "anlotinib": frozenset({"anlotinib"}),
}


def _chemo_immunotherapy(line: Line) -> bool:
    classes = {e.drug_class for e in line.exposures}
    return "platinum" in classes and bool(classes & PD1_CLASSES)


def _rechallenge_status(platinum: Platinum | None) -> OptionStatus | None:
    if platinum is None or platinum.sensitivity != "sensitive":
        return None
    # 003_…: ORR 49% on re-treatment at >= 180 days; 90–179 days: consider.
    return "recommended" if platinum.rechallenge_window else "consider"


def select_options(
    *,
    next_line: int | None,
    lines: Sequence[Line],
    platinum: Platinum | None,
    stage: Stage | None,
    received: frozenset[str],
    antiangiogenic_received: bool,
) -> tuple[OptionResult, ...]:
    """The options shown at a decision point with next_line >= 2, in table order."""
    if next_line is None or next_line < 2:
        return ()
    after_platinum = platinum is not None
    shown: dict[str, OptionStatus | None] = {
        "platinum-rechallenge": _rechallenge_status(platinum),
        "topotecan": "consider" if after_platinum else None,
        "lurbinectedin": "consider" if after_platinum else None,
        "tarlatamab": "consider" if after_platinum and stage != "limited" else None,
        "amrubicin": "consider",
        "nab-paclitaxel-anlotinib": (
            "consider"
            if next_line == 2 and _chemo_immunotherapy(lines[0]) and not antiangiogenic_received
            else None
        ),
        "anlotinib": "consider" if next_line >= 3 else None,
        "palliative-radiotherapy": "consider",
        "clinical-trial": "consider",
    }
    results = []
    for option_id in OPTION_IDS:
        status = shown[option_id]
        if status is None:
            continue
        if (
            option_id != "platinum-rechallenge"
            and OPTION_AGENTS.get(option_id, frozenset()) & received
        ):
            continue
        results.append(OptionResult(option_id, status))
    return tuple(results)
