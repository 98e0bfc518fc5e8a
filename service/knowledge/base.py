"""What every knowledge-base file is made of: the documents, kinds of text, closed models.

A document is cited by its file name (`DocumentName`), but no text a reader sees may name
one (`Text` refuses it: a source's `short_label` or `title` stands for it). `Entry` is the
base of every model: frozen, closed to unknown keys, and refusing an empty list.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "DOCUMENTS",
    "DocumentName",
    "Entry",
    "KEY_FIGURE_MAX",
    "KeyFigure",
    "NonEmpty",
    "PartialDate",
    "SHORT_LABEL_MAX",
    "SHORT_TITLE_MAX",
    "ShortLabel",
    "ShortTitle",
    "SourceId",
    "Text",
    "Url",
    "no_file_name",
    "one_line",
]

DocumentName = Literal[
    "000_e1d9681268751f05.txt",
    "001_b4f620245f367cee.txt",
    "002_7502c6c1fab9d4d0.txt",
    "003_4cac35924055ddfc.txt",
    "004_f50c1dc1e9887857.txt",
]
DOCUMENTS: tuple[str, ...] = get_args(DocumentName)

# A document's file name, in any text: the documents are cited by file name, but a reader
# is never shown one (`Source.short_label` and `Source.title` stand for it).
_FILE_NAME = re.compile(r"\w\.txt\b", re.IGNORECASE)


def no_file_name(value: str) -> str:
    """`value`, unless it names a document file (a ValueError then)."""
    if _FILE_NAME.search(value):
        raise ValueError("must not name a document file (a source's short_label stands for it)")
    return value


def one_line(max_length: int | None = None) -> StringConstraints:
    """Text stripped of surrounding whitespace, not empty, at most `max_length` long."""
    return StringConstraints(strip_whitespace=True, min_length=1, max_length=max_length)


Text = Annotated[str, one_line(), AfterValidator(no_file_name)]
Url = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
# The one line a card shows beside an option's name: its single most useful figure.
KEY_FIGURE_MAX = 90
KeyFigure = Annotated[str, one_line(KEY_FIGURE_MAX), AfterValidator(no_file_name)]
# What a card shows as an item's source, e.g. "Tian et al. 2026 (ANNAB)".
SHORT_LABEL_MAX = 40
ShortLabel = Annotated[str, one_line(SHORT_LABEL_MAX), AfterValidator(no_file_name)]
# An option's name on the options card's ranked line, e.g. "Platinum re-challenge".
SHORT_TITLE_MAX = 30
ShortTitle = Annotated[str, one_line(SHORT_TITLE_MAX), AfterValidator(no_file_name)]
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


class Entry(BaseModel):
    """Frozen, closed: an unknown key or an empty string or list is an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        # An optional list may be left out, but one that is written must say something.
        if isinstance(value, list | tuple) and not value:
            raise ValueError("must not be empty (leave the key out instead)")
        return value
