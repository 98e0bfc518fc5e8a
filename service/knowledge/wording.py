"""The words of the cards: named templates of `wording.toml`, checked when it is read.

Every sentence a clinician reads on a card is a template here, filled with values (dates,
numbers, names) by `service.cards`; a wording change is a data change. Each field says
which placeholders its template fills in (`uses`), and a template must use exactly
those: a missing one would drop a value unseen, an unknown one could not be filled, so
either is a load error naming the file and the field. A placeholder is a plain
`{name}`; `{{` and `}}` are literal braces.
"""

from __future__ import annotations

import string
from collections.abc import Iterator, Sequence
from typing import Annotated, Self

from pydantic import AfterValidator, StringConstraints, model_validator

from service.knowledge.base import DocumentName, Entry, NonEmpty, Text

__all__ = [
    "WORDING_FILE",
    "OverrideReason",
    "Wording",
    "placeholders",
    "uses",
    "words_for",
]

WORDING_FILE = "wording.toml"

_FORMATTER = string.Formatter()


def placeholders(template: str) -> frozenset[str]:
    """The names `template` fills in; a ValueError for a brace that is not `{name}`."""
    names: set[str] = set()
    for _, name, spec, conversion in _FORMATTER.parse(template):  # unmatched brace: ValueError
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise ValueError(
                f"{{{name}}} is not a placeholder: write {{name}}, or {{{{ for a brace"
            )
        names.add(name)
    return frozenset(names)


def _braced(names: Sequence[str]) -> str:
    return ", ".join(f"{{{name}}}" for name in names)


def uses(*names: str) -> AfterValidator:
    """Validation of a template that must fill in exactly `names`."""
    expected = frozenset(names)

    def check(template: str) -> str:
        found = placeholders(template)
        problems = []
        if unknown := sorted(found - expected):
            problems.append(f"unknown placeholder {_braced(unknown)}")
        if missing := sorted(expected - found):
            problems.append(f"missing placeholder {_braced(missing)}")
        if problems:
            takes = _braced(sorted(expected)) or "none"
            raise ValueError(f"{'; '.join(problems)} (this template takes {takes})")
        return template

    return AfterValidator(check)


# Words without a placeholder.
Words = Annotated[Text, uses()]


def words_for(section: Entry, engine_id: str) -> str:
    """The words a section gives an engine value: its field of that name, hyphens as
    underscores (`words_for(wording.trial.verdicts, "possibly-eligible")`)."""
    return str(getattr(section, engine_id.replace("-", "_")))


class CardWords(Entry):
    """What every card may say."""

    disclaimer: Words
    unknown_date: Words
    unknown_stage: Words
    source_documents: Words
    timeline_link: Words


class Cited(Entry):
    """The documents a card cites where no option or trial does."""

    platinum_interval: NonEmpty[DocumentName]
    first_line: NonEmpty[DocumentName]


class OverrideReason(Entry):
    """A reason for setting a card aside: its code (sent back in feedback) and words."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z]+(?:-[a-z]+)*$")]
    display: Words


class SummaryWords(Entry):
    """The summary card's headline and section titles (§11)."""

    headline: Annotated[Text, uses("stage", "lines")]
    headline_short: Annotated[Text, uses("stage")]
    one_line: Annotated[Text, uses("count")]
    lines: Annotated[Text, uses("count")]
    at_decision: Annotated[Text, uses("line", "next_line")]
    at_decision_short: Annotated[Text, uses("next_line")]
    line_ongoing: Annotated[Text, uses("line")]
    line_ended: Annotated[Text, uses("line", "date")]
    interval_class: Annotated[Text, uses("sensitivity")]
    interval_refractory: Annotated[Text, uses("estimated")]
    interval_free: Annotated[Text, uses("days", "estimated", "sensitivity")]
    estimated_mark: Words
    interval_annab: Annotated[Text, uses("annab_days")]
    poor_performance: Annotated[Text, uses("reading")]
    where: Annotated[Text, uses("standing")]
    lines_title: Words
    check_title: Words
    radiotherapy: Annotated[Text, uses("items")]
    radiotherapy_item: Annotated[Text, uses("name", "when", "source")]
    radiotherapy_more: Annotated[Text, uses("count")]
    undated: Words
    period: Annotated[Text, uses("start", "end")]


