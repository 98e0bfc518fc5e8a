"""SCLC diagnosis, stage and date (CLINICAL_RULES §2), and which Conditions are cancers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from service.engine import rules
from service.engine.model import Diagnosis, Stage
from service.engine.record import Code, ConditionFact

__all__ = ["SclcFindings", "find_sclc", "is_cancer", "is_sclc_condition"]

CURRENT_STATUSES = frozenset({"active", "relapse", "recurrence"})
RELAPSE_STATUSES = frozenset({"relapse", "recurrence"})
VOID_VERIFICATION = frozenset({"entered-in-error", "refuted"})

_NON_SMALL = re.compile(r"non[-\s]*small", re.IGNORECASE)
_SMALL_CELL = re.compile(r"small[-\s]*cell|\bsclc\b", re.IGNORECASE)
_LUNG = re.compile(r"lung|pulmonary|bronch|\bsclc\b", re.IGNORECASE)
_TO_LUNG = re.compile(r"\bto\s+(the\s+)?lungs?\b", re.IGNORECASE)
_CANCER_WORDS = re.compile(
    r"carcinoma|cancer|malignan|neoplasm|lymphoma|leuka?emia|melanoma|sarcoma|myeloma"
    r"|blastoma|\btumou?r\b",
    re.IGNORECASE,
)
_BENIGN = re.compile(r"benign|\bpolyp\b|suspected", re.IGNORECASE)
_EXTENSIVE = re.compile(r"extensive|stage\s*(iv|4)[abc]?\b", re.IGNORECASE)
_LIMITED = re.compile(r"limited|stage\s*(iii|ii|i|[123])[abc]?\b", re.IGNORECASE)


def _system_is(code: Code, mark: str) -> bool:
    return mark in code.system.lower()


def _texts(condition: ConditionFact) -> list[str]:
    texts = [c.display for c in condition.codes if c.display]
    if condition.text:
        texts.append(condition.text)
    return texts


def _text_says_sclc(text: str) -> bool:
    return (
        bool(_SMALL_CELL.search(text))
        and not _NON_SMALL.search(text)
        and bool(_LUNG.search(text))
        and not _TO_LUNG.search(text)
    )


def is_sclc_condition(condition: ConditionFact) -> bool:
    """True when the Condition's code or text names small-cell lung carcinoma (any status)."""
    codes = condition.codes
    if any(c.code == rules.NSCLC_SNOMED for c in codes):
        return False
    if any(_system_is(c, rules.SNOMED) and c.code in rules.SCLC_SNOMED_CODES for c in codes):
        return True
    morphology = any(c.code in rules.SCLC_ICDO3_MORPHOLOGY for c in codes)
    lung_site = any(
        c.code.upper().startswith(rules.LUNG_ICD10_PREFIX)
        for c in (*codes, *condition.body_site_codes)
    )
    if morphology and lung_site:
        return True
    return any(_text_says_sclc(t) for t in _texts(condition))


def is_cancer(condition: ConditionFact) -> bool:
    """A malignant condition, by ICD-10 C-code, ICD-O-3 behaviour /3 or wording."""
    for code in condition.codes:
        value = code.code.upper()
        if _system_is(code, "icd-10") and value.startswith("C"):
            return True
        if value.endswith("/3"):
            return True
    return any(_CANCER_WORDS.search(t) and not _BENIGN.search(t) for t in _texts(condition))


def _is_void(condition: ConditionFact) -> bool:
    return (
        condition.verification_status in VOID_VERIFICATION
        or condition.clinical_status == "entered-in-error"
    )


def _stage_of(condition: ConditionFact) -> Stage:
    codes = {c.code for c in (*condition.codes, *condition.stage_codes)}
    if codes & rules.SCLC_STAGE_EXTENSIVE_SNOMED:
        return "extensive"
    texts = [c.display for c in condition.stage_codes if c.display]
    if condition.stage_text:
        texts.append(condition.stage_text)
    if any(_EXTENSIVE.search(t) for t in texts):
        return "extensive"
    if codes & rules.SCLC_STAGE_LIMITED_SNOMED or any(_LIMITED.search(t) for t in texts):
        return "limited"
    return "unknown"


@dataclass(frozen=True, slots=True)
class SclcFindings:
    """The SCLC Conditions of a record and what follows from them."""

    diagnosis: Diagnosis
    conditions: tuple[ConditionFact, ...]
    warnings: tuple[str, ...]

    @property
    def relapses(self) -> tuple[ConditionFact, ...]:
        return tuple(c for c in self.conditions if c.clinical_status in RELAPSE_STATUSES)


def find_sclc(conditions: Iterable[ConditionFact]) -> SclcFindings:
    """The current SCLC diagnosis: active/relapse/recurrence SCLC Conditions (§2)."""
    current: list[ConditionFact] = []
    inactive: list[ConditionFact] = []
    for condition in conditions:
        if _is_void(condition) or not is_sclc_condition(condition):
            continue
        if condition.clinical_status in CURRENT_STATUSES:
            current.append(condition)
        else:
            inactive.append(condition)
    if not current:
        # Say why an SCLC record gives no cards rather than stay silent.
        return SclcFindings(
            Diagnosis(sclc=False),
            (),
            tuple(
                f"{c.ref}: small-cell lung carcinoma with clinicalStatus "
                f"'{c.clinical_status or 'missing'}' is not counted as current SCLC"
                for c in inactive
            ),
        )
    warnings: list[str] = []

    def day(c: ConditionFact) -> tuple[int, str]:
        when = c.onset or c.recorded
        return (when.toordinal() if when else 10**9, c.ref)

    ordered = sorted(current, key=day)
    first = ordered[0]
    dates = [c.onset or c.recorded for c in ordered]
    diagnosed = min((d for d in dates if d), default=None)
    if diagnosed is None:
        warnings.append(f"{first.ref}: SCLC Condition has no onset or recorded date")
    stages = {_stage_of(c) for c in ordered}
    stage: Stage = (
        "extensive" if "extensive" in stages else "limited" if "limited" in stages else "unknown"
    )
    return SclcFindings(
        Diagnosis(sclc=True, stage=stage, condition=first.ref, diagnosed=diagnosed),
        tuple(ordered),
        tuple(warnings),
    )
