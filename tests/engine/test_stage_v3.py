"""The stage read from TNM (CLINICAL_RULES v3 §2): a Condition's stage.summary, its own
code and text, and the stage group / M category Observations about the SCLC, dated as
docs/decisions.md ("Version 3 readings") says."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.engine import evaluate
from service.engine.diagnosis import find_sclc
from service.engine.record import Code, ConditionFact, ObservationFact
from tests.builders import LOINC, SNOMED, cycles, d, other_cancer, record, sclc, worsened

AJCC = "http://cancerstaging.org"


def unstaged(
    onset: str = "2024-01-01", ref: str = "Condition/c1", **fields: object
) -> ConditionFact:
    return replace(sclc(onset, stage=None, ref=ref), **fields)  # type: ignore[arg-type]


def staging(
    value: str | Code,
    day: str | None = "2024-01-05",
    *,
    code: str = "21908-9",
    system: str = LOINC,
    ref: str = "Observation/s1",
    focus: tuple[str, ...] = (),
    status: str = "final",
) -> ObservationFact:
    """A stage group (21908-9) or M category Observation whose value is a text or a code."""
    text, codes = (value, ()) if isinstance(value, str) else (None, (value,))
    return ObservationFact(
        ref=ref,
        codes=(Code(system, code),),
        status=status,
        effective=d(day) if day else None,
        value_codes=codes,
        value_text=text,
        focus=focus,
    )


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("Stage IVA", "extensive"),
        ("Stage IVB", "extensive"),
        ("stage IV", "extensive"),
        ("TNM stage 4", "extensive"),
        ("IV", "extensive"),
        (Code(AJCC, "4"), "extensive"),
        (Code(AJCC, "4A", "IVA"), "extensive"),
        ("stage IIIA", "limited"),
        ("Stage IIB", "limited"),
        ("stage I", "limited"),
        ("IIIC", "limited"),
        (Code(AJCC, "3C", "IIIC"), "limited"),
        (Code(AJCC, "c3A"), "limited"),
        (Code(SNOMED, "1222806003", "American Joint Committee on Cancer stage IIIC"), "limited"),
        ("Extensive stage", "extensive"),
        ("Stage 0", "unknown"),
        (Code(SNOMED, "1222806003"), "unknown"),  # a SNOMED CT value without its display
    ],
)
def test_stage_group_observations(value: str | Code, stage: str) -> None:
    """21908-9 about the only cancer, the SCLC: its value is the stage."""
    found = find_sclc([unstaged()], [staging(value)])
    assert found.diagnosis.stage == stage


@pytest.mark.parametrize(
    ("value", "stage"),
    [
        ("cM1c", "extensive"),
        ("pM1a", "extensive"),
        ("M1b", "extensive"),
        ("ypM1", "extensive"),
        ("T2N1M1b", "extensive"),
        ("pT2a pN1 cM1c", "extensive"),
        (Code(AJCC, "cM1"), "extensive"),
        ("cM0", "limited"),
        ("M0", "limited"),
        ("T4N3M0", "limited"),
        (Code(SNOMED, "1229901006", "American Joint Committee on Cancer cM0"), "limited"),
        ("HM1 clone", "unknown"),  # "M1" inside another word
        ("M10", "unknown"),
        ("ADAM10", "unknown"),
    ],
)
@pytest.mark.parametrize(
    ("code", "system"),
    [("21907-1", LOINC), ("21901-4", LOINC), ("399387003", SNOMED)],
    ids=["clinical", "pathologic", "snomed-cM"],
)
def test_m_category_observations(value: str | Code, stage: str, code: str, system: str) -> None:
    """M1 (any sub-letter) is extensive, M0 limited, whatever prefix or TNM string."""
    found = find_sclc([unstaged()], [staging(value, code=code, system=system)])
    assert found.diagnosis.stage == stage


@pytest.mark.parametrize(
    ("summary", "own", "stage"),
    [
        ("Stage IVA", None, "extensive"),
        ("T2N1M1b", None, "extensive"),
        ("cM0", None, "limited"),
        ("stage IIIA", None, "limited"),
        (None, "Small cell carcinoma of lung, TNM stage 4", "extensive"),
        (None, "Extensive-stage small cell lung cancer", "extensive"),
        (None, "Small cell lung cancer, limited disease", "limited"),
        (None, "Small cell carcinoma of lung, stage IIIA", "limited"),
        (None, "Small cell lung cancer, limited resection", "unknown"),  # no stage named
        (None, "Small cell lung cancer", "unknown"),
    ],
)
def test_a_condition_says_its_stage(summary: str | None, own: str | None, stage: str) -> None:
    """stage.summary text, or the Condition's own text."""
    condition = unstaged(stage_text=summary, text=own)
    assert find_sclc([condition]).diagnosis.stage == stage


