"""The options card (CLINICAL_RULES §9): every shown option, ranked, in one card.

The card opens with the ranked names on one line, so it can be skimmed (v3); then each
entry says, in at most `ENTRY_WORDS` words (`markdown.words`): the option's status (and
why, where the engine's reason explains it), one key figure with its study and design,
its availability note, what it adds after first-line chemo-immunotherapy, the engine's
study-population notes and a link to its full evidence. Notes that would pass the limit
are cut, and the card says where they are in full.
"""

from __future__ import annotations

from typing import Any

from service import wire
from service.cards.frame import Frame
from service.cards.markdown import escape, words
from service.cards.phrases import note_words
from service.engine.model import OptionReason, OptionResult
from service.knowledge import Evidence
from service.knowledge.wording import words_for

__all__ = ["ENTRY_WORDS", "options_card", "reason_text"]

ENTRY_WORDS = 35  # §9 v3: each entry "in at most 35 words"
# The engine's reasons that say why the re-challenge has its status (§7, §9). The others
# say only why an option is shown ("any relapse after a platinum line"): filler, left off.
_STATUS_REASONS: frozenset[OptionReason] = frozenset(
    {
        "rechallenge-window",
        "rechallenge-window-later-line",
        "rechallenge-window-poor-performance",
        "sensitive-below-window",
    }
)


def options_card(frame: Frame) -> dict[str, Any]:
    """At a decision point: every shown option of §9, ranked, in one card."""
    e = frame.evaluation
    w = frame.words.options
    top = e.options[0]
    title = frame.knowledge.option(top.id).short_title
    if len(e.options) > 1:
        summary = w.summary_more.format(
            line=e.next_line, title=title, status=top.status, more=len(e.options) - 1
        )
    else:
        summary = w.summary.format(line=e.next_line, title=title, status=top.status)
    documents = [
        citation.document
        for shown in e.options
        for citation in frame.knowledge.option(shown.id).citations
    ]
    names = " · ".join(frame.knowledge.option(shown.id).short_title for shown in e.options)
    entries = [_entry(frame, number, shown) for number, shown in enumerate(e.options, start=1)]
    detail = w.heading.format(line=e.next_line, names=names) + "\n\n"
    detail += "\n".join(text for text, _ in entries)
    if any(cut for _, cut in entries):
        detail += "\n\n" + w.notes_cut
    return frame.card(
        "options",
        summary=summary,
        detail=detail,
        indicator="info",
        documents=documents,
        override=True,
        links=[
            wire.Link(
                label=w.evidence_link.format(line=e.next_line),
                url=f"{frame.base}/evidence",
                type="absolute",
            )
        ],
    )


def _entry(frame: Frame, number: int, shown: OptionResult) -> tuple[str, bool]:
    """One ranked entry, and whether its notes were cut to fit `ENTRY_WORDS`."""
    e = frame.evaluation
    w = frame.words.options
    option = frame.knowledge.option(shown.id)
    next_line = e.next_line or 2
    figure, study = frame.key_figure(option)
    values = {"title": option.short_title, "status": shown.status, "figure": figure}
    if shown.reason in _STATUS_REASONS:
        head = w.entry_with_reason.format(reason=status_reason(frame, shown), study=study, **values)
    else:
        head = w.entry.format(study=study, **values)
    parts = [head]
    if option.availability_note:
        parts.append(_statement(frame, option.availability_note, option.key_figure_document))
    after_io = option.after_chemo_immunotherapy_for(next_line)
    if after_io and e.first_line_chemo_immunotherapy:
        parts.append(_statement(frame, after_io, option.key_figure_document))
    if others := [escape(note_words(n, frame.words)) for n in e.other_cancer_for(option.id)]:
        # §4 (v3): a drug given for another cancer, which does not hide the option.
        parts.append(w.other_cancer.format(notes="; ".join(others)))
    link = f"[{w.full_evidence}]({frame.evidence_url(option.id)})"
    cut = False
    if notes := [escape(note_words(n, frame.words)) for n in e.notes_for(option.id)]:
        room = ENTRY_WORDS - words(" ".join([*parts, link]))
        shown_notes, cut = _fitted_notes(frame, notes, room)
        parts.append(shown_notes)
    return f"{number}. {' '.join([*parts, link])}", cut


def _statement(frame: Frame, statement: Evidence, key_document: str) -> str:
    """A sentence of the option file, with its source where not the key figure's."""
    if statement.document == key_document:
        return statement.text
    source = frame.short_label(statement.document)
    return frame.words.options.cited.format(statement=statement.text.rstrip("."), source=source)


def _fitted_notes(frame: Frame, notes: list[str], room: int) -> tuple[str, bool]:
    """The study-population notes in at most `room` words, and whether they were cut: whole
    if they fit, else as many of their words as fit, ending in "…"."""
    w = frame.words.options
    whole = w.study_population.format(notes="; ".join(notes))
    if words(whole) <= room:
        return whole, False
    tokens = "; ".join(notes).split()
    for count in range(len(tokens) - 1, 0, -1):
        shown = w.study_population_cut.format(notes=" ".join(tokens[:count]).rstrip(",;:"))
        if words(shown) <= room:
            return shown, True
    return w.study_population_cut.format(notes=""), True


def status_reason(frame: Frame, shown: OptionResult) -> str:
    """Why the re-challenge has its status, as the options card says it."""
    return _reason_words(frame, shown, words_for(frame.words.option_status, shown.reason or ""))


def reason_text(frame: Frame, shown: OptionResult) -> str:
    """The engine's reason for showing the option, in words; "" when it gives none."""
    if shown.reason is None:
        return ""
    return _reason_words(frame, shown, words_for(frame.words.option_reasons, shown.reason))


def _reason_words(frame: Frame, shown: OptionResult, template: str) -> str:
    w = frame.words.option_reasons
    t = frame.thresholds
    p = frame.evaluation.platinum  # a re-challenge reason comes with an interval
    days = p.interval_days if p else None
    counted = frame.day_count(days) if days is not None else ""
    interval = (w.interval_estimated if p and p.estimated else w.interval).format(days=counted)
    return template.format(
        when=frame.knowledge.option(shown.id).when,
        interval=interval,
        window_days=t.rechallenge_window_days,
        sensitive_days=t.sensitive_days,
        annab_days=t.annab_resistant_days,
    )
