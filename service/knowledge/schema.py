"""The models of the knowledge base: options (§9), trials (§10), sources, the whole.

An option file gives its name on the options card (`short_title`), its regimen, when the
product shows it, its key figure (one short line, `Option.key_figure_for(next_line)`)
with the study and design it comes from (`Option.key_study_for(next_line)`), the
options card's availability note and its sentence after first-line chemo-immunotherapy
(each an evidence bullet, with its document), evidence bullets with the figures they quote
(a bullet may apply at one line only: `Option.evidence_for(next_line)` gives those for a
line), whom the evidence's study enrolled where a document says so (`population`), its
toxicity (`safety`) apart from access and regulatory status (`availability`), and
citations of the source documents by file name; every cited document has its source.
The cards' words are `Wording` (`service.knowledge.wording`), part of the whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Annotated, Literal, Self, get_args

from pydantic import Field, StringConstraints, field_validator, model_validator

from service.engine.options import OPTION_IDS
from service.knowledge.base import (
    DocumentName,
    Entry,
    KeyFigure,
    NonEmpty,
    PartialDate,
    ShortLabel,
    ShortTitle,
    SourceId,
    Text,
    Url,
)
from service.knowledge.wording import Wording

__all__ = [
    "EVIDENCE_LINES",
    "Citation",
    "Evidence",
    "EvidenceLine",
    "Knowledge",
    "Option",
    "Source",
    "Sources",
    "Trial",
    "TrialCriterion",
    "unsourced",
]

# line. Options are shown from line 2, so two values cover every `next_line`.
EvidenceLine = Literal["second", "third-or-later"]
EVIDENCE_LINES: tuple[str, ...] = get_args(EvidenceLine)


def _evidence_line(next_line: int) -> EvidenceLine:
    if next_line < 2:
        raise ValueError(f"options are shown from line 2; next_line is {next_line}")
    return "second" if next_line == 2 else "third-or-later"


class Evidence(Entry):
    """One evidence bullet: own words, every figure it states quoted as in `document`.

    `line` says at which line the bullet applies ("second", "third-or-later"); None (the
    default) means at every line.
    """

    text: Text
    numbers: tuple[Text, ...] = ()
    document: DocumentName
    line: EvidenceLine | None = None


class Citation(Entry):
    """A source document; `url` only where the document itself gives one."""

    document: DocumentName
    label: Text
    url: Url | None = None


class Source(Entry):
    """A source document as a reader sees it: what it is, who published it, when, where.

    `title`, `publisher` and `date` are as the document itself gives them (a date as
    precise as it is: "2023", "2024-12-06"); `publisher` or `date` is left out where the
    document names none. `short_label` (at most 40 characters) is what a card shows as
    the source; `url` only where the public address was verified.
    """

    id: SourceId
    document: DocumentName
    title: Text
    publisher: Text | None = None
    date: PartialDate | None = None
    short_label: ShortLabel
    url: Url | None = None


def _one_each(sources: tuple[Source, ...]) -> None:
    for key in ("id", "document"):
        values = [getattr(source, key) for source in sources]
        if len(set(values)) != len(values):
            raise ValueError(f"sources: two sources have the same {key}")


class Sources(Entry):
    """`sources.toml`: the sources, each with its own id and document."""

    sources: NonEmpty[Source]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        _one_each(self.sources)
        return self


def _cited(citations: Iterable[Citation], used: Iterable[tuple[str, str]]) -> None:
    documents = [c.document for c in citations]
    if len(set(documents)) != len(documents):
        raise ValueError("citations: a document is cited twice")
    for field, document in used:
        if document not in documents:
            raise ValueError(f"{field}: {document} is not among the citations")


# Words of access, cost and regulatory status: they belong under `availability`, never
# under `safety`, which is about toxicity only.
_AVAILABILITY_WORDS = re.compile(
    r"\b(access\w*|approv\w*|availab\w*|afford\w*|reimburs\w*|licen[cs]\w*|"
    r"regulat\w*|marketed|price\w*|cost\w*)\b",
    re.IGNORECASE,
)


class Option(Entry):
    """One option of §9: what it is, when it is shown, its key figure, evidence and sources.

    `short_title` is the option's name on the options card (its ranked line and its
    entry; at most 30 characters), `title` its full name elsewhere. `key_figure` is the one
    figure a card shows for the option (at most 90 characters), taken from
    `key_figure_document`; `key_study` names the study it comes from with its design
    ("Baize et al. 2020, randomised phase 3"), where there is one. `key_figure_later` and
    `key_study_later`, where the evidence differs from the third line on, replace them
    there (same document): `key_figure_for(next_line)`, `key_study_for(next_line)`.
    `safety` is toxicity only; access, cost and regulatory status go under `availability`,
    whose one short sentence for the options card is `availability_note` (§9 v3).
    `after_chemo_immunotherapy` is what the options card adds after first-line
    chemo-immunotherapy (at its `line` only, where it gives one).
    """

    id: Text
    title: Text
    short_title: ShortTitle
    regimen: Text
    when: Text
    key_figure: KeyFigure
    key_study: Text | None = None
    key_figure_later: KeyFigure | None = None
    key_study_later: Text | None = None
    key_figure_document: DocumentName
    availability: Text | None = None
    availability_note: Evidence | None = None
    after_chemo_immunotherapy: Evidence | None = None
    population: Text | None = None  # whom the evidence's study enrolled, where it says
    safety: tuple[Text, ...] = ()
    notes: tuple[Text, ...] = ()
    evidence: NonEmpty[Evidence]
    citations: NonEmpty[Citation]

    @field_validator("safety")
    @classmethod
    def _toxicity_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for i, text in enumerate(value):
            if found := _AVAILABILITY_WORDS.search(text):
                raise ValueError(
                    f"safety[{i}] speaks of {found.group()!r}: access, cost and approval "
                    "belong under availability"
                )
        return value

    @field_validator("id")
    @classmethod
    def _known_id(cls, value: str) -> str:
        if value not in OPTION_IDS:
            raise ValueError(f"unknown option id {value!r} (known: {', '.join(OPTION_IDS)})")
        return value

    @model_validator(mode="after")
    def _evidence_cited(self) -> Self:
        used = [(f"evidence[{i}].document", e.document) for i, e in enumerate(self.evidence)]
        used.append(("key_figure_document", self.key_figure_document))
        for field in ("availability_note", "after_chemo_immunotherapy"):
            if (statement := getattr(self, field)) is not None:
                used.append((f"{field}.document", statement.document))
        _cited(self.citations, used)
        return self

    @model_validator(mode="after")
    def _later_study_with_its_figure(self) -> Self:
        if self.key_study_later and not self.key_figure_later:
            raise ValueError("key_study_later: there is no key_figure_later for it to name")
        return self

    @model_validator(mode="after")
    def _evidence_at_every_line(self) -> Self:
        # A card shown at any line must have evidence to show there.
        for line in EVIDENCE_LINES:
            if not any(item.line in (None, line) for item in self.evidence):
                raise ValueError(f"evidence: no bullet applies at the {line!r} line")
        return self

    def evidence_for(self, next_line: int) -> tuple[Evidence, ...]:
        """The bullets that apply at `next_line` (2: "second", 3 or more: "third-or-later").

        Bullets without a `line` apply at every line. Options are shown from line 2, so a
        `next_line` below 2 is a ValueError.
        """
        line = _evidence_line(next_line)
        return tuple(item for item in self.evidence if item.line in (None, line))

    def key_figure_for(self, next_line: int) -> str:
        """The key figure at `next_line`: `key_figure_later` from line 3 where there is one.

        Like `evidence_for`, a `next_line` below 2 is a ValueError.
        """
        if _evidence_line(next_line) == "third-or-later" and self.key_figure_later:
            return self.key_figure_later
        return self.key_figure

    def key_study_for(self, next_line: int) -> str | None:
        """The study of `key_figure_for(next_line)`, with its design, if it names one."""
        if _evidence_line(next_line) == "third-or-later" and self.key_figure_later:
            return self.key_study_later
        return self.key_study

    def after_chemo_immunotherapy_for(self, next_line: int) -> Evidence | None:
        """What the options card adds at `next_line` after first-line chemo-immunotherapy."""
        statement = self.after_chemo_immunotherapy
        if statement is None or statement.line not in (None, _evidence_line(next_line)):
            return None
        return statement


class TrialCriterion(Entry):
    """A criterion of the trial: its short name (for a pre-screened one, the engine's) and
    the trial's own wording."""

    criterion: Text
    description: Text


class Trial(Entry):
    """A trial of §10 as its listing describes it, with the criteria the engine checks."""

    nct_id: Annotated[str, StringConstraints(pattern=r"^NCT\d{8}$")]
    title: Text
    phase: Text
    status: Text  # as of the cited listing
    participants: Annotated[int, Field(gt=0)]
    start: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}(-\d{2})?$")]
    url: Url
    regimen: Text
    primary_endpoint: Text
    criteria: NonEmpty[TrialCriterion]
    # Criteria the engine does not pre-screen (a FHIR record cannot tell them): the card
    # names them as not checked (§10 v3).
    not_prescreened: tuple[TrialCriterion, ...] = ()
    notes: tuple[Text, ...] = ()
    citations: NonEmpty[Citation]

    @model_validator(mode="after")
    def _criteria_unique(self) -> Self:
        names = [c.criterion for c in (*self.criteria, *self.not_prescreened)]
        if len(set(names)) != len(names):
            raise ValueError("criteria, not_prescreened: a criterion is listed twice")
        _cited(self.citations, ())
        return self


