"""§11 "Check the record": the engine's record issues, each with the records it names."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from service.engine import evaluate
from service.engine.model import Evaluation, RecordIssue
from service.fhir import build_records, load_path
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)


def evaluation_of(scenario: str) -> Evaluation:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return evaluate(record, today=TODAY)


def test_an_undated_drug_is_a_warning_a_withheld_option_and_a_possibly_received_record() -> None:
    """§1: undated tarlatamab: its warning, the option it hides, and line 2 maybe too low."""
    issues = evaluation_of("undated-tarlatamab").record_issues
    ms4 = ("MedicationStatement/ms4",)
    assert [(i.kind, i.records) for i in issues] == [
        ("warning", ms4),
        ("option-withheld", ms4),
        ("possibly-received", ms4),
    ]
    assert issues[1].option == "tarlatamab"
    assert issues[2].next_line == 2


def test_a_proxy_progression_names_the_next_lines_record_and_its_day() -> None:
    """§6.3: the start of the next line stands in for the progression date."""
    (issue,) = evaluation_of("proxy-progression").record_issues
    assert issue == RecordIssue(
        kind="estimated-progression", records=("MedicationStatement/ms4",), day=date(2026, 9, 1)
    )


def test_an_undated_relapse_names_its_condition() -> None:
    """§6.2: a relapse without a usable date."""
    (issue,) = evaluation_of("undated-relapse").record_issues
    assert issue == RecordIssue(kind="undated-relapse", records=("Condition/c1",))


@pytest.mark.parametrize(
    ("warning", "records"),
    [
        ("MedicationStatement/ms7: no usable date", ("MedicationStatement/ms7",)),
        (
            "MedicationStatement/ms1 names no reason and may belong to Condition/c2.",
            ("MedicationStatement/ms1", "Condition/c2"),
        ),
        ("unit x10^9/L in mL/min: no record named", ()),
    ],
)
def test_each_warning_is_an_issue_naming_the_records_in_its_text(
    warning: str, records: tuple[str, ...]
) -> None:
    """Every warning is an item; its records are those its text names, in order."""
    evaluation = replace(evaluation_of("third-line"), warnings=(warning,))
    assert evaluation.record_issues == (
        RecordIssue(kind="warning", records=records, warning=warning),
    )


def test_a_clean_record_has_nothing_to_check() -> None:
    """third-line: every record read, every date known."""
    assert evaluation_of("third-line").record_issues == ()
