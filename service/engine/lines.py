"""Lines of therapy from SCLC exposures (CLINICAL_RULES §5; readings in docs/decisions.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from service.engine.catalogue import PD1_CLASSES
from service.engine.model import Exposure, Line
from service.engine.rules import Thresholds

__all__ = ["SUBSTITUTIONS", "build_lines", "line_warnings", "settle_overlaps"]

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
    """§5.4: a PD-(L)1 inhibitor after platinum-etoposide, or lurbinectedin added to
    atezolizumab maintenance; (v3) either starting within 42 days of the line's last
    platinum-etoposide day, else it is a new line."""
    chemo_end = line.last_chemotherapy_day()
    if chemo_end is None or not line.has_platinum_etoposide():
        return False
    if (exposure.start - chemo_end).days > thresholds.maintenance_start_days:
        return False
    if exposure.drug_class in PD1_CLASSES:
        return True
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
    if last is None or (exposure.start - last).days < thresholds.rechallenge_gap_days:
        return False
    # §5.5 (v3): a maintenance agent resumed with no progression in between is a hold
    # (the progression case returned above); any other agent is a re-challenge (§5.3c).
    return exposure.agent not in line.maintenance_agents()


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


def _holds(line: Line, thresholds: Thresholds) -> list[str]:
    """§5.5 (v3): each gap of >= 90 days in a maintenance agent of the line, named."""
    found = []
    for agent in line.maintenance_agents:
        given = sorted((e for e in line.exposures if e.agent == agent), key=lambda e: e.start)
        if not given:
            continue
        latest = given[0]  # the exposure that ends last so far
        for exposure in given[1:]:
            gap = (exposure.start - latest.end).days
            if gap >= thresholds.rechallenge_gap_days:
                found.append(
                    f"{exposure.source}: {agent} resumed on {exposure.start.isoformat()} after "
                    f"{gap} days without it (last given {latest.end.isoformat()}, "
                    f"{latest.source}) and no progression recorded in between; read as a hold "
                    f"within line {line.number}"
                )
            if exposure.end > latest.end:
                latest = exposure
    return found


def settle_overlaps(lines: Sequence[Line]) -> tuple[tuple[Line, ...], tuple[str, ...]]:
    """§5.6 (v3): a line's platinum record that ends after the next line starts gives a
    last platinum dose of the day before that start (estimated), named for checking."""
    settled: list[Line] = []
    warnings: list[str] = []
    for line, following in zip(lines, [*lines[1:], None][: len(lines)], strict=True):
        if following is None:
            settled.append(line)
            continue
        cut = following.start - timedelta(days=1)
        exposures = []
        for e in line.exposures:
            if e.drug_class == PLATINUM and e.end > cut:
                opener = following.exposures[0].source
                warnings.append(
                    f"{e.source}: {e.agent} of line {line.number} runs to {e.end.isoformat()}, "
                    f"after line {following.number} starts on {following.start.isoformat()} "
                    f"({opener}); its last platinum dose is taken as {cut.isoformat()} "
                    "(estimated)"
                )
                e = replace(e, end=max(e.start, cut), estimated=True)
            exposures.append(e)
        if exposures == list(line.exposures):
            settled.append(line)
        else:
            settled.append(
                replace(line, exposures=tuple(exposures), end=max(e.end for e in exposures))
            )
    return tuple(settled), tuple(warnings)


def line_warnings(lines: Sequence[Line], thresholds: Thresholds) -> tuple[str, ...]:
    """What the line rules read but a clinician should check: holds (§5.5)."""
    return tuple(w for line in lines for w in _holds(line, thresholds))