def _documents_used(item: Option | Trial | Wording) -> Iterator[tuple[str, str]]:
    """(field, document) for every document `item` names: citations, key figure, cited."""
    if isinstance(item, Wording):
        yield from item.documents()
        return
    for i, citation in enumerate(item.citations):
        yield f"citations[{i}].document", citation.document
    if isinstance(item, Option):
        yield "key_figure_document", item.key_figure_document
        for field in ("availability_note", "after_chemo_immunotherapy"):
            if (statement := getattr(item, field)) is not None:
                yield f"{field}.document", statement.document


def unsourced(
    items: Iterable[tuple[str, Option | Trial | Wording]], sources: Iterable[Source]
) -> tuple[str, str, str] | None:
    """The first (where, field, document) naming a document that has no source, if any."""
    described = {source.document for source in sources}
    for where, item in items:
        for field, document in _documents_used(item):
            if document not in described:
                return where, field, document
    return None


class Knowledge(Entry):
    """The options (the loader gives all, in the order of `OPTION_IDS`), trials, sources,
    and the cards' wording.

    Every document an option or trial cites has its source (so a part of the knowledge,
    a few options with their sources, is a `Knowledge` too); the loader also holds the
    documents the wording cites to theirs.
    """

    options: NonEmpty[Option]
    trials: tuple[Trial, ...] = ()
    sources: NonEmpty[Source]
    wording: Wording

    @model_validator(mode="after")
    def _every_document_has_its_source(self) -> Self:
        _one_each(self.sources)
        items: list[tuple[str, Option | Trial | Wording]] = []
        items += [(f"options[{i}]", option) for i, option in enumerate(self.options)]
        items += [(f"trials[{i}]", trial) for i, trial in enumerate(self.trials)]
        if found := unsourced(items, self.sources):
            where, field, document = found
            raise ValueError(f"{where}.{field}: {document} has no source")
        return self

    def option(self, option_id: str) -> Option:
        """The option with this id."""
        for option in self.options:
            if option.id == option_id:
                return option
        raise KeyError(option_id)

    def trial(self, nct_id: str) -> Trial:
        """The trial with this NCT id."""
        for trial in self.trials:
            if trial.nct_id == nct_id:
                return trial
        raise KeyError(nct_id)

    def source(self, source_id: str) -> Source:
        """The source with this id (e.g. "tian-2026-annab")."""
        for source in self.sources:
            if source.id == source_id:
                return source
        raise KeyError(source_id)

    def source_for(self, document: str) -> Source:
        """The source of this document file (a `Citation.document`)."""
        for source in self.sources:
            if source.document == document:
                return source
        raise KeyError(document)
