"""Check the knowledge base in `cards/` against the source documents it cites.

    python -m tools.check_knowledge [--docs ../shared/docs]

prints each problem on a line and exits 1, or prints one "ok" line and exits 0
(`make check-knowledge`; `make test` runs it too). A problem is a quoted figure that does
not occur in the document its evidence bullet cites, a figure a bullet states but does
not quote, a figure of an option's key figure or key study not in its
`key_figure_document`, a figure in another text of an option or trial (regimen,
population, notes, trial facts, ...) found in none of the documents it cites, a figure a
card's wording states (not fills in) found in no document, a source whose title,
publisher or date its document does not give (or whose short label states a figure it
does not), or a cited document missing.

The documents are not part of the product, so neither is this check: `service.knowledge`
loads and validates the cards at run time; this module, outside the package, holds them
to their sources.
"""

from __future__ import annotations

import argparse
import calendar
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence, Sized
from pathlib import Path

from service.knowledge import (
    DOCUMENTS,
    Evidence,
    Knowledge,
    KnowledgeError,
    Option,
    Source,
    Trial,
    Wording,
    load_knowledge,
)

__all__ = [
    "DEFAULT_DOCS",
    "check_against_documents",
    "check_wording",
    "date_spellings",
    "main",
    "normalise",
]

# The checkout's sibling ../shared/docs, where the five documents of DOCUMENTS live.
DEFAULT_DOCS = Path(__file__).resolve().parents[2] / "shared" / "docs"

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SYMBOLS = str.maketrans(
    {
        "≥": ">=",
        "≤": "<=",
        "×": "x",
        "–": "-",  # en dash
        "—": "-",  # em dash
        "−": "-",  # minus sign
        "‐": "-",  # hyphen
        "‑": "-",  # non-breaking hyphen
        "‘": "'",
        "’": "'",
        "“": '"',
        "”": '"',
        "$": None,  # 003_… keeps LaTeX maths delimiters from its PDF conversion
    }
)
_LATEX = (
    (re.compile(r"\\geq?(?![a-z])"), "≥"),
    (re.compile(r"\\leq?(?![a-z])"), "≤"),
    (re.compile(r"\\times(?![a-z])"), "×"),
)
_HTML_SUP = re.compile(r"<sup>\s*(.*?)\s*</sup>", re.IGNORECASE)
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_OPERATOR = re.compile(r"\s*(<=|>=|=|<|>)\s*")
_DIGIT_X_DIGIT = re.compile(r"(?<=\d)\s*x\s*(?=\d)")
_DIGIT_DASH_DIGIT = re.compile(r"(?<=\d)\s*-\s*(?=\d)")
_SPACE = re.compile(r"\s+")
# A figure: digits with an optional decimal part, not glued to a word ("DLL3", "q21d").
_FIGURE = re.compile(r"(?<![\w.])\d+(?:\.\d+)?")
# A template's placeholder ("{days}"): a value filled in, not a figure the text states.
_PLACEHOLDER = re.compile(r"\{\w+\}")


def normalise(text: str) -> str:
    """Text in one spelling for searching: ≥/>=, ×/x, dashes, superscripts, spaces, case."""
    text = _HTML_SUP.sub(r"^\1", text)
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group().translate(_SUPERSCRIPTS), text)
    for pattern, symbol in _LATEX:
        text = pattern.sub(symbol, text)
    text = unicodedata.normalize("NFKC", text).translate(_SYMBOLS)
    text = _OPERATOR.sub(r" \1 ", text)
    text = _DIGIT_X_DIGIT.sub("x", text)
    text = _DIGIT_DASH_DIGIT.sub("-", text)
    return _SPACE.sub(" ", text).strip().casefold()


def _occurs(needle: str, haystack: str) -> bool:
    """`needle` in `haystack` (both normalised), never inside a longer number.

    "5%" does not match in "35%", nor "6.0" in "16.05". Letters may touch either side:
    units follow figures ("1.73m^2", "1.5x10^9") and the trial listing glues words
    ("Recruiting" to "Phase 2").
    """
    if not needle:
        return False
    before = r"(?<!\d)(?<!\d\.)" if needle[0].isdigit() else ""
    after = r"(?!\d)(?!\.\d)" if needle[-1].isdigit() else ""
    return re.search(before + re.escape(needle) + after, haystack) is not None


def _figures(text: str) -> list[str]:
    return _FIGURE.findall(normalise(text))


