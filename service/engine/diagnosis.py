"""SCLC diagnosis, stage and date (CLINICAL_RULES §2), and which Conditions are cancers."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from service.engine import rules
from service.engine.model import Diagnosis, Stage
from service.engine.record import Code, ConditionFact

__all__ = [
    "QUIET_STATUSES",
    "SclcFindings",
    "find_sclc",
    "is_cancer",
    "is_sclc_condition",
    "is_void",
    "other_active_cancers",
    "says_recurrent",
]

RELAPSE_STATUSES = frozenset({"relapse", "recurrence"})
# §2: these still establish the history; a later progression makes them "check the record".
QUIET_STATUSES = frozenset({"remission", "inactive", "resolved"})
# §4: "another active cancer" (no status at all is read as active, the cautious side).
ACTIVE_STATUSES = frozenset({"active", "relapse", "recurrence", None})
VOID_VERIFICATION = frozenset({"entered-in-error", "refuted"})

_NON_SMALL = re.compile(r"non[-\s]*small|\bnsclc\b", re.IGNORECASE)
_SMALL_CELL = re.compile(r"small[-\s]*cell|oat[-\s]*cell|\bsclc\b", re.IGNORECASE)
_LUNG = re.compile(r"lung|pulmonary|bronch|\bsclc\b", re.IGNORECASE)
_TO_LUNG = re.compile(r"\bto\s+(the\s+)?lungs?\b", re.IGNORECASE)
_CANCER_WORDS = re.compile(
    r"carcinoma|cancer|malignan|neoplasm|lymphoma|leuka?emia|melanoma|sarcoma|myeloma"
    r"|blastoma|\btumou?r\b",
    re.IGNORECASE,
)
_BENIGN = re.compile(r"benign|\bpolyp\b|suspected", re.IGNORECASE)
# §6.2 (v3): an SCLC Condition named as a recurrence is a relapse record, whatever its status.
_RECURRENT = re.compile(r"\b(recurrent|recurrence|relapsed?)\b", re.IGNORECASE)
_HISTORY_OF = re.compile(r"\bhistory\s+of\b|\bh/o\b", re.IGNORECASE)
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


def _lung_icd10(condition: ConditionFact) -> Code | None:
    """The ICD-10(-CM) C34 code of the Condition, if it has one."""
    return next(
        (
            c
            for c in condition.codes
            if _system_is(c, rules.ICD10_SYSTEM_MARK)
            and c.code.upper().startswith(rules.LUNG_ICD10_PREFIX)
        ),
        None,
    )


def _histology_says_small_cell(condition: ConditionFact) -> bool:
    """§2: small-cell / oat-cell histology in the text, displays or notes, never NSCLC."""
    texts = [*_texts(condition), *condition.notes]
    if any(_NON_SMALL.search(t) for t in texts):
        return False
    return any(_SMALL_CELL.search(t) for t in texts)


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
    if _lung_icd10(condition) is not None and _histology_says_small_cell(condition):
        return True
    return any(_text_says_sclc(t) for t in _texts(condition))


def says_recurrent(condition: ConditionFact) -> bool:
    """§6.2 (v3): the code display or text says recurrent, recurrence or relapsed, and not
    "history of" ("Recurrent small cell lung cancer")."""
    texts = _texts(condition)
    return any(_RECURRENT.search(t) for t in texts) and not any(
        _HISTORY_OF.search(t) for t in texts
    )


def is_cancer(condition: ConditionFact) -> bool:
    """A malignant condition, by ICD-10 C-code, ICD-O-3 behaviour /3 or wording."""
    for code in condition.codes:
        value = code.code.upper()
        if _system_is(code, rules.ICD10_SYSTEM_MARK) and value.startswith("C"):
            return True
        if value.endswith("/3"):
            return True
    return any(_CANCER_WORDS.search(t) and not _BENIGN.search(t) for t in _texts(condition))


def is_void(condition: ConditionFact) -> bool:
    """Entered in error or refuted: the Condition says nothing."""
    return (
        condition.verification_status in VOID_VERIFICATION
        or condition.clinical_status == "entered-in-error"
    )


def other_active_cancers(conditions: Iterable[ConditionFact]) -> tuple[ConditionFact, ...]:
    """§4: cancers that are not SCLC and are active (or say nothing of their status)."""
    return tuple(
        c
        for c in conditions
        if not is_void(c)
        and c.clinical_status in ACTIVE_STATUSES
        and is_cancer(c)
        and not is_sclc_condition(c)
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
        """§6.2: SCLC Conditions with status relapse / recurrence, or (v3) named so."""
        return tuple(
            c for c in self.conditions if c.clinical_status in RELAPSE_STATUSES or says_recurrent(c)
        )


def _by_day(condition: ConditionFact) -> tuple[int, str]:
    # Undated Conditions sort first: they never override a dated one.
    day = condition.day
    return (day.toordinal() if day else 0, condition.ref)


def find_sclc(conditions: Iterable[ConditionFact]) -> SclcFindings:
    """The SCLC diagnosis (§2): every non-void SCLC Condition, whatever its status."""
    conditions = tuple(conditions)
    found = sorted((c for c in conditions if not is_void(c) and is_sclc_condition(c)), key=_by_day)
    if not found:
        # Say why a lung cancer gives no cards rather than stay silent.
        return SclcFindings(
            Diagnosis(sclc=False),
            (),
            tuple(
                f"{c.ref}: lung cancer coded {code.code} without small-cell histology in its "
                "text; not counted as SCLC"
                for c in conditions
                if not is_void(c)
                and (code := _lung_icd10(c)) is not None
                and not any(_NON_SMALL.search(t) for t in [*_texts(c), *c.notes])
            ),
        )
    warnings: list[str] = []
    dated = [c for c in found if c.day]
    first = min(dated, key=_by_day) if dated else found[0]
    diagnosed = first.day
    if diagnosed is None:
        warnings.append(f"{first.ref}: SCLC Condition has no onset or recorded date")
    staged = [c for c in found if _stage_of(c) != "unknown"]
    stage: Stage = "unknown"
    stage_condition: ConditionFact | None = None
    if staged:
        # §2: the latest staged Condition wins; on one day, extensive before limited.
        stage_condition = max(staged, key=lambda c: (*_by_day(c)[:1], _stage_of(c) == "extensive"))
        stage = _stage_of(stage_condition)
    return SclcFindings(
        Diagnosis(
            sclc=True,
            stage=stage,
            condition=first.ref,
            diagnosed=diagnosed,
            stage_condition=stage_condition.ref if stage_condition else None,
            stage_date=stage_condition.day if stage_condition else None,
            clinical_status=found[-1].clinical_status,
        ),
        tuple(found),
        tuple(warnings),
    )