class StandingWords(Entry):
    """Where the patient stands (§8)."""

    proxy: Annotated[Text, uses("after", "line", "date", "next_line")]
    after_line: Annotated[Text, uses("line")]
    after_first_line: Words
    dated: Annotated[Text, uses("date", "source", "line", "next_line")]
    partial_date: Annotated[Text, uses("date", "source", "line", "next_line")]
    undated: Annotated[Text, uses("line", "next_line")]
    ongoing: Annotated[Text, uses("line", "start", "end")]
    ended: Annotated[Text, uses("line", "end")]


class HistoryWords(Entry):
    """The diagnosis (§2), the lines (§5) and the latest progression (§6)."""

    diagnosis: Annotated[Text, uses("stage", "date")]
    staged_at_relapse: Annotated[Text, uses("condition", "date")]
    not_restaged: Annotated[Text, uses("condition", "date")]
    clinical_status: Annotated[Text, uses("status")]
    line: Annotated[Text, uses("number", "start", "end", "agents")]
    line_ongoing: Annotated[Text, uses("number", "start", "end", "agents")]
    maintenance: Annotated[Text, uses("agents")]
    progression_undated: Annotated[Text, uses("source")]
    progression: Annotated[Text, uses("date", "source", "how")]
    how_proxy: Words
    how_partial_date: Words
    how_recorded: Words


class PlatinumWords(Entry):
    """The platinum-free interval (§7)."""

    none: Words
    last_dose: Annotated[Text, uses("date")]
    progression: Annotated[Text, uses("date")]
    progression_estimated: Annotated[Text, uses("date")]
    refractory: Annotated[Text, uses("interval")]
    free_interval: Annotated[Text, uses("days", "sensitivity")]
    both_definitions: Annotated[Text, uses("sensitive_days", "annab_days")]
    under_sensitive: Annotated[Text, uses("sensitive_days")]
    rechallenge_window: Annotated[Text, uses("window_days")]
    estimated: Words
    undated_relapse: Words
    no_progression: Annotated[Text, uses("days")]
    interval_unknown: Words
    during_platinum: Annotated[Text, uses("when")]
    before_last_dose: Annotated[Text, uses("days")]
    on_last_dose: Words
    after_last_dose: Annotated[Text, uses("days")]
    one_day: Words
    days: Annotated[Text, uses("count")]


class PatientWords(Entry):
    """Age, ECOG and labs (§10, §11)."""

    heading: Annotated[Text, uses("items")]
    age: Annotated[Text, uses("age")]
    age_estimated: Annotated[Text, uses("age")]
    age_unknown: Words
    readings: Annotated[Text, uses("values", "day")]
    stale: Annotated[Text, uses("days")]
    no_readings: Words
    poor_performance: Annotated[Text, uses("reading")]


class CheckWords(Entry):
    """One item of "Check the record" (§11) per kind of record issue."""

    warning: Annotated[Text, uses("warning")]
    option_withheld: Annotated[Text, uses("option", "records")]
    estimated_progression: Annotated[Text, uses("date", "records")]
    undated_relapse: Annotated[Text, uses("records")]
    possibly_received: Annotated[Text, uses("records", "next_line")]
    more_records: Annotated[Text, uses("count")]
    more_of_kind: Annotated[Text, uses("count", "kind")]


class NoTherapyWords(Entry):
    """SCLC with no systemic therapy on record (§8)."""

    summary: Annotated[Text, uses("stage")]
    detail: Words
    summary_procedures: Annotated[Text, uses("stage")]
    detail_procedures: Words