def _option_texts(option: Option) -> Iterator[tuple[str, str]]:
    # `when` is left out: it states the product's own thresholds (CLINICAL_RULES §9).
    yield "title", option.title
    yield "short_title", option.short_title
    yield "regimen", option.regimen
    if option.availability:
        yield "availability", option.availability
    if option.population:
        yield "population", option.population
    for i, text in enumerate(option.safety):
        yield f"safety[{i}]", text
    for i, text in enumerate(option.notes):
        yield f"notes[{i}]", text


def _trial_texts(trial: Trial) -> Iterator[tuple[str, str]]:
    yield "title", trial.title
    yield "regimen", trial.regimen
    yield "primary_endpoint", trial.primary_endpoint
    for i, criterion in enumerate(trial.criteria):
        yield f"criteria[{i}].description", criterion.description
    for i, criterion in enumerate(trial.not_prescreened):
        yield f"not_prescreened[{i}].criterion", criterion.criterion
        yield f"not_prescreened[{i}].description", criterion.description
    for i, text in enumerate(trial.notes):
        yield f"notes[{i}]", text


class _Documents:
    """The normalised text of each source document, read on first use."""

    def __init__(self, docs_dir: Path) -> None:
        self._dir = docs_dir
        self._texts: dict[str, str | None] = {}
        self.problems: list[str] = []

    def text(self, name: str) -> str | None:
        if name not in self._texts:
            path = self._dir / name
            if path.is_file():
                self._texts[name] = normalise(path.read_text("utf-8"))
            else:
                self._texts[name] = None
                self.problems.append(f"{name}: not found in {self._dir}")
        return self._texts[name]


def _check_evidence(where: str, evidence: Iterable[Evidence], docs: _Documents) -> list[str]:
    problems = []
    for i, item in enumerate(evidence):
        quoted = [normalise(n) for n in item.numbers]
        quoted_figures = {f for n in quoted for f in _FIGURE.findall(n)}
        for figure in _figures(item.text):
            if figure not in quoted_figures:
                problems.append(
                    f"{where}: evidence[{i}] states {figure!r} but does not quote it in numbers"
                )
        text = docs.text(item.document)
        if text is None:
            continue
        for number, needle in zip(item.numbers, quoted, strict=True):
            if not _occurs(needle, text):
                problems.append(
                    f"{where}: evidence[{i}] number {number!r} not found in {item.document}"
                )
    return problems


def _check_texts(
    where: str, texts: Iterable[tuple[str, str]], cited: Iterable[str], docs: _Documents
) -> list[str]:
    sources = [t for t in (docs.text(d) for d in cited) if t is not None]
    if not sources:
        return []
    problems = []
    for field, text in texts:
        for figure in _figures(text):
            if not any(_occurs(figure, source) for source in sources):
                problems.append(f"{where}: {field} states {figure!r}, found in no cited document")
    return problems


def _check_key_figures(where: str, option: Option, docs: _Documents) -> list[str]:
    text = docs.text(option.key_figure_document)
    if text is None:
        return []
    problems = []
    lines = [
        ("key_figure", option.key_figure),
        ("key_study", option.key_study),
        ("key_figure_later", option.key_figure_later),
        ("key_study_later", option.key_study_later),
    ]
    for field, line in lines:
        for figure in _figures(line or ""):
            if not _occurs(figure, text):
                problems.append(
                    f"{where}: {field} states {figure!r}, not found in {option.key_figure_document}"
                )
    return problems


def date_spellings(value: str) -> list[str]:
    """The ways a document may write the date `value` ("2024-12-06": "December 6, 2024", ...)."""
    year, *rest = value.split("-")
    if not rest:
        return [year]
    month = calendar.month_name[int(rest[0])]
    short = calendar.month_abbr[int(rest[0])]
    if len(rest) == 1:
        return [value, f"{month} {year}", f"{short} {year}"]
    day = int(rest[1])
    return [
        value,
        f"{month} {day}, {year}",
        f"{short} {day}, {year}",
        f"{day} {month} {year}",
        f"{day:02d} {month} {year}",
    ]


def _check_source(source: Source, docs: _Documents) -> list[str]:
    where = f"source {source.id} (sources.toml)"
    text = docs.text(source.document)
    if text is None:
        return []
    problems = []
    for field, value in (("title", source.title), ("publisher", source.publisher)):
        if value and not _occurs(normalise(value), text):
            problems.append(f"{where}: {field} {value!r} not found in {source.document}")
    if source.date and not any(_occurs(normalise(d), text) for d in date_spellings(source.date)):
        problems.append(f"{where}: date {source.date!r} not found in {source.document}")
    label = [("short_label", source.short_label)]
    return problems + _check_texts(where, label, [source.document], docs)


