"""What the engine returns: frozen values that serialise to the evaluation JSON.

The JSON shape is the public contract of `../shared/CONTRACT.md`; `Evaluation.to_json`
is the only place it is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

__all__ = [
    "Criterion",
    "Diagnosis",
    "Evaluation",
    "Exposure",
    "Line",
    "OptionResult",
    "PatientSummary",
    "Platinum",
    "Progression",
    "TrialResult",
]

Stage = Literal["extensive", "limited", "unknown"]
Sensitivity = Literal["refractory", "resistant", "sensitive", "unknown"]
OptionStatus = Literal["recommended", "consider"]
CriterionResult = Literal["met", "not-met", "unknown"]
Verdict = Literal["eligible", "possibly-eligible", "ineligible"]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


@dataclass(frozen=True, slots=True)
class Exposure:
    """One agent given over [start, end], from one medication record."""

    agent: str
    drug_class: str
    start: date
    end: date
    source: str
    open_ended: bool = False


@dataclass(frozen=True, slots=True)
class PatientSummary:
    id: str | None
    age: int | None
    deceased: bool

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "age": self.age, "deceased": self.deceased}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    sclc: bool
    stage: Stage | None = None
    condition: str | None = None
    diagnosed: date | None = None

    def to_json(self) -> dict[str, Any]:
        if not self.sclc:
            return {"sclc": False}
        return {
            "sclc": True,
            "stage": self.stage,
            "condition": self.condition,
            "diagnosed": _iso(self.diagnosed),
        }


@dataclass(frozen=True, slots=True)
class Line:
    number: int
    agents: tuple[str, ...]
    maintenance_agents: tuple[str, ...]
    start: date
    end: date
    ongoing: bool
    sources: tuple[str, ...]
    exposures: tuple[Exposure, ...] = field(default=(), compare=False, repr=False)

    def has_class(self, drug_class: str) -> bool:
        return any(e.drug_class == drug_class for e in self.exposures)

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "agents": list(self.agents),
            "maintenance_agents": list(self.maintenance_agents),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "ongoing": self.ongoing,
            "sources": list(self.sources),
        }


@dataclass(frozen=True, slots=True)
class Progression:
    """A progression event; `date` is None for a known but undated relapse."""

    date: date | None
    source: str
    estimated: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"date": _iso(self.date), "source": self.source, "estimated": self.estimated}


@dataclass(frozen=True, slots=True)
class Platinum:
    last_dose: date
    interval_days: int | None
    sensitivity: Sensitivity | None
    rechallenge_window: bool | None
    estimated: bool
    days_since_last_platinum: int
    line_number: int = field(default=0, compare=False)
    progression_date: date | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "last_dose": _iso(self.last_dose),
            "interval_days": self.interval_days,
            "sensitivity": self.sensitivity,
            "rechallenge_window": self.rechallenge_window,
            "estimated": self.estimated,
            "days_since_last_platinum": self.days_since_last_platinum,
        }


@dataclass(frozen=True, slots=True)
class OptionResult:
    id: str
    status: OptionStatus

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status}


@dataclass(frozen=True, slots=True)
class Criterion:
    criterion: str
    result: CriterionResult
    detail: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "result": self.result}


@dataclass(frozen=True, slots=True)
class TrialResult:
    id: str
    verdict: Verdict
    criteria: tuple[Criterion, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "verdict": self.verdict,
            "criteria": [c.to_json() for c in self.criteria],
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The whole result for one patient at one evaluation date."""

    today: date
    patient: PatientSummary
    diagnosis: Diagnosis
    lines: tuple[Line, ...] = ()
    progression: Progression | None = None
    platinum: Platinum | None = None
    next_line: int | None = None
    options: tuple[OptionResult, ...] = ()
    trials: tuple[TrialResult, ...] = ()
    warnings: tuple[str, ...] = ()
    relapse_undated: bool = False

    @property
    def decision_point(self) -> bool:
        return self.next_line is not None

    def to_json(self, cards: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "patient": self.patient.to_json(),
            "diagnosis": self.diagnosis.to_json(),
            "lines": [line.to_json() for line in self.lines],
            "progression": self.progression.to_json() if self.progression else None,
            "platinum": self.platinum.to_json() if self.platinum else None,
            "next_line": self.next_line,
            "options": [o.to_json() for o in self.options],
            "trials": [t.to_json() for t in self.trials],
            "cards": list(cards or []),
            "warnings": list(self.warnings),
        }
