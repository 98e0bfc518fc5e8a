"""The engine's readings and remarks in the knowledge base's words (`cards/wording.toml`
`[readings]` and `[notes]`): the values the summary lists, the study-population notes of
the options card and the criterion details of the trial card, and the same words in the
SMART app."""

from __future__ import annotations

from typing import Any

from service.engine.model import Note, Reading
from service.knowledge.wording import Wording

__all__ = ["dated_reading", "note_words", "reading_words"]


def reading_words(reading: Reading, wording: Wording) -> str:
    """ "ANC 0.8 x10^9/L": the value as read, or as the record gives it if its unit is
    not understood."""
    w = wording.readings
    if reading.value is None:
        if reading.recorded_unit:
            return w.unread.format(name=reading.name, unit=reading.recorded_unit)
        return w.unread_unitless.format(name=reading.name)
    value = f"{reading.value:g}"
    if reading.unit:
        return w.value.format(name=reading.name, value=value, unit=reading.unit)
    return w.value_unitless.format(name=reading.name, value=value)


def dated_reading(reading: Reading, wording: Wording) -> str:
    """ "ANC 0.8 x10^9/L on 2024-03-02"."""
    day = reading.day.isoformat()
    return wording.readings.dated.format(reading=reading_words(reading, wording), day=day)


def note_words(note: Note, wording: Wording) -> str:
    """The note's template filled with its values (plain text: the caller escapes it)."""
    template: str = getattr(wording.notes, note.kind)
    return template.format(**{name: _shown(value, wording) for name, value in note.values})


def _shown(value: Any, wording: Wording) -> str:
    if isinstance(value, Note):
        return note_words(value, wording)
    if isinstance(value, Reading):
        return dated_reading(value, wording)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
