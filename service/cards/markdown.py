"""Markdown of card text: record text made inert, bulleted sections, the summary's length."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

__all__ = ["SUMMARY_LIMIT", "bullets", "escape", "shorten"]

SUMMARY_LIMIT = 140  # CDS Hooks 2.0: summary "<140-character"
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>])")


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


def bullets(title: str, items: Iterable[str]) -> str:
    """A bold title with its items as a list."""
    # A list may follow its heading line directly (CommonMark): one line less a section.
    return f"**{title}**\n" + "\n".join(f"- {item}" for item in items)
