"""From medication records to drug exposures, filtered and attributed (§1, §3, §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from service.engine.catalogue import Agent, Catalogue
from service.engine.diagnosis import is_cancer, is_sclc_condition
from service.engine.model import Exposure, PossiblyReceived
from service.engine.record import Code, ConditionFact, MedicationFact
from service.engine.rules import Thresholds

__all__ = ["ExposureHistory", "collect_exposures", "excluded", "is_excluded"]

# §1: records that say the drug was not (or not yet) given.
EXCLUDED_STATUSES: Mapping[str, frozenset[str]] = {
    "MedicationStatement": frozenset({"entered-in-error", "not-taken", "intended"}),
    "MedicationRequest": frozenset({"entered-in-error", "cancelled", "draft"}),
    "MedicationAdministration": frozenset({"entered-in-error", "not-done"}),
}
EXCLUDED_REQUEST_INTENTS = frozenset({"proposal", "plan"})


@dataclass(frozen=True, slots=True)
class ExposureHistory:
    """`attributed`: the SCLC exposures lines are built from; `received`: every
    anticancer exposure the patient had, whatever it was for (prior-agent checks);
    `possibly`: records that may show a drug was given but cannot be placed (§1)."""

    attributed: tuple[Exposure, ...]
    received: tuple[Exposure, ...]
    possibly: tuple[PossiblyReceived, ...]
    warnings: tuple[str, ...]

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


def _for_other_cancer(medication: MedicationFact, conditions: Mapping[str, ConditionFact]) -> bool:
    for ref in medication.reason_refs:
        condition = conditions.get(ref)
        if condition and is_cancer(condition) and not is_sclc_condition(condition):
            return True
    return bool(medication.reason_codes) and _names_other_cancer(medication.reason_codes)


def _unidentified(medication: MedicationFact) -> str:
    """§1: the warning for a record whose drug cannot be told."""
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

    def unplaced(self, medication: MedicationFact, agents: tuple[Agent, ...]) -> None:
        """A record the engine cannot place in a line: possibly received (§1)."""
        ref = medication.ref
        self.possibly.append(PossiblyReceived(ref, tuple(a.name for a in agents)))
        if not agents:
            prefix = (
                f"{ref}: {medication.date_problem}; skipped; "
                if medication.unreadable
                else f"{ref}: "
            )
            self.warnings.append(prefix + _unidentified(medication))
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
            elif medication.unreadable:
                found.warnings.append(f"{medication.ref}: {medication.date_problem}; skipped")
            continue
        agents = tuple(a for a in agents if not a.supportive)
        if not agents:
            continue
        if medication.unreadable or medication.start is None or medication.end is None:
            found.unplaced(medication, agents)
            continue
        end = medication.end
        if medication.end_partial:
            end = min(end, today)  # §1: a partial end is never after the evaluation date
        for_sclc = (
            sclc
            and not _for_other_cancer(medication, conditions)
            and not (
                diagnosed is not None
                and (diagnosed - medication.start).days > thresholds.pre_diagnosis_days
            )
        )
        if (
            for_sclc
            and other_cancers
            and not medication.reason_refs
            and not medication.reason_codes
        ):
            found.warnings.append(
                f"{medication.ref} names no reason and may belong to {', '.join(other_cancers)} "
                "(another active cancer); counted in the SCLC lines"
            )
        for agent in agents:
            exposure = Exposure(
                agent=agent.name,
                drug_class=agent.drug_class,
                start=medication.start,
                end=max(medication.start, end),
                source=medication.ref,
                open_ended=medication.open_ended,
                estimated=medication.estimated,
            )
            found.received.append(exposure)
            if for_sclc:
                found.attributed.append(exposure)
    return ExposureHistory(
        tuple(found.attributed), tuple(found.received), tuple(found.possibly), tuple(found.warnings)
    )
