"""The knowledge base: option and trial cards read from the `cards` package.

`cards/` holds one TOML file per option of CLINICAL_RULES §9 (`option-<id>.toml`), one
per trial of §10 (`trial-<NCT id>.toml`) and `sources.toml`, which describes each source
document (`../shared/docs/`) for a reader: title, publisher, date, a short label and,
where verified, its public URL. An option file gives its regimen, when the product shows
it, its key figure (one short line, `Option.key_figure_for(next_line)`), evidence bullets
with the figures they quote (a bullet may apply at one line only:
`Option.evidence_for(next_line)` gives those for a line), whom the evidence's study
enrolled where a document says so (`population`), its toxicity (`safety`) apart from
access and regulatory status (`availability`), and citations of the source documents
by file name; every cited document must have its source.

No text a clinician reads names a document file (`003_….txt`): cards and pages show
a source's `short_label` or `title` instead.

- `load_knowledge()` reads the shipped files once and validates them; any fault is a
  `KnowledgeError` naming the file and the field.
- `load_knowledge_from(directory)` reads and validates any folder of such files.

This module holds the models and the loader only. That every figure a card quotes
occurs in the document it cites is checked outside the runtime package, against the
documents themselves, by `tools.check_knowledge` (`make check-knowledge`).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Iterator
from datetime import date
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Annotated, Literal, Self, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from service.engine.options import OPTION_IDS
from service.engine.rules import TRIAL_ID, TRIAL_URL
from service.engine.trials import criterion_names
from service.errors import SclcCdsError

__all__ = [
    "DOCUMENTS",
    "EVIDENCE_LINES",
    "KEY_FIGURE_MAX",
    "SHORT_LABEL_MAX",
    "SOURCES_FILE",
    "Citation",
    "Evidence",
    "EvidenceLine",
    "Knowledge",
    "KnowledgeError",
    "Option",
    "Source",
    "Trial",
    "TrialCriterion",
    "engine_criteria",
    "load_knowledge",
    "load_knowledge_from",
]

# The five source documents (../shared/docs/INDEX.md); a card cites them by file name.
DocumentName = Literal[
    "000_e1d9681268751f05.txt",
    "001_b4f620245f367cee.txt",
    "002_7502c6c1fab9d4d0.txt",
    "003_4cac35924055ddfc.txt",
    "004_f50c1dc1e9887857.txt",
]
DOCUMENTS: tuple[str, ...] = get_args(DocumentName)

# The trials the engine pre-screens (§10), with their registry pages.
ENGINE_TRIALS = {TRIAL_ID: TRIAL_URL}

# A document's file name, in any text: the documents are cited by file name, but a reader
# is never shown one (`Source.short_label` and `Source.title` stand for it).
_FILE_NAME = re.compile(r"\w\.txt\b", re.IGNORECASE)


def _no_file_name(value: str) -> str:
    if _FILE_NAME.search(value):
        raise ValueError("must not name a document file (a source's short_label stands for it)")
    return value


def _line(max_length: int | None = None) -> StringConstraints:
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Text = Annotated[str, _line(), AfterValidator(_no_file_name)]
Url = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
# The one line a card shows beside an option's name: its single most useful figure.
KEY_FIGURE_MAX = 90
KeyFigure = Annotated[str, _line(KEY_FIGURE_MAX), AfterValidator(_no_file_name)]
# What a card shows as an item's source, e.g. "Tian et al. 2026 (ANNAB)".
SHORT_LABEL_MAX = 40
ShortLabel = Annotated[str, _line(SHORT_LABEL_MAX), AfterValidator(_no_file_name)]
SourceId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$")]


def _calendar_date(value: str) -> str:
    # "2023", "2026-06" or "2024-12-06": as precise as the document is, and a real date.
    year, month, day = (value.split("-") + ["01", "01"])[:3]
    date(int(year), int(month), int(day))  # ValueError for month 13, day 31 in June, ...
    return value


PartialDate = Annotated[
    str,
    StringConstraints(pattern=r"^\d{4}(-\d{2}(-\d{2})?)?$"),
    AfterValidator(_calendar_date),
]
T = TypeVar("T")
NonEmpty = Annotated[tuple[T, ...], Field(min_length=1)]


class KnowledgeError(SclcCdsError):
    """A knowledge-base file is missing or invalid; `file` and `field` say where."""

    def __init__(self, message: str, *, file: str, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


class _Card(BaseModel):
    """Frozen, closed: an unknown key or an empty string or list is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        # An optional list may be left out, but one that is written must say something.
        if isinstance(value, list | tuple) and not value:
            raise ValueError("must not be empty (leave the key out instead)")
        return value