class OptionsWords(Entry):
    """The options card (§9)."""

    summary: Annotated[Text, uses("line", "title", "status")]
    summary_more: Annotated[Text, uses("line", "title", "status", "more")]
    heading: Annotated[Text, uses("line", "names")]
    entry: Annotated[Text, uses("title", "status", "figure", "study")]
    entry_with_reason: Annotated[Text, uses("title", "status", "reason", "figure", "study")]
    cited: Annotated[Text, uses("statement", "source")]
    full_evidence: Words
    study_population: Annotated[Text, uses("notes")]
    other_cancer: Annotated[Text, uses("notes")]
    study_population_cut: Annotated[Text, uses("notes")]
    notes_cut: Words
    evidence_link: Annotated[Text, uses("line")]


class OptionStatusWords(Entry):
    """Why the platinum re-challenge has its status, on the options card: one template per
    `OptionReason` that explains a status (§7, §9)."""

    rechallenge_window: Annotated[Text, uses("interval")]
    rechallenge_window_later_line: Words
    rechallenge_window_poor_performance: Words
    sensitive_below_window: Annotated[Text, uses("interval", "window_days")]


class OptionReasonWords(Entry):
    """Why an option is shown: one template per `OptionReason` of the engine, and the
    interval they fill in."""

    rechallenge_window: Annotated[Text, uses("interval", "window_days")]
    rechallenge_window_later_line: Annotated[Text, uses("interval", "window_days")]
    rechallenge_window_poor_performance: Annotated[Text, uses("interval", "window_days")]
    sensitive_below_window: Annotated[Text, uses("interval", "sensitive_days", "annab_days")]
    after_platinum: Words
    after_chemo_immunotherapy: Annotated[Text, uses("when")]
    interval: Annotated[Text, uses("days")]
    interval_estimated: Annotated[Text, uses("days")]


class VerdictWords(Entry):
    """A pre-screen verdict in words, one per `Verdict` of the engine."""

    eligible: Words
    possibly_eligible: Words
    ineligible: Words


class ResultWords(Entry):
    """A criterion's result in words, one per `CriterionResult`: a row title of the trial
    card."""

    met: Words
    not_met: Words
    unknown: Words


class TrialWords(Entry):
    """The trial pre-screen card (§10)."""

    summary: Annotated[Text, uses("nct_id", "phase", "verdict")]
    eligible_summary: Annotated[Text, uses("verdict", "count")]
    heading: Annotated[Text, uses("verdict")]
    eligible_heading: Annotated[Text, uses("verdict", "not_checked")]
    status: Annotated[Text, uses("status", "start")]
    result: Annotated[Text, uses("result", "criteria")]
    not_in_record: Annotated[Text, uses("criteria")]
    not_checked: Annotated[Text, uses("not_checked")]
    registry_link: Annotated[Text, uses("nct_id")]
    verdicts: VerdictWords
    results: ResultWords


class OrderWords(Entry):
    """Drafted orders (order-select / order-sign): one pair per engine verdict."""

    option_summary: Annotated[Text, uses("title", "line", "status")]
    option_detail: Annotated[Text, uses("title", "line", "status", "reason", "figure", "study")]
    safety_title: Words
    evidence_link: Annotated[Text, uses("title")]
    early_platinum_relapse_summary: Annotated[Text, uses("name", "sensitivity")]
    early_platinum_relapse_detail: Annotated[Text, uses("interval", "sensitive_days")]
    refractory_relapse_detail: Annotated[Text, uses("interval")]
    already_given_summary: Annotated[Text, uses("name", "line")]
    already_given_detail: Annotated[Text, uses("name", "line", "start", "end")]
    no_relapse_summary: Annotated[Text, uses("name")]
    no_relapse_detail: Annotated[Text, uses("name")]
    not_an_option_summary: Annotated[Text, uses("name", "line")]
    not_an_option_detail: Annotated[Text, uses("name", "line")]


