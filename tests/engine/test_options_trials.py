"""Options (§9) and the NCT07632209 pre-screen (§10) at a decision point."""

from __future__ import annotations

from datetime import date
from typing import Any

from service.cards import note_words
from service.engine import evaluate
from service.knowledge import load_knowledge
from tests.builders import cycles, given, lab, patient, record, sclc, worsened

TODAY = date(2025, 11, 21)


def worded_notes(result: Any, option_id: str) -> tuple[str, ...]:
    """The option's study-population notes (engine values) as the cards word them."""
    wording = load_knowledge().wording
    return tuple(note_words(n, wording) for n in result.notes_for(option_id))


def chemo_io_first_line():
    """Carboplatin + etoposide + atezolizumab x4 from Jan 6 2025 (last platinum Mar 10)."""
    return [
        *cycles("carboplatin", "2025-01-06", 4),
        *cycles("etoposide", "2025-01-06", 4),
        *cycles("atezolizumab", "2025-01-06", 6),
    ]


def options_of(result):
    return [(o.id, o.status) for o in result.options]


def test_late_sensitive_relapse_after_chemo_io_shows_every_second_line_option() -> None:
    """Relapse Oct 15: 219 days after Mar 10 -> rechallenge recommended; ANNAB for line 2."""
    result = evaluate(
        record(*chemo_io_first_line(), observations=(worsened("2025-10-15"),)), today=TODAY
    )
    assert result.next_line == 2
    assert options_of(result) == [
        ("platinum-rechallenge", "recommended"),
        ("topotecan", "consider"),
        ("lurbinectedin", "consider"),
        ("tarlatamab", "consider"),
        ("amrubicin", "consider"),
        ("nab-paclitaxel-anlotinib", "consider"),
        ("anlotinib", "consider"),
        ("taxane", "consider"),
        ("palliative-radiotherapy", "consider"),
        ("clinical-trial", "consider"),
    ]
    assert result.trials == ()  # one prior line: not the trial's population


def test_early_sensitive_relapse_makes_rechallenge_a_consideration() -> None:
    """Relapse Jul 1: 21 + 30 + 31 + 30 + 1 = 113 days -> sensitive, below 180."""
    result = evaluate(
        record(*chemo_io_first_line(), observations=(worsened("2025-07-01"),)), today=TODAY
    )
    assert ("platinum-rechallenge", "consider") in options_of(result)


def test_resistant_relapse_has_no_rechallenge() -> None:
    """Relapse Apr 20: 21 + 20 = 41 days -> resistant."""
    result = evaluate(
        record(*chemo_io_first_line(), observations=(worsened("2025-04-20"),)), today=TODAY
    )
    assert "platinum-rechallenge" not in [o.id for o in result.options]
    assert "topotecan" in [o.id for o in result.options]


def test_the_evaluation_says_whether_line_1_was_platinum_chemo_immunotherapy() -> None:
    """§9 (v3): platinum + PD-(L)1 inhibitor in line 1 is said, at every later line; a
    platinum doublet alone is not chemo-immunotherapy."""
    progressed = (worsened("2025-10-15"),)
    with_io = evaluate(record(*chemo_io_first_line(), observations=progressed), today=TODAY)
    assert with_io.first_line_chemo_immunotherapy
    later = evaluate(third_line(), today=TODAY)
    assert later.next_line == 3 and later.first_line_chemo_immunotherapy
    doublet = [*cycles("carboplatin", "2025-01-06", 4), *cycles("etoposide", "2025-01-06", 4)]
    without = evaluate(record(*doublet, observations=progressed), today=TODAY)
    assert without.next_line == 2 and not without.first_line_chemo_immunotherapy


def test_limited_stage_at_diagnosis_only_keeps_tarlatamab_with_a_note() -> None:
    """v2 §9: limited at diagnosis, never restaged: shown, with the stage note."""
    conditions = (sclc("2024-12-20", stage="Limited stage"),)
    result = evaluate(
        record(
            *chemo_io_first_line(), conditions=conditions, observations=(worsened("2025-10-15"),)
        ),
        today=TODAY,
    )
    assert "tarlatamab" in [o.id for o in result.options]
    (note,) = worded_notes(result, "tarlatamab")
    assert note.startswith("indicated for extensive-stage disease; limited stage at diagnosis")


def test_limited_stage_staged_at_relapse_hides_tarlatamab() -> None:
    """v2 §2/§9: a recurrence staged limited on the progression day (Oct 15) hides it."""
    conditions = (
        sclc("2024-12-20", stage="Extensive stage"),
        sclc("2025-10-15", stage="Limited stage", status="recurrence", ref="Condition/c2"),
    )
    result = evaluate(record(*chemo_io_first_line(), conditions=conditions), today=TODAY)
    assert result.diagnosis.stage == "limited"
    assert result.diagnosis.staged_at_relapse
    assert "tarlatamab" not in [o.id for o in result.options]


