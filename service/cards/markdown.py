"""Markdown of card text: record text made inert, bulleted sections, the summary's length,
and how many words a reader reads."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["SUMMARY_LIMIT", "bullets", "escape", "shorten", "words"]

SUMMARY_LIMIT = 140  # CDS Hooks 2.0: summary "<140-character"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")
_LINK = re.compile(r"\[([^\]]*)\]\([^)\s]*\)")
_LIST_MARKER = re.compile(r"^\s*(?:\d+\.|[-*+])\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*|__|\\(?=[\\`*_{}\[\]()#+\-.!|~>])")


def escape(text: str) -> str:
    """Record text made inert for markdown rendered with raw HTML.

    `<`, `>` and `&` become entities; quotes stay as they are (they are not markup
    outside an attribute, and an entity such as `&#x27;` would be broken by the
    markdown escaping that follows).
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def shorten(text: str) -> str:
    """`text` cut to fit a card's summary, with an ellipsis where it was cut."""
    if len(text) < SUMMARY_LIMIT:
        return text
    return text[: SUMMARY_LIMIT - 2].rstrip() + "…"


def words(text: str) -> int:
    """How many words a reader reads in the markdown `text` (§9 v3: an options-card entry
    in at most 35): the whitespace-separated tokens of the text as shown. A link counts
    by its label, never its URL; list markers, emphasis markers and markdown escapes are
    not read; everything else is a word, numbers, dates, record names and a lone "+" or
    "…" included."""
    shown = _LIST_MARKER.sub("", _LINK.sub(r"\1", text))
    return len(_EMPHASIS.sub("", shown).split())


def bullets(title: str, items: Iterable[str]) -> str:
    """A bold title with its items as a list."""
    # A list may follow its heading line directly (CommonMark): one line less a section.
    return f"**{title}**\n" + "\n".join(f"- {item}" for item in items)