# The line a bullet speaks to (CLINICAL_RULES §9); a bullet without one applies at every
# line. Options are shown from line 2, so two values cover every `next_line`.
EvidenceLine = Literal["second", "third-or-later"]
EVIDENCE_LINES: tuple[str, ...] = get_args(EvidenceLine)


def _evidence_line(next_line: int) -> EvidenceLine:
    if next_line < 2:
        raise ValueError(f"options are shown from line 2; next_line is {next_line}")
    return "second" if next_line == 2 else "third-or-later"


class Evidence(_Card):
    """One evidence bullet: own words, every figure it states quoted as in `document`.

    `line` says at which line the bullet applies ("second", "third-or-later"); None (the
    default) means at every line.
    """

    text: Text
    numbers: tuple[Text, ...] = ()
    document: DocumentName
    line: EvidenceLine | None = None


class Citation(_Card):
    """A source document; `url` only where the document itself gives one."""

    document: DocumentName
    label: Text
    url: Url | None = None


class Source(_Card):
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


class _Sources(_Card):
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


class Option(_Card):
    """One option of §9: what it is, when it is shown, its key figure, evidence and sources.

    `key_figure` is the one line a card shows for the option (at most 90 characters),
    taken from `key_figure_document`; `key_figure_later`, where the evidence differs from
    the third line on, replaces it there (same document): `key_figure_for(next_line)`.
    `safety` is toxicity only; access, cost and regulatory status go under `availability`.
    """

    id: Text
    title: Text
    regimen: Text
    when: Text
    key_figure: KeyFigure
    key_figure_later: KeyFigure | None = None
    key_figure_document: DocumentName
    availability: Text | None = None
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
        _cited(self.citations, [*used, ("key_figure_document", self.key_figure_document)])
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


class TrialCriterion(_Card):
    """A pre-screened criterion: the engine's name and the trial's own wording."""

    criterion: Text
    description: Text


