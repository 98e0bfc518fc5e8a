"""SCLC diagnosis, stage and date (CLINICAL_RULES §2), and which Conditions are cancers.

The stage (§2, v3) is read wherever the record gives it: a Condition's `stage.summary`
(VALSG limited / extensive, TNM stage group or M category, Synthea's staged SNOMED
codes), its own code display or text ("… TNM stage 4", "extensive-stage"), and the TNM
stage group and M category Observations about the SCLC (its `stage.assessment`, or
their `focus`; see `_stage_observations`). Stage group IV or M1 is extensive; stage
group I-III or M0 limited. The latest staging wins, a Condition by its date and an
Observation by its effective date (docs/decisions.md, "Version 3 readings").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from service.engine import rules
from service.engine.model import Diagnosis, Stage
from service.engine.record import Code, ConditionFact, ObservationFact

__all__ = [
    "QUIET_STATUSES",
    "SclcFindings",
    "find_sclc",
    "is_cancer",
    "is_sclc_condition",
    "is_stage_observation",
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
VOID_OBSERVATION = frozenset({"entered-in-error", "cancelled"})

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
# VALSG words of a stage.summary (and of a stage Observation's value).
_EXTENSIVE = re.compile(r"extensive", re.IGNORECASE)
_LIMITED = re.compile(r"limited", re.IGNORECASE)
# In a Condition's own code display or text the VALSG word names the stage only with
# "stage" or "disease" ("extensive-stage SCLC", "limited disease"), never alone.
_OWN_EXTENSIVE = re.compile(r"\bextensive[-\s]+(?:stage|disease)\b", re.IGNORECASE)
_OWN_LIMITED = re.compile(r"\blimited[-\s]+(?:stage|disease)\b", re.IGNORECASE)
# A TNM stage group after the word "stage" ("Stage IVA", "TNM stage 4", "stage group
# IIIB", "stage 1A1"): the group, then its sub-letter.
_STAGE_GROUP = re.compile(
    r"(?<![a-z0-9])stage(?:\s+group)?[\s:]*(iv|iii|ii|i|[0-4])([a-c]\d?)?(?![a-z0-9])",
    re.IGNORECASE,
)
# A stage group standing alone, as AJCC codes and displays write it ("IIIC", "4", "c3A").
_BARE_GROUP = re.compile(r"^\s*(?:y?[cp])?(iv|iii|ii|i|[0-4])([a-c]\d?)?\s*$", re.IGNORECASE)
# An M category: "M1", "cM0", "pM1a", "ypM1b", or the M of a TNM string ("T2N1M1b",
# "pT2 pN1 cM1c"), never inside another word ("HM1", "M10").
_M_CATEGORY = re.compile(
    r"(?<![a-z0-9])(?:(?:y?[cpr])?t(?:is|[0-4x])[a-d]?\d?(?:\([a-z]+\))?\s*"
    r"(?:(?:y?[cp])?n[0-3x][a-c]?(?:\([a-z+]+\))?\s*)?(?:y?[cp])?|y?[cpr])?"
    r"m([01])[a-d]?(?![a-z0-9])",
    re.IGNORECASE,
)
_EXTENSIVE_GROUPS = frozenset({"iv", "4"})
_STAGE_LOINCS = rules.STAGE_GROUP_LOINC | rules.M_CATEGORY_LOINC
_STAGE_SNOMEDS = rules.STAGE_GROUP_SNOMED | rules.M_CATEGORY_SNOMED
_LIMITED_GROUPS = frozenset({"i", "ii", "iii", "1", "2", "3"})


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


def _group_stage(group: str) -> Stage:
    group = group.lower()
    if group in _EXTENSIVE_GROUPS:
        return "extensive"
    return "limited" if group in _LIMITED_GROUPS else "unknown"


def _tnm_stages(text: str, *, bare: bool) -> set[Stage]:
    """The stages a text says by TNM: its stage groups after "stage", its M categories,
    and with `bare` the whole text as a stage group ("IIIC", "4")."""
    found = {_group_stage(hit.group(1)) for hit in _STAGE_GROUP.finditer(text)}
    found |= {"extensive" if m.group(1) == "1" else "limited" for m in _M_CATEGORY.finditer(text)}
    whole = _BARE_GROUP.match(text) if bare else None
    if whole is not None:
        found.add(_group_stage(whole.group(1)))
    return found


def _stage_said(*, staged: Iterable[str], own: Iterable[str], coded: Iterable[Code]) -> Stage:
    """The stage the texts of a stage field (`staged`: a stage.summary, a stage
    Observation's value), a Condition's own texts and the codes of both say: extensive
    when any says so, else limited when any says so."""
    codes = {c.code for c in coded}
    found: set[Stage] = set()
    if codes & rules.SCLC_STAGE_EXTENSIVE_SNOMED:
        found.add("extensive")
    if codes & rules.SCLC_STAGE_LIMITED_SNOMED:
        found.add("limited")
    for text in staged:
        found |= _tnm_stages(text, bare=True)
        found |= {"extensive"} if _EXTENSIVE.search(text) else set()
        found |= {"limited"} if _LIMITED.search(text) else set()
    for text in own:
        found |= _tnm_stages(text, bare=False)
        found |= {"extensive"} if _OWN_EXTENSIVE.search(text) else set()
        found |= {"limited"} if _OWN_LIMITED.search(text) else set()
    for stage in ("extensive", "limited"):
        if stage in found:
            return stage
    return "unknown"


def _staged_texts(codes: Iterable[Code], text: str | None) -> list[str]:
    """What a stage field says in words: its text, its codings' displays and, for AJCC's
    own code system, its codes ("3C", "cM1a")."""
    texts = [t for c in codes for t in (c.display, c.code if _ajcc(c) else None) if t]
    return [*texts, text] if text else texts


def _ajcc(code: Code) -> bool:
    return _system_is(code, rules.AJCC_SYSTEM_MARK)


def _stage_of(condition: ConditionFact) -> Stage:
    """The stage a Condition says itself: its stage.summary and its own code and text."""
    return _stage_said(
        staged=_staged_texts(condition.stage_codes, condition.stage_text),
        own=_texts(condition),
        coded=(*condition.codes, *condition.stage_codes),
    )


def is_stage_observation(observation: ObservationFact) -> bool:
    """A TNM stage group or M category Observation (§2 v3), by LOINC or SNOMED CT."""
    return any(
        (c.code in _STAGE_LOINCS and _system_is(c, rules.LOINC))
        or (c.code in _STAGE_SNOMEDS and _system_is(c, rules.SNOMED))
        for c in observation.codes
    )


def _observation_stage(observation: ObservationFact) -> Stage:
    """The stage a TNM stage Observation's value says (nothing when it is void)."""
    if observation.status in VOID_OBSERVATION:
        return "unknown"
    return _stage_said(
        staged=_staged_texts(observation.value_codes, observation.value_text),
        own=(),
        coded=observation.value_codes,
    )


@dataclass(frozen=True, slots=True)
class _Staging:
    """One record that stages the SCLC: its stage, its day (None: undated), its ref."""

    stage: Stage
    day: date | None
    source: str

    @property
    def key(self) -> tuple[int, bool]:
        # §2: the latest wins (undated first: they never override a dated one); on one
        # day, extensive before limited.
        return (self.day.toordinal() if self.day else 0, self.stage == "extensive")


def _stage_observations(
    found: tuple[ConditionFact, ...],
    conditions: tuple[ConditionFact, ...],
    observations: Iterable[ObservationFact],
) -> list[_Staging]:
    """The stagings by Observation of the SCLC Conditions `found` (§2 v3, the readings
    of docs/decisions.md): an Observation a SCLC Condition's stage.assessment names, or
    whose focus names one; one naming no focus and no Condition's assessment, when every
    cancer Condition of the record is SCLC. Each is dated by its effective date, else by
    the date of the SCLC Condition that names it."""
    sclc = {c.ref: c for c in found}
    assessed = {ref: c for c in found for ref in c.stage_assessments}
    elsewhere = {ref for c in conditions if c.ref not in sclc for ref in c.stage_assessments}
    others = any(not is_void(c) and is_cancer(c) and c.ref not in sclc for c in conditions)
    stagings = []
    for observation in observations:
        if not is_stage_observation(observation):
            continue
        owner = assessed.get(observation.ref)
        if owner is None and observation.focus:
            owner = next((sclc[f] for f in observation.focus if f in sclc), None)
            if owner is None:
                continue  # about another record
        elif owner is None and (observation.ref in elsewhere or others):
            continue  # another Condition's, or perhaps another cancer's
        stage = _observation_stage(observation)
        if stage != "unknown":
            day = observation.effective or (owner.day if owner else None)
            stagings.append(_Staging(stage, day, observation.ref))
    return sorted(stagings, key=lambda s: (s.day or date.min, s.source))


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


def find_sclc(
    conditions: Iterable[ConditionFact], observations: Iterable[ObservationFact] = ()
) -> SclcFindings:
    """The SCLC diagnosis (§2): every non-void SCLC Condition, whatever its status, and
    its stage from those Conditions and the TNM stage Observations about them."""
    conditions = tuple(conditions)
    found = tuple(
        sorted((c for c in conditions if not is_void(c) and is_sclc_condition(c)), key=_by_day)
    )
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
    stagings = [_Staging(_stage_of(c), c.day, c.ref) for c in found]
    stagings = [s for s in stagings if s.stage != "unknown"]
    stagings.extend(_stage_observations(found, conditions, observations))
    # Conditions first: on the same day and stage, the Condition is the record named.
    latest = max(stagings, key=lambda s: s.key, default=None)
    return SclcFindings(
        Diagnosis(
            sclc=True,
            stage=latest.stage if latest else "unknown",
            condition=first.ref,
            diagnosed=diagnosed,
            stage_condition=latest.source if latest else None,
            stage_date=latest.day if latest else None,
            clinical_status=found[-1].clinical_status,
        ),
        tuple(found),
        tuple(warnings),
    )