def test_an_ajcc_summary_coding_is_read() -> None:
    """mCODE's stage.summary {cancerstaging.org 3C "IIIC"}: limited."""
    condition = unstaged(stage_codes=(Code(AJCC, "3C", "IIIC"),))
    assert find_sclc([condition]).diagnosis.stage == "limited"


def test_an_assessment_observation_stages_its_condition_on_its_own_day() -> None:
    """Condition 2024-01-01 names Observation/s1 (cM1a, 2024-01-05) in stage.assessment:
    extensive, staged by the Observation on 2024-01-05."""
    condition = unstaged(stage_assessments=("Observation/s1",))
    diagnosis = find_sclc([condition], [staging("cM1a", code="21907-1")]).diagnosis
    assert (diagnosis.stage, diagnosis.stage_condition, diagnosis.stage_date) == (
        "extensive",
        "Observation/s1",
        d("2024-01-05"),
    )


def test_an_undated_assessment_observation_takes_its_conditions_day() -> None:
    """No effective date: the date of the SCLC Condition naming it (2024-01-01)."""
    condition = unstaged(stage_assessments=("Observation/s1",))
    diagnosis = find_sclc([condition], [staging("Stage IVB", day=None)]).diagnosis
    assert (diagnosis.stage, diagnosis.stage_date) == ("extensive", d("2024-01-01"))


def test_a_restaging_observation_at_relapse_wins_and_is_staged_at_relapse() -> None:
    """Limited at diagnosis (2024-01-01); progression 2025-05-20; Stage IVB about the
    Condition on 2025-06-01: extensive, staged at relapse (2025-06-01 >= 2025-05-20)."""
    condition = unstaged(stage_text="Limited stage")
    restaged = staging("Stage IVB", "2025-06-01", focus=("Condition/c1",))
    result = evaluate(
        record(
            *cycles("carboplatin", "2024-01-10", 4),
            *cycles("etoposide", "2024-01-10", 4),
            conditions=(condition,),
            observations=(worsened("2025-05-20"), restaged),
        ),
        today=d("2025-06-10"),
    )
    diagnosis = result.diagnosis
    assert (diagnosis.stage, diagnosis.stage_condition) == ("extensive", "Observation/s1")
    assert diagnosis.stage_date == d("2025-06-01")
    assert diagnosis.staged_at_relapse


def test_the_latest_staging_wins_condition_or_observation() -> None:
    """Extensive Condition of 2024-01-01, then an M0 Observation of 2024-03-01: limited.
    On one day, extensive wins; the same stage on one day names the Condition."""
    extensive = unstaged(stage_text="Extensive stage")
    later = find_sclc([extensive], [staging("cM0", "2024-03-01", code="21907-1")])
    assert later.diagnosis.stage == "limited"
    same_day = find_sclc([unstaged(stage_text="Limited stage")], [staging("cM1", "2024-01-01")])
    assert same_day.diagnosis.stage == "extensive"
    agreeing = find_sclc([extensive], [staging("Stage IV", "2024-01-01")])
    assert agreeing.diagnosis.stage_condition == "Condition/c1"


def test_observations_about_something_else_are_not_the_sclcs() -> None:
    """Focus on another Condition, or named by another Condition's stage.assessment: not
    read for the SCLC."""
    prostate = replace(other_cancer("Condition/pca"), stage_assessments=("Observation/s2",))
    focused = staging("Stage IVB", focus=("Condition/pca",))
    assessed = staging("cM1b", ref="Observation/s2", code="21907-1")
    found = find_sclc([unstaged(), prostate], [focused, assessed])
    assert found.diagnosis.stage == "unknown"


def test_an_observation_without_focus_needs_the_sclc_to_be_the_only_cancer() -> None:
    """No focus and no Condition naming it: read when every cancer is SCLC (two SCLC
    Conditions, diagnosis and recurrence, are one disease); not with another cancer."""
    free = staging("Stage IVA")
    recurrence = unstaged("2025-01-01", ref="Condition/c2", clinical_status="recurrence")
    assert find_sclc([unstaged(), recurrence], [free]).diagnosis.stage == "extensive"
    assert find_sclc([unstaged(), other_cancer()], [free]).diagnosis.stage == "unknown"


@pytest.mark.parametrize("status", ["entered-in-error", "cancelled"])
def test_a_void_stage_observation_says_nothing(status: str) -> None:
    """Entered in error or cancelled: no stage."""
    assert (
        find_sclc([unstaged()], [staging("Stage IV", status=status)]).diagnosis.stage == "unknown"
    )


def test_other_observations_are_not_stages() -> None:
    """An ECOG or a T category (21905-5) value is never read as a stage."""
    t_category = staging("cT2 stage IV", code="21905-5")
    assert find_sclc([unstaged()], [t_category]).diagnosis.stage == "unknown"
