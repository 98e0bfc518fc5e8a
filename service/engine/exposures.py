"""From medication records to drug exposures, filtered and attributed (§1, §3, §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

from service.engine.catalogue import PD1_CLASSES, Agent, Catalogue
from service.engine.diagnosis import is_cancer, is_sclc_condition, is_void
from service.engine.model import Exposure, ForAnotherCancer, PossiblyReceived
from service.engine.record import Code, ConditionFact, MedicationFact
from service.engine.rules import Thresholds

__all__ = [
    "ExposureHistory",
    "collect_exposures",
    "excluded",
    "is_excluded",
    "reason_other_cancer",
]

# §1: records that say the drug was not (or not yet) given.
EXCLUDED_STATUSES: Mapping[str, frozenset[str]] = {
    "MedicationStatement": frozenset({"entered-in-error", "not-taken", "intended"}),
    "MedicationRequest": frozenset({"entered-in-error", "cancelled", "draft"}),
    "MedicationAdministration": frozenset({"entered-in-error", "not-done"}),
}
EXCLUDED_REQUEST_INTENTS = frozenset({"proposal", "plan"})
# §4 (v3): agents given for SCLC. One of these that started more than 30 days before the
# SCLC diagnosis stays an SCLC exposure unless another cancer Condition is dated before it
# (an SCLC Condition entered at relapse by a new hospital keeps the first line).
SCLC_AGENT_CLASSES = frozenset({"platinum", *PD1_CLASSES})
SCLC_AGENTS = frozenset({"etoposide", "irinotecan", "topotecan", "lurbinectedin", "tarlatamab"})


@dataclass(frozen=True, slots=True)
class ExposureHistory:
    """`attributed`: the SCLC exposures lines are built from; `received`: every
    anticancer exposure the patient had, whatever it was for (prior-agent checks);
    `possibly`: records that may show a drug was given but cannot be placed (§1);
    `other_cancer`: exposures not attributed to SCLC, with the cancer they are for (§4)."""

    attributed: tuple[Exposure, ...]
    received: tuple[Exposure, ...]
    possibly: tuple[PossiblyReceived, ...]
    warnings: tuple[str, ...]
    other_cancer: tuple[ForAnotherCancer, ...] = ()

    def received_agents(self) -> frozenset[str]:
        return frozenset(e.agent for e in self.received)

    def possibly_received_agents(self) -> frozenset[str]:
        return frozenset(a for p in self.possibly for a in p.agents)

    @property
    def unidentified(self) -> tuple[PossiblyReceived, ...]:
        """Records that may be any drug (no agent known)."""
        return tuple(p for p in self.possibly if not p.agents)


def is_excluded(medication: MedicationFact) -> bool:
    """True for records that do not show the drug was given (§1)."""
    return excluded(
        medication.kind,
        medication.status,
        intent=medication.intent,
        do_not_perform=medication.do_not_perform,
    )


def excluded(kind: str, status: str | None, *, intent: str | None, do_not_perform: bool) -> bool:
    """`is_excluded` of a record with these fields (the reader asks before building one)."""
    if status in EXCLUDED_STATUSES[kind]:
        return True
    return kind == "MedicationRequest" and (do_not_perform or intent in EXCLUDED_REQUEST_INTENTS)


def _names_other_cancer(codes: tuple[Code, ...]) -> bool:
    probe = ConditionFact(
        ref="",
        codes=codes,
        text=None,
        clinical_status=None,
        verification_status=None,
        onset=None,
        recorded=None,
    )
    return is_cancer(probe) and not is_sclc_condition(probe)


def _other_cancer(condition: ConditionFact) -> bool:
    return is_cancer(condition) and not is_sclc_condition(condition)


class _Reasoned(Protocol):
    @property
    def reason_refs(self) -> tuple[str, ...]: ...
    @property
    def reason_codes(self) -> tuple[Code, ...]: ...


def reason_other_cancer(record: _Reasoned, conditions: Mapping[str, ConditionFact]) -> str | None:
    """The other cancer a drug record's or a procedure's reason names: a Condition ref, or
    "" for a reason code only; None when it names no other cancer."""
    for ref in record.reason_refs:
        condition = conditions.get(ref)
        if condition and _other_cancer(condition):
            return ref
    if record.reason_codes and _names_other_cancer(record.reason_codes):
        return ""
    return None


def _reason_words(codes: tuple[Code, ...]) -> str:
    """A reason code as a note names it: its display, else its code."""
    coding = codes[0]
    return coding.display or coding.code


def _cancer_before(start: date, conditions: Mapping[str, ConditionFact]) -> str | None:
    """§4 (v3): the latest other cancer Condition dated before `start`, if any."""
    earlier = [
        c
        for c in conditions.values()
        if not is_void(c) and c.day is not None and c.day < start and _other_cancer(c)
    ]
    return max(earlier, key=lambda c: (c.day, c.ref)).ref if earlier else None


def _is_sclc_agent(agent: Agent) -> bool:
    return agent.drug_class in SCLC_AGENT_CLASSES or agent.name in SCLC_AGENTS


def _unidentified(medication: MedicationFact, looks_like: str | None = None) -> str:
    """§1: the warning for a record whose drug cannot be told; `looks_like` says why one
    looks like anticancer therapy (v3)."""
    if looks_like is not None:
        named = [*medication.texts, *(c.display for c in medication.codes if c.display)]
        coding = next(iter(medication.codes), None)
        what = f"'{named[0]}'" if named else f"{coding.system} {coding.code}" if coding else ""
        return (
            f"unidentified medication {what} looks like anticancer therapy ({looks_like}) but "
            "names no agent of the drug catalogue; counted as possibly received"
        )
    if medication.missing_reference:
        what = f"reference {medication.missing_reference} not found"
    else:
        coding = next(iter(medication.codes), None)
        what = f"{coding.system or 'no system'} {coding.code}" if coding else "no code"
    return (
        f"unidentified medication ({what}); if this is an anticancer drug, the line count "
        "may be wrong"
    )


def _names(agents: Iterable[Agent]) -> str:
    return " and ".join(a.name for a in agents)


@dataclass(slots=True)
class _Collector:
    attributed: list[Exposure] = field(default_factory=list)
    received: list[Exposure] = field(default_factory=list)
    possibly: list[PossiblyReceived] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    other_cancer: list[ForAnotherCancer] = field(default_factory=list)

    def unplaced(
        self,
        medication: MedicationFact,
        agents: tuple[Agent, ...],
        *,
        looks_like: str | None = None,
    ) -> None:
        """A record the engine cannot place in a line: possibly received (§1). With no
        agents it is unidentified; `looks_like` says why it looks like anticancer therapy."""
        ref = medication.ref
        self.possibly.append(PossiblyReceived(ref, tuple(a.name for a in agents)))
        if not agents:
            prefix = (
                f"{ref}: {medication.date_problem}; skipped; "
                if medication.unreadable
                else f"{ref}: "
            )
            self.warnings.append(prefix + _unidentified(medication, looks_like))
        elif medication.unreadable:
            self.warnings.append(
                f"{ref}: {medication.date_problem}; skipped; its drug ({_names(agents)}) counts "
                "as possibly received"
            )
        else:
            self.warnings.append(
                f"{ref}: {_names(agents)} has no usable date; not placed in a line, counted "
                "as possibly received"
            )


def collect_exposures(
    medications: Iterable[MedicationFact],
    *,
    conditions: Mapping[str, ConditionFact],
    diagnosed: date | None,
    sclc: bool,
    catalogue: Catalogue,
    thresholds: Thresholds,
    today: date,
    other_cancers: Sequence[str] = (),
) -> ExposureHistory:
    """Exposures of catalogued anticancer agents, split into SCLC-attributed and all,
    and the records that can only be read as "possibly received" (§1, §3, §4).

    `other_cancers` are the refs of other active cancer Conditions: an attributed
    exposure that names no reason is kept, with a warning naming them (§4).
    """
    found = _Collector()
    for medication in medications:
        if is_excluded(medication):
            continue
        agents = catalogue.match(medication.codes, medication.texts)
        if not agents:
            # v3: a record that names no agent but looks like chemotherapy (an ATC code
            # under L01, "chemo", AUC, mg/m2, C1D1, an unlisted regimen) is unidentified.
            looks_like = catalogue.looks_like_chemotherapy(medication.codes, medication.texts)
            if looks_like is not None:
                found.unplaced(medication, (), looks_like=looks_like)
                continue
            if medication.unnamed:
                found.unplaced(medication, ())
                continue
            texts = [*medication.texts, *(c.display for c in medication.codes if c.display)]
            word = catalogue.looks_antineoplastic(texts)
            if word:
                found.warnings.append(
                    f"{medication.ref}: '{word}' looks like an anticancer drug but is not "
                    "in the drug catalogue; not counted"
                )
                continue
        agents = tuple(a for a in agents if not a.supportive)
        if not agents:  # a named drug that is not anticancer, or a supportive one
            if medication.unreadable:
                found.warnings.append(f"{medication.ref}: {medication.date_problem}; skipped")
            continue
        if medication.unreadable or medication.start is None or medication.end is None:
            found.unplaced(medication, agents)
            continue
        end = medication.end
        if medication.end_partial:
            end = min(end, today)  # §1: a partial end is never after the evaluation date
        reason = reason_other_cancer(medication, conditions)
        start = medication.start
        early = diagnosed is not None and (diagnosed - start).days > thresholds.pre_diagnosis_days
        earlier_cancer = _cancer_before(start, conditions) if early else None
        warned = False
        for agent in agents:
            exposure = Exposure(
                agent=agent.name,
                drug_class=agent.drug_class,
                start=start,
                end=max(start, end),
                source=medication.ref,
                open_ended=medication.open_ended,
                estimated=medication.estimated,
            )
            found.received.append(exposure)
            if not sclc:
                continue
            if reason is not None:
                # the Condition the reason names, else the reason code's words (§4)
                condition = reason or _reason_words(medication.reason_codes)
                found.other_cancer.append(
                    ForAnotherCancer(agent.name, medication.ref, condition, start)
                )
                continue
            if early and (earlier_cancer is not None or not _is_sclc_agent(agent)):
                # §4: the 30-day rule, named under Check the record (§11).
                found.other_cancer.append(
                    ForAnotherCancer(agent.name, medication.ref, earlier_cancer, start)
                )
                why = (
                    f"after {earlier_cancer} (another cancer)"
                    if earlier_cancer
                    else "and is not an SCLC drug"
                )
                found.warnings.append(
                    f"{medication.ref}: {agent.name} started {start.isoformat()}, more than "
                    f"{thresholds.pre_diagnosis_days} days before the SCLC diagnosis "
                    f"({diagnosed}), {why}; not counted in the SCLC lines"
                )
                continue
            named_reason = medication.reason_refs or medication.reason_codes
            if other_cancers and not warned and not named_reason:
                warned = True
                found.warnings.append(
                    f"{medication.ref} names no reason and may belong to "
                    f"{', '.join(other_cancers)} (another active cancer); counted in the SCLC "
                    "lines"
                )
            found.attributed.append(exposure)
    return ExposureHistory(
        tuple(found.attributed),
        tuple(found.received),
        tuple(found.possibly),
        tuple(found.warnings),
        tuple(found.other_cancer),
    )
