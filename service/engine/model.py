"""What the engine returns: frozen values that serialise to the evaluation JSON.

The JSON shape is the public contract of `../shared/CONTRACT.md`; `Evaluation.to_json`
is the only place it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from service.engine.rules import Thresholds

__all__ = [
    "Criterion",
    "Diagnosis",
    "Evaluation",
    "Exposure",
    "ForAnotherCancer",
    "Line",
    "Note",
    "OptionReason",
    "OptionResult",
    "OrderVerdict",
    "PatientSummary",
    "Platinum",
    "PossiblyReceived",
    "ProcedureEvent",
    "Progression",
    "Reading",
    "RecordIssue",
    "TrialResult",
    "Withheld",
]

Stage = Literal["extensive", "limited", "unknown"]
Sensitivity = Literal["refractory", "resistant", "sensitive", "unknown"]
OptionStatus = Literal["recommended", "consider"]
# Why a shown option is shown (§7, §9): what its entry on the options card says.
OptionReason = Literal[
    "rechallenge-window",  # interval >= 180 days at line 2: recommended
    "rechallenge-window-later-line",  # in the window from line 3: second-line studies only
    "rechallenge-window-poor-performance",  # in the window at line 2, but ECOG 3-4
    "sensitive-below-window",  # sensitive by the 90-day cut, resistant by ANNAB's 180 days
    "after-platinum",  # a relapse after a platinum line
    "after-chemo-immunotherapy",  # line 2 after platinum chemo-immunotherapy
]
# What a drafted order of an agent is for this patient (order-select / order-sign).
OrderStatus = Literal["recommended", "consider", "not-indicated"]
OrderReason = Literal[
    "option", "early-platinum-relapse", "already-given", "no-relapse", "not-an-option"
]
CriterionResult = Literal["met", "not-met", "unknown"]
Verdict = Literal["eligible", "possibly-eligible", "ineligible"]
# §11 "Check the record": what kind of problem an item is (see `RecordIssue`).
RecordIssueKind = Literal[
    "warning",
    "option-withheld",
    "estimated-progression",
    "undated-relapse",
    "possibly-received",
]
# A FHIR record as a warning names it ("MedicationStatement/ms7"), of the types read (§1).
_RECORD_REF = re.compile(
    r"\b(?:Patient|Condition|Observation|Procedure"
    r"|Medication(?:Statement|Request|Administration)?)/[A-Za-z0-9\-.]*[A-Za-z0-9\-]"
)


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
    estimated: bool = False  # a date read from a partial date (§1)


@dataclass(frozen=True, slots=True)
class ForAnotherCancer:
    """§4: an anticancer exposure not attributed to SCLC: `condition` is the other cancer
    its reason names (a Condition ref, or a reason code's words), or the one dated before
    it (the 30-day rule); None when the record says neither (a non-SCLC drug given long
    before the diagnosis). It never hides an option; an option containing `agent` names
    it (v3)."""

    agent: str
    source: str
    condition: str | None
    start: date


@dataclass(frozen=True, slots=True)
class ProcedureEvent:
    """§1 (v3): a Procedure of radiotherapy or of systemic therapy (`kind` as the record's
    ProcedureKind), with the name the record gives it and its days (None when undated)."""

    source: str
    kind: str
    name: str
    start: date | None
    end: date | None
    estimated: bool = False


@dataclass(frozen=True, slots=True)
class PossiblyReceived:
    """§1: a record that may show a drug was given, but that the engine cannot place:
    undated (`agents` known) or unidentified (`agents` empty: it may be any drug)."""

    source: str
    agents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Withheld:
    """An option not shown because of records the engine could not read (§1, §9)."""

    option: str
    sources: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RecordIssue:
    """One item of §11 "Check the record": what is wrong and the FHIR records it names.

    `kind` says what: "warning", a warning of the evaluation (its text in `warning`);
    "option-withheld", `option` is not shown while `records` cannot be read (§1, §9);
    "estimated-progression", no dated progression is recorded, so `day`, the start of
    the next line, stands in (§6.3); "undated-relapse", a relapse without a usable date
    (§6.2); "possibly-received", records not placed in a line, so `next_line` may be too
    low (§1).
    """

    kind: RecordIssueKind
    records: tuple[str, ...]
    warning: str | None = None
    option: str | None = None
    day: date | None = None
    next_line: int | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """A remark the engine decides, for the cards to word: the name of its template in
    `cards/wording.toml` (`[notes]`) and the values that fill it (§9 study-population
    notes, §10 criterion details). A value may be a `Reading` or another `Note`."""

    kind: str
    values: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, kind: str, **values: Any) -> Note:
        return cls(kind, tuple(values.items()))


@dataclass(frozen=True, slots=True)
class Reading:
    """An ECOG, laboratory or blood-pressure value with its date (§9, §10).

    `value` is in the measure's own unit (`unit`), or None when the record's unit
    (`recorded_unit`) is not understood; `fresh` when it counts (§10: within
    `observation_max_age_days` of the evaluation date).
    """

    name: str
    value: float | None
    unit: str
    day: date
    source: str
    fresh: bool
    recorded_unit: str | None = None


@dataclass(frozen=True, slots=True)
class PatientSummary:
    id: str | None
    age: int | None
    deceased: bool
    age_estimated: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "age": self.age, "deceased": self.deceased}


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """`stage_condition` is the record that gave the stage (§2: the latest staging of
    the SCLC, a Condition or, v3, a TNM stage Observation about it), `stage_date` its
    date; `staged_at_relapse` when it is dated on or after the latest progression;
    `clinical_status` is the status of the latest SCLC Condition."""

    sclc: bool
    stage: Stage | None = None
    condition: str | None = None
    diagnosed: date | None = None
    stage_condition: str | None = field(default=None, compare=False)
    stage_date: date | None = field(default=None, compare=False)
    staged_at_relapse: bool = field(default=False, compare=False)
    clinical_status: str | None = field(default=None, compare=False)

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
    """A progression event; `date` is None for a known but undated relapse. `estimated`
    for a proxy (§6.3, `proxy`) or a date read from a partial date (§1)."""

    date: date | None
    source: str
    estimated: bool = False
    proxy: bool = field(default=False, compare=False)

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
    # §7: sensitive by the classic cut but resistant by the ANNAB study's longer one, so a
    # card naming the class says both.
    annab_resistant: bool = field(default=False, compare=False)

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
    """A shown option (§9); `reason` says why it is shown, None when it is shown at every
    decision point (amrubicin, palliative radiotherapy, a clinical trial)."""

    id: str
    status: OptionStatus
    reason: OptionReason | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status}


@dataclass(frozen=True, slots=True)
class OrderVerdict:
    """What a drafted order of one agent means for this patient (order-select / -sign).

    When the agent belongs to one of the patient's options (`option`), `status` is that
    option's status and `reason` is "option"; otherwise `status` is "not-indicated" and
    `reason` says why: "early-platinum-relapse" (platinum after a refractory or resistant
    relapse, §7), "already-given" (in line `line`: re-treatment is only ever the platinum
    re-challenge, §9), "no-relapse" (not at a decision point, §8) or "not-an-option" (not
    among the options of the next line, §9).
    """

    agent: str
    status: OrderStatus
    reason: OrderReason
    option: str | None = None
    line: int | None = None


@dataclass(frozen=True, slots=True)
class Criterion:
    criterion: str
    result: CriterionResult
    detail: Note | None = field(default=None, compare=False)  # what the card says of it

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
    # Not in the evaluation JSON; what the cards show beside it (§9, §11).
    thresholds: Thresholds | None = field(default=None, compare=False, repr=False)
    possibly_received: tuple[PossiblyReceived, ...] = field(default=(), compare=False)
    withheld: tuple[Withheld, ...] = field(default=(), compare=False)
    readings: tuple[Reading, ...] = field(default=(), compare=False)
    poor_performance: Reading | None = field(default=None, compare=False)
    population_notes: tuple[tuple[str, tuple[Note, ...]], ...] = field(default=(), compare=False)
    other_cancer_notes: tuple[tuple[str, tuple[Note, ...]], ...] = field(default=(), compare=False)
    # §9 (v3): line 1 was platinum chemo-immunotherapy (`options.chemo_immunotherapy`), so
    # the evidence of studies before first-line checkpoint inhibitors is said to be such.
    first_line_chemo_immunotherapy: bool = field(default=False, compare=False)

    # §1, §11 (v3): radiotherapy procedures, and systemic therapy recorded as procedures.
    radiotherapy: tuple[ProcedureEvent, ...] = field(default=(), compare=False)
    systemic_procedures: tuple[ProcedureEvent, ...] = field(default=(), compare=False)

    def notes_for(self, option_id: str) -> tuple[Note, ...]:
        """The study-population notes of one option (§9)."""
        return next((notes for key, notes in self.population_notes if key == option_id), ())

    def other_cancer_for(self, option_id: str) -> tuple[Note, ...]:
        """§4 (v3): the drugs of one option given for another cancer, which do not hide it."""
        return next((notes for key, notes in self.other_cancer_notes if key == option_id), ())

    @property
    def decision_point(self) -> bool:
        return self.next_line is not None

    @property
    def record_issues(self) -> tuple[RecordIssue, ...]:
        """§11 "Check the record", in the summary card's order: every warning, the options
        withheld for unreadable records, an estimated or undated progression, and the
        records not placed in a line at a decision point; each names its records."""
        issues = [
            RecordIssue(kind="warning", records=_records_named(text), warning=text)
            for text in self.warnings
        ]
        issues += [
            RecordIssue(kind="option-withheld", records=w.sources, option=w.option)
            for w in self.withheld
        ]
        p = self.progression
        if p is not None and p.proxy and p.date is not None:
            issues.append(
                RecordIssue(kind="estimated-progression", records=(p.source,), day=p.date)
            )
        if self.relapse_undated and p is not None:
            issues.append(RecordIssue(kind="undated-relapse", records=(p.source,)))
        if self.possibly_received and self.next_line is not None:
            # §1: a record not placed in a line may be a line of its own.
            issues.append(
                RecordIssue(
                    kind="possibly-received",
                    records=tuple(r.source for r in self.possibly_received),
                    next_line=self.next_line,
                )
            )
        return tuple(issues)

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


def _records_named(text: str) -> tuple[str, ...]:
    """The FHIR records a warning names, in order, each once."""
    return tuple(dict.fromkeys(_RECORD_REF.findall(text)))
