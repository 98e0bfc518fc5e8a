"""Lines of therapy from SCLC exposures (CLINICAL_RULES §5; readings in docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

from service.engine.catalogue import PD1_CLASSES
from service.engine.model import Exposure, Line
from service.engine.rules import Thresholds

__all__ = ["SUBSTITUTIONS", "build_lines"]

# §5.2: agents that replace one another inside a line.
SUBSTITUTIONS = {
    "carboplatin": "cisplatin",
    "cisplatin": "carboplatin",
    "paclitaxel": "nab-paclitaxel",
    "nab-paclitaxel": "paclitaxel",
}
# §5.4: the chemotherapy backbone after which a PD-(L)1 inhibitor is maintenance.
ETOPOSIDE = "etoposide"
PLATINUM = "platinum"
# §5.4 (IMforte, NCCN 2025): lurbinectedin added to atezolizumab maintenance.
LURBINECTEDIN = "lurbinectedin"
ATEZOLIZUMAB = "atezolizumab"


def _group(agent: str) -> frozenset[str]:
    partner = SUBSTITUTIONS.get(agent)
    return frozenset({agent, partner}) if partner else frozenset({agent})


@dataclass(slots=True)
class _OpenLine:
    """A line while it is being built."""

    start: date
    exposures: list[Exposure] = field(default_factory=list)
    regimen: set[str] = field(default_factory=set)
    maintenance: set[str] = field(default_factory=set)

    def add(self, exposure: Exposure, *, maintenance: bool = False) -> None:
        self.exposures.append(exposure)
        (self.maintenance if maintenance else self.regimen).add(exposure.agent)

    def agents(self) -> set[str]:
        return self.regimen | self.maintenance

    def last_day(self, agents: frozenset[str]) -> date | None:
        days = [e.end for e in self.exposures if e.agent in agents]
        return max(days) if days else None

    def has_platinum_etoposide(self) -> bool:
        classes = {e.drug_class for e in self.exposures}
        return PLATINUM in classes and ETOPOSIDE in self.agents()

    def last_chemotherapy_day(self) -> date | None:
        days = [e.end for e in self.exposures if e.drug_class == PLATINUM or e.agent == ETOPOSIDE]
        return max(days) if days else None

    def continued_alone(self) -> set[str]:
        """PD-(L)1 inhibitors of the regimen given after the last platinum/etoposide day."""
        chemo_end = self.last_chemotherapy_day()
        if chemo_end is None:
            return set()
        return {
            e.agent
            for e in self.exposures
            if e.drug_class in PD1_CLASSES and e.agent in self.regimen and e.end > chemo_end
        }

    def maintenance_agents(self) -> set[str]:
        return self.maintenance | self.continued_alone()


def _is_maintenance(line: _OpenLine, exposure: Exposure, thresholds: Thresholds) -> bool:
    if exposure.drug_class in PD1_CLASSES:
        return line.has_platinum_etoposide()
    if exposure.agent == LURBINECTEDIN and ATEZOLIZUMAB in line.maintenance_agents():
        atezolizumab_end = line.last_day(frozenset({ATEZOLIZUMAB}))
        limit = exposure.start - timedelta(days=thresholds.continuation_days)
        return atezolizumab_end is not None and atezolizumab_end >= limit
    return False


def _starts_new_line(
    line: _OpenLine,
    exposure: Exposure,
    progressions: Sequence[date],
    thresholds: Thresholds,
) -> bool:
    """Rules (b) and (c) of §5.3: progression and re-challenge."""
    last = line.last_day(_group(exposure.agent))
    if any(line.start < p < exposure.start for p in progressions):
        beyond_progression = last is not None and (
            last >= exposure.start - timedelta(days=thresholds.continuation_days)
        )
        if not beyond_progression:
            return True
    return last is not None and (exposure.start - last).days >= thresholds.rechallenge_gap_days


def _joins(line: _OpenLine, exposure: Exposure, thresholds: Thresholds) -> str | None:
    """How the exposure joins the line ('regimen', 'maintenance'), or None for rule (a)."""
    if (exposure.start - line.start).days <= thresholds.regimen_window_days:
        return "regimen"
    if _group(exposure.agent) & line.agents():
        return "maintenance" if exposure.agent in line.maintenance else "regimen"
    if _is_maintenance(line, exposure, thresholds):
        return "maintenance"
    return None


def _close(
    number: int, line: _OpenLine, *, today: date, last: bool, thresholds: Thresholds
) -> Line:
    end = max(e.end for e in line.exposures)
    open_ended = any(e.open_ended for e in line.exposures)
    recent = (today - end).days <= thresholds.continuation_days
    return Line(
        number=number,
        agents=tuple(sorted(line.agents())),
        maintenance_agents=tuple(sorted(line.maintenance_agents())),
        start=line.start,
        end=end,
        # A line followed by another has ended, whatever its records say.
        ongoing=last and (open_ended or recent),
        sources=tuple(sorted({e.source for e in line.exposures})),
        exposures=tuple(line.exposures),
    )


def build_lines(
    exposures: Iterable[Exposure],
    *,
    progressions: Sequence[date],
    today: date,
    thresholds: Thresholds,
) -> tuple[Line, ...]:
    """Group SCLC exposures into numbered lines; `progressions` are dated events only."""
    ordered = sorted(exposures, key=lambda e: (e.start, e.agent, e.end, e.source))
    open_lines: list[_OpenLine] = []
    for exposure in ordered:
        line = open_lines[-1] if open_lines else None
        how = None
        if line is not None and not _starts_new_line(line, exposure, progressions, thresholds):
            how = _joins(line, exposure, thresholds)
        if line is None or how is None:
            line = _OpenLine(start=exposure.start)
            open_lines.append(line)
            how = "regimen"
        line.add(exposure, maintenance=how == "maintenance")
    count = len(open_lines)
    return tuple(
        _close(i, line, today=today, last=i == count, thresholds=thresholds)
        for i, line in enumerate(open_lines, start=1)
    )
