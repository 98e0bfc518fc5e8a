"""Procedures of systemic therapy and radiotherapy (CLINICAL_RULES §1 v3, §11).

A Procedure names no agent, so it is never a line. Radiotherapy (PCI, stereotactic
radiosurgery, thoracic radiotherapy) is listed on the summary and the timeline with its
dates. Systemic anticancer therapy recorded *only* as a procedure, that is on no day a
line of drug records covers (give or take the 28-day regimen window), is named under
Check the record: a line may be missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from service.engine.exposures import reason_other_cancer
from service.engine.model import Line, ProcedureEvent
from service.engine.record import ConditionFact, ProcedureFact
from service.engine.rules import Thresholds

__all__ = ["ProcedureFindings", "read_procedures"]

# How many records one warning lists by name before it counts the rest.
NAMED_RECORDS = 5


@dataclass(frozen=True, slots=True)
class ProcedureFindings:
    """`radiotherapy` and `systemic` are for SCLC (not for another cancer), by date;
    `uncovered` the systemic ones no line covers."""

    radiotherapy: tuple[ProcedureEvent, ...]
    systemic: tuple[ProcedureEvent, ...]
    uncovered: tuple[ProcedureEvent, ...]
    warnings: tuple[str, ...]


def _name(procedure: ProcedureFact) -> str:
    displays = [c.display for c in procedure.codes if c.display]
    return procedure.text or (displays[0] if displays else procedure.kind)


def _event(procedure: ProcedureFact) -> ProcedureEvent:
    return ProcedureEvent(
        source=procedure.ref,
        kind=procedure.kind,
        name=_name(procedure),
        start=procedure.start,
        end=procedure.end or procedure.start,
        estimated=procedure.estimated,
    )


def _covered(event: ProcedureEvent, lines: Sequence[Line], slack: timedelta) -> bool:
    """On a day of a line of drug records, give or take `slack` (the regimen window)."""
    if event.start is None:
        return False
    end = event.end or event.start
    return any(event.start <= line.end + slack and end >= line.start - slack for line in lines)


def _order(event: ProcedureEvent) -> tuple[date, str]:
    return (event.start or date.min, event.source)


def _uncovered_warning(events: Sequence[ProcedureEvent]) -> str:
    refs = [e.source for e in events]
    named = ", ".join(refs[:NAMED_RECORDS])
    if len(refs) > NAMED_RECORDS:
        named += f" and {len(refs) - NAMED_RECORDS} more"
    days = sorted(e.start for e in events if e.start is not None)
    if not days:
        when = "undated"
    elif days[0] == days[-1]:
        when = days[0].isoformat()
    else:
        when = f"{days[0].isoformat()} to {days[-1].isoformat()}"
    return (
        f"{named}: systemic anticancer therapy recorded only as a procedure ({when}); it "
        "names no drug, so it is not counted as a line and the line count may be too low"
    )


def read_procedures(
    procedures: Iterable[ProcedureFact],
    *,
    lines: Sequence[Line],
    conditions: Mapping[str, ConditionFact],
    thresholds: Thresholds,
) -> ProcedureFindings:
    """The SCLC procedures of a record and the warning for systemic therapy no line covers
    (§1, §11). A procedure whose reason names another cancer is left out (§4)."""
    mine = sorted(
        (_event(p) for p in procedures if reason_other_cancer(p, conditions) is None),
        key=_order,
    )
    radiotherapy = tuple(e for e in mine if e.kind != "systemic")
    systemic = tuple(e for e in mine if e.kind != "radiotherapy")
    slack = timedelta(days=thresholds.regimen_window_days)
    uncovered = tuple(e for e in systemic if not _covered(e, lines, slack))
    warnings = (_uncovered_warning(uncovered),) if uncovered else ()
    return ProcedureFindings(radiotherapy, systemic, uncovered, warnings)
