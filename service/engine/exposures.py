"""From medication records to drug exposures, filtered and attributed (§1, §3, §4)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from service.engine.catalogue import Catalogue
from service.engine.diagnosis import is_cancer, is_sclc_condition
from service.engine.model import Exposure
from service.engine.record import Code, ConditionFact, MedicationFact
from service.engine.rules import Thresholds

__all__ = ["ExposureHistory", "collect_exposures", "is_excluded"]

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
    anticancer exposure the patient had, whatever it was for (prior-agent checks)."""

    attributed: tuple[Exposure, ...]
    received: tuple[Exposure, ...]
    warnings: tuple[str, ...]

    def received_agents(self) -> frozenset[str]:
        return frozenset(e.agent for e in self.received)


def is_excluded(medication: MedicationFact) -> bool:
    """True for records that do not show the drug was given (§1)."""
    if medication.status in EXCLUDED_STATUSES[medication.kind]:
        return True
    return medication.kind == "MedicationRequest" and (
        medication.do_not_perform or medication.intent in EXCLUDED_REQUEST_INTENTS
    )


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


def collect_exposures(
    medications: Iterable[MedicationFact],
    *,
    conditions: Mapping[str, ConditionFact],
    diagnosed: date | None,
    sclc: bool,
    catalogue: Catalogue,
    thresholds: Thresholds,
) -> ExposureHistory:
    """Exposures of catalogued anticancer agents, split into SCLC-attributed and all."""
    attributed: list[Exposure] = []
    received: list[Exposure] = []
    warnings: list[str] = []
    for medication in medications:
        if is_excluded(medication):
            continue
        agents = catalogue.match(medication.codes, medication.texts)
        if not agents:
            texts = [*medication.texts, *(c.display for c in medication.codes if c.display)]
            word = catalogue.looks_antineoplastic(texts)
            if word:
                warnings.append(
                    f"{medication.ref}: '{word}' looks like an anticancer drug but is not "
                    "in the drug catalogue; not counted"
                )
            continue
        agents = tuple(a for a in agents if not a.supportive)
        if not agents:
            continue
        if medication.start is None or medication.end is None:
            reason = medication.date_problem or "no usable date"
            warnings.append(f"{medication.ref}: {reason}; skipped")
            continue
        for_sclc = (
            sclc
            and not _for_other_cancer(medication, conditions)
            and not (
                diagnosed is not None
                and (diagnosed - medication.start).days > thresholds.pre_diagnosis_days
            )
        )
        for agent in agents:
            exposure = Exposure(
                agent=agent.name,
                drug_class=agent.drug_class,
                start=medication.start,
                end=max(medication.start, medication.end),
                source=medication.ref,
                open_ended=medication.open_ended,
            )
            received.append(exposure)
            if for_sclc:
                attributed.append(exposure)
    return ExposureHistory(tuple(attributed), tuple(received), tuple(warnings))
