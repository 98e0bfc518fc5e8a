"""The cards' wording (cards/wording.toml): named templates, checked when they are read."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any, get_args

import pytest

import cards
from service.cards import order_cards, patient_view_cards
from service.engine import evaluate
from service.engine.model import CriterionResult, OptionReason, Verdict
from service.fhir import build_records, load_path
from service.knowledge import (
    DOCUMENTS,
    WORDING_FILE,
    Knowledge,
    load_knowledge,
    load_knowledge_from,
)
from service.knowledge.schema import unsourced
from service.knowledge.wording import placeholders, words_for
from tests.conftest import FIXTURES, edit, rejected

CARDS = Path(cards.__file__).parent
TODAY = date(2026, 11, 21)
BASE = "http://localhost:8080"


def cards_of(scenario: str, knowledge: Knowledge) -> list[dict[str, str]]:
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (record,) = build_records(resources, warnings=warnings)
    return patient_view_cards(evaluate(record, today=TODAY), base_url=BASE, knowledge=knowledge)


@pytest.mark.parametrize(
    ("section", "values"),
    [
        ("option_reasons", get_args(OptionReason)),
        ("trial.verdicts", get_args(Verdict)),
        ("trial.results", get_args(CriterionResult)),
    ],
)
def test_every_engine_value_a_card_words_has_its_words(section: str, values: tuple[str]) -> None:
    """Each OptionReason, Verdict and CriterionResult has its template: none renders blank."""
    found: Any = load_knowledge().wording
    for part in section.split("."):
        found = getattr(found, part)
    assert all(words_for(found, value) for value in values)


def test_a_placeholder_is_a_plain_name_and_double_braces_are_literal() -> None:
    """`{name}` fills in a value; `{{` is a brace; anything else is refused."""
    assert placeholders("{days} days {{not}} {when}") == {"days", "when"}
    for bad in ("{days:>3}", "{0}", "{}", "{a.b}", "{days!r}", "{days"):
        with pytest.raises(ValueError):
            placeholders(bad)


@pytest.mark.parametrize(
    ("old", "new", "field", "message"),
    [
        (
            'headline = "SCLC, {stage} stage: {lines}"',
            'headline = "SCLC, {stage} stage"',
            "summary.headline",
            "missing placeholder {lines}",
        ),
        (
            'no_readings = "no ECOG or laboratory values in the record"',
            'no_readings = "no values for {patient}"',
            "patient.no_readings",
            "unknown placeholder {patient}",
        ),
        (
            'stale = "(older than {days} days)"',
            'stale = "(older than {days:d} days)"',
            "patient.stale",
            "is not a placeholder",
        ),
        (
            'registry_link = "{nct_id} on ClinicalTrials.gov"',
            'registry_link = "{nct_id} on ClinicalTrials.gov"\nregistry = "x"',
            "trial.registry",
            "Extra inputs are not permitted",
        ),
        ('full_evidence = "Evidence"\n', "", "options.full_evidence", "Field required"),
        (
            'first_line = ["002_7502c6c1fab9d4d0.txt"]',
            'first_line = ["005_x.txt"]',
            "cited.first_line[0]",
            "Input should be",
        ),
    ],
    ids=["missing", "unknown", "format-spec", "unknown-template", "no-template", "document"],
)
def test_a_template_fault_is_a_load_error_naming_the_file_and_field(
    copy: Path, old: str, new: str, field: str, message: str
) -> None:
    """A missing or unknown placeholder, an unknown or missing template: the load fails."""
    edit(copy / WORDING_FILE, old, new)
    error = rejected(copy)
    assert (WORDING_FILE, field) == (error.file, error.field)
    assert message in str(error)


def test_a_missing_wording_file_is_a_load_error(copy: Path) -> None:
    """Without wording.toml no card can be worded: the load fails, naming the file."""
    (copy / WORDING_FILE).unlink()
    assert WORDING_FILE == rejected(copy).file


def test_a_document_the_wording_cites_needs_its_source() -> None:
    """The summary's documents, like an option's, must each have a source: the loader
    names the first one that has none (every document is also cited by an option, so a
    source missing from sources.toml is found there first)."""
    knowledge = load_knowledge()
    without_000 = [s for s in knowledge.sources if s.document != DOCUMENTS[0]]
    found = unsourced([(WORDING_FILE, knowledge.wording)], without_000)
    assert found == (WORDING_FILE, "cited.platinum_interval[0]", DOCUMENTS[0])
    assert unsourced([(WORDING_FILE, knowledge.wording)], knowledge.sources) is None


def test_a_wording_change_is_a_data_change(copy: Path) -> None:
    """Edited words reach the cards with no code change, values still filled in."""
    edit(copy / WORDING_FILE, 'lines_title = "Lines of therapy"', 'lines_title = "Treatment lines"')
    edit(
        copy / WORDING_FILE,
        'no_relapse_summary = "{name}: no relapse is recorded"',
        'no_relapse_summary = "{name}: no relapse on record"',
    )
    knowledge = load_knowledge_from(copy)
    (summary,) = cards_of("ongoing-first-line", knowledge)
    assert "**Treatment lines**\n- **Line 1**" in summary["detail"]
    resources, warnings = load_path(FIXTURES / "ongoing-first-line.json")
    (record,) = build_records(resources, warnings=warnings)
    evaluation = evaluate(record, today=TODAY)
    (card,) = order_cards(evaluation, ["topotecan"], base_url=BASE, knowledge=knowledge)
    assert card["summary"] == "Topotecan: no relapse on record"


def test_an_options_reason_is_worded_by_the_knowledge_base() -> None:
    """On the options card, the re-challenge's status with [option_status]'s words, and no
    "shown because" filler (v3); on a drafted order's card, [option_reasons]' sentence, or
    the option's own `when` (nab-paclitaxel plus anlotinib after chemo-immunotherapy)."""
    knowledge = load_knowledge()
    _, options = cards_of("second-line-decision-after-chemo-io", knowledge)
    reasons = knowledge.wording.option_reasons
    why = knowledge.wording.option_status.sensitive_below_window
    assert f"consider ({why.format(interval='154 days', window_days=180)})." in options["detail"]
    assert reasons.after_platinum not in options["detail"]
    annab = knowledge.option("nab-paclitaxel-anlotinib")
    assert annab.when not in options["detail"]
    resources, warnings = load_path(FIXTURES / "second-line-decision-after-chemo-io.json")
    (record,) = build_records(resources, warnings=warnings)
    evaluation = evaluate(record, today=TODAY)
    agents = ["lurbinectedin", "anlotinib", "nab-paclitaxel"]
    lurbinectedin, *_ = order_cards(evaluation, agents, base_url=BASE, knowledge=knowledge)
    assert f"(consider). {reasons.after_platinum} " in lurbinectedin["detail"]