class ReadingWords(Entry):
    """An ECOG, laboratory or blood-pressure value, with or without its date."""

    value: Annotated[Text, uses("name", "value", "unit")]
    value_unitless: Annotated[Text, uses("name", "value")]
    unread: Annotated[Text, uses("name", "unit")]
    unread_unitless: Annotated[Text, uses("name")]
    dated: Annotated[Text, uses("reading", "day")]


class NoteWords(Entry):
    """The engine's remarks (`service.engine.model.Note`), by kind: study-population
    notes (§9) and what a trial criterion's value is (§10)."""

    stage_limited: Annotated[Text, uses("condition")]
    stage_limited_at_relapse: Annotated[Text, uses("condition")]
    stage_unknown: Words
    annab_stage: Annotated[Text, uses("stage")]
    tarlatamab_stage: Annotated[Text, uses("stage")]
    age_missing: Words
    age_outside: Annotated[Text, uses("age", "low", "high")]
    study_reading_stale: Annotated[Text, uses("reading", "days", "criterion")]
    study_reading_unread: Annotated[Text, uses("reading", "criterion")]
    study_reading_outside: Annotated[Text, uses("reading", "criterion")]
    study_missing: Annotated[Text, uses("names")]
    prior_antiangiogenic: Annotated[Text, uses("treatments")]
    other_cancer_drug: Annotated[Text, uses("agent", "condition", "year")]
    pre_diagnosis_drug: Annotated[Text, uses("agent", "year")]
    criterion_ecog: Annotated[Text, uses("most")]
    criterion_anc: Annotated[Text, uses("least")]
    criterion_platelets: Annotated[Text, uses("least")]
    criterion_wbc: Annotated[Text, uses("least")]
    criterion_bilirubin: Annotated[Text, uses("most")]
    criterion_albumin: Annotated[Text, uses("least")]
    criterion_creatinine: Annotated[Text, uses("most")]
    criterion_blood_pressure: Annotated[Text, uses("systolic", "diastolic")]
    absent: Annotated[Text, uses("name")]
    stale: Annotated[Text, uses("reading", "days")]
    reading: Annotated[Text, uses("reading")]
    no_reference_range: Annotated[Text, uses("reading")]
    other_unit: Annotated[Text, uses("reading")]


class Wording(Entry):
    """`wording.toml`: the cards' words, section by section, and the documents they cite."""

    card: CardWords
    cited: Cited
    override_reasons: NonEmpty[OverrideReason]
    summary: SummaryWords
    standing: StandingWords
    history: HistoryWords
    platinum: PlatinumWords
    patient: PatientWords
    check: CheckWords
    no_therapy: NoTherapyWords
    options: OptionsWords
    option_status: OptionStatusWords
    option_reasons: OptionReasonWords
    trial: TrialWords
    orders: OrderWords
    readings: ReadingWords
    notes: NoteWords

    @model_validator(mode="after")
    def _codes_unique(self) -> Self:
        codes = [reason.code for reason in self.override_reasons]
        if len(set(codes)) != len(codes):
            raise ValueError("override_reasons: two reasons have the same code")
        return self

    def documents(self) -> Iterator[tuple[str, str]]:
        """(field, document) for every document the wording cites."""
        for key in ("platinum_interval", "first_line"):
            for i, document in enumerate(getattr(self.cited, key)):
                yield f"cited.{key}[{i}]", document

    def texts(self) -> Iterator[tuple[str, str]]:
        """(field, text) for every template, e.g. ("summary.headline", "SCLC, {stage} …")."""
        yield from _texts(self.model_dump(exclude={"cited"}), "")


def _texts(value: object, where: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _texts(item, f"{where}.{key}" if where else key)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _texts(item, f"{where}[{i}]")