def test_options_already_received_are_not_shown() -> None:
    """Topotecan as line 2 (Jun 2), progression after it (Sep 1): next_line 3."""
    meds = [*chemo_io_first_line(), *cycles("topotecan", "2025-06-02", 3)]
    result = evaluate(
        record(*meds, observations=(worsened("2025-05-20"), worsened("2025-09-01"))), today=TODAY
    )
    ids = [o.id for o in result.options]
    assert result.next_line == 3
    assert "topotecan" not in ids
    assert "anlotinib" in ids and "nab-paclitaxel-anlotinib" not in ids


def test_prior_anti_angiogenic_hides_annab_but_bevacizumab_does_not_bar_the_trial_tki_rule() -> (
    None
):
    """§9: prior bevacizumab (anti-angiogenic) hides nab-paclitaxel + anlotinib at line 2."""
    meds = [*chemo_io_first_line(), given("bevacizumab", "2025-01-06")]
    result = evaluate(record(*meds, observations=(worsened("2025-10-15"),)), today=TODAY)
    assert "nab-paclitaxel-anlotinib" not in [o.id for o in result.options]


def third_line(**kwargs):
    meds = [*chemo_io_first_line(), *cycles("topotecan", "2025-06-02", 3), *kwargs.pop("extra", [])]
    observations = (worsened("2025-05-20"), worsened("2025-09-01"), *kwargs.pop("observations", ()))
    return record(*meds, observations=observations, **kwargs)


def criteria_of(result):
    (trial,) = result.trials
    return trial.verdict, {c.criterion: c.result for c in trial.criteria}


def test_third_line_patient_with_good_labs_is_eligible() -> None:
    """§10: third line, age 65, ECOG 1 and fresh labs within the limits: eligible."""
    labs = (
        lab("89247-1", "2025-11-10", 1),
        lab("751-8", "2025-11-10", 2.1, "10*9/L"),
        lab("777-3", "2025-11-10", 180, "10*3/uL"),
        lab("718-7", "2025-11-10", 11.2, "g/dL"),  # 112 g/L
        lab("2160-0", "2025-11-10", 1.0, "mg/dL", high=1.2),  # <= 1.8
        lab("33914-3", "2025-11-10", 75, "mL/min/{1.73_m2}"),
        lab("6301-6", "2025-11-10", 1.1, "{INR}"),
    )
    verdict, criteria = criteria_of(evaluate(third_line(observations=labs), today=TODAY))
    assert criteria["2+ prior lines, progressed after the latest"] == "met"
    assert criteria["age 18-75"] == "met"  # born 1960-01-01: 65
    assert verdict == "eligible", criteria


def test_missing_labs_make_the_patient_possibly_eligible() -> None:
    """§10: no ECOG or labs in the record: those criteria unknown, verdict possibly-eligible."""
    verdict, criteria = criteria_of(evaluate(third_line(), today=TODAY))
    assert criteria["ECOG 0-1"] == "unknown"
    assert verdict == "possibly-eligible"


def test_ecog_2_or_low_haemoglobin_makes_the_patient_ineligible() -> None:
    """§10: ECOG 2 and haemoglobin 85 g/L are both not-met: the verdict is ineligible."""
    labs = (lab("89247-1", "2025-11-10", 2), lab("718-7", "2025-11-10", 85, "g/L"))
    verdict, criteria = criteria_of(evaluate(third_line(observations=labs), today=TODAY))
    assert (criteria["ECOG 0-1"], criteria["hemoglobin >= 90 g/L"]) == ("not-met", "not-met")
    assert verdict == "ineligible"


def test_most_recent_ecog_wins() -> None:
    """§10: ECOG 3 on Nov 1, then 0 on Nov 10: the most recent value meets ECOG 0-1."""
    labs = (lab("89247-1", "2025-11-01", 3), lab("89247-1", "2025-11-10", 0))
    _, criteria = criteria_of(evaluate(third_line(observations=labs), today=TODAY))
    assert criteria["ECOG 0-1"] == "met"


def test_age_76_is_not_met() -> None:
    """Born 1949-11-21: 76 on 2025-11-21."""
    _, criteria = criteria_of(evaluate(third_line(pat=patient("1949-11-21")), today=TODAY))
    assert criteria["age 18-75"] == "not-met"


def test_age_75_the_day_before_the_76th_birthday_is_met() -> None:
    """§10: born 1949-11-22, still 75 on 2025-11-21: age 18-75 is met."""
    _, criteria = criteria_of(evaluate(third_line(pat=patient("1949-11-22")), today=TODAY))
    assert criteria["age 18-75"] == "met"


def test_prior_anlotinib_bars_the_trial() -> None:
    """§10: anlotinib already received: the prior-TKI criterion is not-met, verdict ineligible."""
    verdict, criteria = criteria_of(
        evaluate(third_line(extra=[given("anlotinib", "2025-06-02")]), today=TODAY)
    )
    assert criteria["no prior lomustine, anlotinib or anti-angiogenic TKI"] == "not-met"
    assert verdict == "ineligible"