def check_against_documents(knowledge: Knowledge, docs_dir: Path) -> list[str]:
    """Problems found checking the knowledge against the source documents in `docs_dir`.

    Every quoted number of every evidence bullet (and of an option's availability note and
    its sentence after chemo-immunotherapy) must occur in the document the bullet cites,
    and every figure a bullet states must be among its quoted numbers; every figure of an
    option's key figure and key study (and their later-line ones) must occur in its
    `key_figure_document`; figures in the other texts (regimen, availability, population,
    safety, notes, citation labels, trial criteria) must occur in a document the option or
    trial cites. Each source's title, publisher and date (in any usual spelling) must occur
    in its document, and the figures of its short label too. An empty list means all is
    well.
    """
    docs = _Documents(docs_dir)
    problems: list[str] = []
    for option in knowledge.options:
        where = f"option {option.id} (option-{option.id}.toml)"
        cited = [c.document for c in option.citations]
        problems += _check_evidence(where, option.evidence, docs)
        for field in ("availability_note", "after_chemo_immunotherapy"):
            if (statement := getattr(option, field)) is not None:
                problems += _check_evidence(f"{where} {field}", [statement], docs)
        problems += _check_key_figures(where, option, docs)
        problems += _check_texts(where, _option_texts(option), cited, docs)
        for i, citation in enumerate(option.citations):
            label = [(f"citations[{i}].label", citation.label)]
            problems += _check_texts(where, label, [citation.document], docs)
    for trial in knowledge.trials:
        where = f"trial {trial.nct_id} (trial-{trial.nct_id}.toml)"
        cited = [c.document for c in trial.citations]
        sources = [t for t in (docs.text(d) for d in cited) if t is not None]
        facts = {
            "nct_id": trial.nct_id,
            "phase": trial.phase,
            "status": trial.status,
            "participants": str(trial.participants),
            "start": trial.start,
        }
        for field, value in facts.items():
            if sources and not any(_occurs(normalise(value), s) for s in sources):
                problems.append(f"{where}: {field} {value!r} found in no cited document")
        problems += _check_texts(where, _trial_texts(trial), cited, docs)
        for i, citation in enumerate(trial.citations):
            label = [(f"citations[{i}].label", citation.label)]
            problems += _check_texts(where, label, [citation.document], docs)
    for source in knowledge.sources:
        problems += _check_source(source, docs)
    return docs.problems + problems


def check_wording(wording: Wording, docs_dir: Path) -> list[str]:
    """Problems of the cards' wording against the documents in `docs_dir`: a figure a
    template states (a value it fills in is not one) must occur in one of the documents.
    Its texts cite no document, so any of them may back it ("ECOG 0–1")."""
    docs = _Documents(docs_dir)
    templates = ((field, _PLACEHOLDER.sub("", text)) for field, text in wording.texts())
    problems = _check_texts("wording (wording.toml)", templates, DOCUMENTS, docs)
    return docs.problems + problems


# ---------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    """Check the shipped knowledge against the documents; 0 if all is well, 1 if not."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.check_knowledge",
        description="Check the knowledge base (cards/) against its source documents.",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        default=DEFAULT_DOCS,
        help=f"the folder of the source documents (default: {DEFAULT_DOCS})",
    )
    args = parser.parse_args(argv)
    docs: Path = args.docs
    if not docs.is_dir():
        parser.error(f"--docs: {docs} is not a folder")
    try:
        knowledge = load_knowledge()
    except KnowledgeError as exc:
        print(f"cards/{exc}")
        return 1
    problems = check_against_documents(knowledge, docs) + check_wording(knowledge.wording, docs)
    problems = list(dict.fromkeys(problems))  # a missing document is found by both
    for problem in problems:
        print(problem)
    if problems:
        return 1
    options, trials = _count(knowledge.options, "option"), _count(knowledge.trials, "trial")
    sources, documents = _count(knowledge.sources, "source"), _count(DOCUMENTS, "document")
    print(f"ok: {options}, {trials} and {sources} checked against {documents} in {docs}")
    return 0


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


if __name__ == "__main__":
    raise SystemExit(main())