class Trial(_Card):
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
    not_prescreened: tuple[Text, ...] = ()  # criteria a FHIR record cannot tell
    notes: tuple[Text, ...] = ()
    citations: NonEmpty[Citation]

    @model_validator(mode="after")
    def _criteria_unique(self) -> Self:
        names = [c.criterion for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError("criteria: a criterion is listed twice")
        _cited(self.citations, ())
        return self


def _documents_used(item: Option | Trial) -> Iterator[tuple[str, str]]:
    """(field, document) for every document `item` names: citations and key figure."""
    for i, citation in enumerate(item.citations):
        yield f"citations[{i}].document", citation.document
    if isinstance(item, Option):
        yield "key_figure_document", item.key_figure_document


def _unsourced(
    items: Iterable[tuple[str, Option | Trial]], sources: Iterable[Source]
) -> tuple[str, str, str] | None:
    """The first (where, field, document) naming a document that has no source, if any."""
    described = {source.document for source in sources}
    for where, item in items:
        for field, document in _documents_used(item):
            if document not in described:
                return where, field, document
    return None


class Knowledge(_Card):
    """The options (the loader gives all, in the order of `OPTION_IDS`), trials, sources.

    Every document an option or trial cites has its source.
    """

    options: NonEmpty[Option]
    trials: tuple[Trial, ...] = ()
    sources: NonEmpty[Source]

    @model_validator(mode="after")
    def _every_document_has_its_source(self) -> Self:
        _one_each(self.sources)
        items: list[tuple[str, Option | Trial]] = []
        items += [(f"options[{i}]", option) for i, option in enumerate(self.options)]
        items += [(f"trials[{i}]", trial) for i, trial in enumerate(self.trials)]
        if found := _unsourced(items, self.sources):
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


# ---------------------------------------------------------------------------------------
# Loading


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


_M = TypeVar("_M", bound=_Card)


def _parse(model: type[_M], file: Traversable) -> _M:
    try:
        data = tomllib.loads(file.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"not valid TOML: {exc}", file=file.name) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        fields = [_where(tuple(e["loc"])) for e in errors]
        # "file: field: first problem; other.field: next problem"
        rest = [f"{f}: {e['msg']}" for f, e in zip(fields[1:], errors[1:], strict=True)]
        message = "; ".join([errors[0]["msg"], *rest])
        raise KnowledgeError(message, file=file.name, field=fields[0]) from exc


def engine_criteria() -> tuple[str, ...]:
    """The names of the criteria the engine pre-screens, in its order."""
    return criterion_names()


SOURCES_FILE = "sources.toml"


def load_knowledge_from(directory: Traversable | Path) -> Knowledge:
    """Read and validate the option, trial and source files of `directory`."""
    files = sorted(
        (f for f in directory.iterdir() if f.is_file() and f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    options: dict[str, Option] = {}
    trials: dict[str, Trial] = {}
    sources: tuple[Source, ...] = ()
    for file in files:
        if file.name == SOURCES_FILE:
            sources = _parse(_Sources, file).sources
        elif file.name.startswith("option-"):
            option = _parse(Option, file)
            if file.name != f"option-{option.id}.toml":
                raise KnowledgeError(
                    f"id {option.id!r} does not match the file name", file=file.name, field="id"
                )
            options[option.id] = option
        elif file.name.startswith("trial-"):
            trial = _parse(Trial, file)
            if file.name != f"trial-{trial.nct_id}.toml":
                raise KnowledgeError(
                    f"nct_id {trial.nct_id!r} does not match the file name",
                    file=file.name,
                    field="nct_id",
                )
            _check_engine_trial(trial, file.name)
            trials[trial.nct_id] = trial
        else:
            raise KnowledgeError(
                f"not an option-<id>.toml, trial-<NCT id>.toml or {SOURCES_FILE} file",
                file=file.name,
            )
    for option_id in OPTION_IDS:
        if option_id not in options:
            raise KnowledgeError(
                f"no file for option {option_id!r}", file=f"option-{option_id}.toml"
            )
    for nct_id in ENGINE_TRIALS:
        if nct_id not in trials:
            raise KnowledgeError(f"no file for trial {nct_id}", file=f"trial-{nct_id}.toml")
    if not sources:
        raise KnowledgeError("no file describing the source documents", file=SOURCES_FILE)
    files_items: list[tuple[str, Option | Trial]] = []
    files_items += [(f"option-{i}.toml", options[i]) for i in OPTION_IDS]
    files_items += [(f"trial-{i}.toml", trials[i]) for i in sorted(trials)]
    if found := _unsourced(files_items, sources):
        file_name, field, document = found
        raise KnowledgeError(
            f"{document} has no source in {SOURCES_FILE}", file=file_name, field=field
        )
    return Knowledge(
        options=tuple(options[i] for i in OPTION_IDS),
        trials=tuple(trials[i] for i in sorted(trials)),
        sources=sources,
    )


def _check_engine_trial(trial: Trial, file: str) -> None:
    if trial.nct_id not in ENGINE_TRIALS:
        raise KnowledgeError(
            f"{trial.nct_id} is not a trial the engine pre-screens", file=file, field="nct_id"
        )
    if trial.url != ENGINE_TRIALS[trial.nct_id]:
        raise KnowledgeError(
            f"expected {ENGINE_TRIALS[trial.nct_id]}, got {trial.url}", file=file, field="url"
        )
    names = tuple(c.criterion for c in trial.criteria)
    expected = engine_criteria()
    if names != expected:
        raise KnowledgeError(
            f"the engine's criteria, in order, are {list(expected)}; the file has {list(names)}",
            file=file,
            field="criteria",
        )


@cache
def load_knowledge() -> Knowledge:
    """The knowledge shipped in the `cards` package, validated (read once)."""
    return load_knowledge_from(resources.files("service.knowledge_base"))
