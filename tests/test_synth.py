"""The synthetic-patient generator writes valid FHIR the engine reads as described."""

from __future__ import annotations

from datetime import date

import pytest

from service.demo.synth import PatientSpec, bundle_for, parse_labs, parse_regimen
from service.engine import evaluate
from service.fhir import build_records, resources_from_json

TODAY = date(2026, 11, 21)


def run(spec: PatientSpec):
    resources, warnings = resources_from_json(bundle_for(spec))
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def test_regimen_spec_is_parsed() -> None:
    """A regimen spec gives its agents and one dose day per cycle, 21 days apart."""
    regimen = parse_regimen("Carboplatin+etoposide@2025-01-06x4q21")
    assert regimen.agents == ("carboplatin", "etoposide")
    assert regimen.days() == [
        date(2025, 1, 6),
        date(2025, 1, 27),
        date(2025, 2, 17),
        date(2025, 3, 10),
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("carboplatin 2025-01-06", "not a regimen"),
        ("aspirin@2025-01-06", "not in the drug catalogue"),
    ],
)
def test_bad_regimen_specs_say_why(text: str, reason: str) -> None:
    """A spec without `@start`, or with a drug outside the catalogue, is refused saying why."""
    with pytest.raises(ValueError, match=reason):
        parse_regimen(text)


def test_generated_late_relapse_evaluates_as_described() -> None:
    """Last carboplatin Mar 10 2025 (x4 from Jan 6), worsened Oct 15: 219 days."""
    spec = PatientSpec(
        id="gen-late",
        regimens=(
            parse_regimen("carboplatin+etoposide+atezolizumab@2025-01-06x4"),
            parse_regimen("atezolizumab@2025-03-31x4"),
        ),
        progressions=(date(2025, 10, 15),),
        ecog=1,
        labs=parse_labs(["anc=2.0", "platelets=210", "hemoglobin=121", "egfr=80", "inr=1.0"]),
    )
    result = run(spec)
    assert result.warnings == ()
    assert [(line.agents, line.maintenance_agents) for line in result.lines] == [
        (("atezolizumab", "carboplatin", "etoposide"), ("atezolizumab",))
    ]
    assert result.platinum is not None and result.platinum.interval_days == 219
    assert result.next_line == 2
    assert result.diagnosis.diagnosed == date(2024, 12, 30)  # a week before the first dose


def test_generated_third_line_gets_the_trial() -> None:
    """§10: a generated third-line patient gets the trial, possibly eligible without creatinine."""
    spec = PatientSpec(
        id="gen-third",
        regimens=(
            parse_regimen("carboplatin+etoposide@2025-01-06x4"),
            parse_regimen("topotecan@2025-06-02x4"),
        ),
        progressions=(date(2025, 5, 20), date(2025, 9, 15)),
        ecog=0,
        labs=parse_labs(["anc=2.0", "platelets=210", "hemoglobin=121", "egfr=80", "inr=1.0"]),
    )
    result = run(spec)
    assert result.next_line == 3
    (trial,) = result.trials
    # creatinine is not generated, so the verdict stays possibly-eligible
    assert {c.criterion: c.result for c in trial.criteria}["creatinine <= 1.5 x ULN"] == "unknown"
    assert trial.verdict == "possibly-eligible"


def test_relapse_conditions_and_death_are_written() -> None:
    """A generated relapse Condition is the progression; a generated death leaves no next line."""
    spec = PatientSpec(
        id="gen-dead",
        regimens=(parse_regimen("cisplatin+etoposide@2024-03-04x4"),),
        relapses=(date(2024, 9, 1),),
        stage="limited",
        deceased=date(2025, 1, 1),
    )
    result = run(spec)
    assert result.diagnosis.stage == "limited"
    assert result.progression is not None and result.progression.source == "Condition/c2"
    assert result.patient.deceased and result.next_line is None


def test_unknown_lab_is_refused() -> None:
    """A lab the generator does not know (ldh) is refused."""
    with pytest.raises(ValueError, match="unknown lab"):
        parse_labs(["ldh=300"])


def test_cli_writes_a_fixture_the_evaluator_reads(tmp_path, capsys) -> None:
    """One line makes a test case: sensitive relapse 219 days after Mar 10 2025."""
    import json

    from service.cli import main

    out = tmp_path / "late.json"
    argv = [
        "fixtures",
        "new",
        "late",
        "--regimen",
        "carboplatin+etoposide@2025-01-06x4",
        "--progression",
        "2025-10-15",
        "--ecog",
        "1",
        "--lab",
        "anc=2.0",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    capsys.readouterr()
    assert main(["evaluate", str(out), "--today", "2026-11-21"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["platinum"]["interval_days"] == 219
    assert result["next_line"] == 2
    assert result["warnings"] == []


def test_cli_refuses_a_name_that_is_not_an_id(capsys) -> None:
    """`fixtures new` with a name that is not a lowercase id: exit 2, saying so."""
    from service.cli import main

    assert main(["fixtures", "new", "Bad Name", "--out", "-"]) == 2
    assert "lowercase" in capsys.readouterr().err
