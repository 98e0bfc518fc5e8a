"""FHIR dates as the engine's calendar days (CLINICAL_RULES §1).

A date or dateTime is its calendar day as written (no time-zone shift). A partial date
(`YYYY`, `YYYY-MM`) is read, never dropped: a start or a single day is its first day, an
end its last; `Dates` notes each partial date read so that the record's warning can name
it. `span_of` reads a Period, `spans_of` several (a MedicationRequest's dosage
instructions, `bounds_periods`); `model_day` turns a JSON date string into the value the
fhir.resources models hold, for the readers that work on a resource's JSON.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

__all__ = [
    "BOUNDS_PERIOD",
    "Dates",
    "FhirDate",
    "Span",
    "bounds_periods",
    "day_of",
    "model_day",
    "partial_day",
    "span_of",
    "spans_of",
]

# A FHIR date or dateTime as the models hold it. fhir.resources annotates these fields as
# `date` / `datetime`, but keeps a partial date (`2019`, `2019-03`) as its string and a
# dateTime without a time as a `date`.
FhirDate = date | str
_PARTIAL = re.compile(r"^(\d{4})(?:-(\d{2}))?$")


def day_of(value: FhirDate | None) -> date | None:
    """A calendar day from a full FHIR date/dateTime; partial dates give None."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return None


def partial_day(value: FhirDate | None, *, last: bool) -> date | None:
    """§1: `YYYY` or `YYYY-MM` as its first day, or its last day when `last`."""
    hit = _PARTIAL.match(value) if isinstance(value, str) else None
    if hit is None:
        return None
    year = int(hit.group(1))
    if hit.group(2) is None:
        return date(year, 12, 31) if last else date(year, 1, 1)
    month = int(hit.group(2))
    if not 1 <= month <= 12:
        return None
    return date(year, month, calendar.monthrange(year, month)[1] if last else 1)


class Dates:
    """Reads the dates of one resource, noting the partial ones for its warning."""

    def __init__(self) -> None:
        self.partial: list[str] = []

    def read(self, name: str, value: FhirDate | None, *, last: bool = False) -> date | None:
        day = day_of(value)
        if day is None and value is not None:
            day = partial_day(value, last=last)
            if day is not None:
                self.partial.append(f"{name} '{value}'")
        return day

    def warning(self, ref: str) -> str | None:
        if not self.partial:
            return None
        return f"{ref}: partial date {', '.join(self.partial)} (estimated)"


def model_day(value: str | None) -> FhirDate | None:
    """A JSON date string as the models read it: full dates become `date`s."""
    if isinstance(value, str) and len(value) >= 10:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value


@dataclass(frozen=True, slots=True)
class Span:
    """The days of a record: `problem` says why there are none; `end_partial` marks an
    end read from a partial date (its last day, which the engine caps at today)."""

    start: date | None
    end: date | None
    problem: str | None
    end_partial: bool = False
    open_ended: bool = False


def span_of(dates: Dates, name: str, period: dict[str, Any]) -> Span:
    """A Period's days: start, end (else the start day), partial ones read by §1."""
    raw_start, raw_end = period.get("start"), period.get("end")
    start = dates.read(f"{name}.start", model_day(raw_start))
    if start is None:
        problem = f"{name}.start is not a date" if raw_start is not None else f"{name} has no start"
        return Span(None, None, problem=problem)
    if raw_end is None:
        return Span(start, start, problem=None)
    before = len(dates.partial)
    end = dates.read(f"{name}.end", model_day(raw_end), last=True)
    if end is None:
        return Span(None, None, problem=f"{name}.end is not a date")
    return Span(start, end, problem=None, end_partial=len(dates.partial) > before)


def spans_of(dates: Dates, name: str, periods: Sequence[Mapping[str, Any]]) -> Span:
    """Several Periods read as one (§1 v3, a MedicationRequest's dosage instructions):
    the earliest start and the latest end; a Period without an end adds none, and with
    no end at all the span is its start day."""
    starts: list[date] = []
    ends: list[tuple[date, bool]] = []
    for period in periods:
        span = span_of(dates, name, dict(period))
        if span.start is None or span.end is None:
            return span
        starts.append(span.start)
        if period.get("end") is not None:
            ends.append((span.end, span.end_partial))
    if not starts:
        return Span(None, None, problem=f"{name} has no start")
    start = min(starts)
    if not ends:
        return Span(start, start, problem=None)
    end = max(day for day, _ in ends)
    return Span(start, end, problem=None, end_partial=any(p for d, p in ends if d == end))


# Where order sets put a MedicationRequest's dates (§1 v3), after validityPeriod.
BOUNDS_PERIOD = "dosageInstruction.timing.repeat.boundsPeriod"


def bounds_periods(resource: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The `boundsPeriod`s with a start of a MedicationRequest's dosage instructions, in
    order (§1 v3); None when an instruction is not plainly shaped JSON."""
    instructions = resource.get("dosageInstruction")
    if instructions is None:
        return []
    if not isinstance(instructions, list):
        return None
    found: list[Mapping[str, Any]] = []
    for instruction in instructions:
        if not isinstance(instruction, dict):
            return None
        value: Any = instruction
        for name in ("timing", "repeat", "boundsPeriod"):
            value = value.get(name)
            if value is None:
                break
            if not isinstance(value, dict):
                return None
        else:
            if value.get("start") is not None:
                found.append(value)
    return found
