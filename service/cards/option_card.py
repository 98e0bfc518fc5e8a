"""The options card (CLINICAL_RULES §9): every shown option, ranked, in one card.

Each entry gives the option's status, the engine's reason for showing it, its key figure
with its source, a link to its full evidence and, where the patient may be outside the
study population, the engine's notes.
"""

from __future__ import annotations

from typing import Any

from service import wire
from service.cards.frame import Frame
from service.cards.markdown import escape
from service.cards.phrases import note_words
from service.engine.model import OptionResult
from service.knowledge.wording import words_for

__all__ = ["options_card", "reason_text"]


def options_card(frame: Frame) -> dict[str, Any]:
    """At a decision point: every shown option of §9, ranked, in one card."""
    e = frame.evaluation
    w = frame.words.options
    top = e.options[0]
    title = frame.knowledge.option(top.id).title
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
    entries = [_entry(frame, number, shown) for number, shown in enumerate(e.options, start=1)]
    return frame.card(
        "options",
        summary=summary,
        detail=w.heading.format(line=e.next_line) + "\n\n" + "\n".join(entries),
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


def _entry(frame: Frame, number: int, shown: OptionResult) -> str:
    """One ranked entry: name, status, why, key figure with source, evidence link."""
    w = frame.words.options
    option = frame.knowledge.option(shown.id)
    figure, document = frame.key_figure(option)
    reason = reason_text(frame, shown)
    values = {
        "title": option.title,
        "status": shown.status,
        "figure": figure,
        "source": frame.short_label(document),
    }
    entry = (
        w.entry_with_reason.format(reason=reason, **values) if reason else w.entry.format(**values)
    )
    text = f"{number}. {entry} [{w.full_evidence}]({frame.evidence_url(option.id)})"
    notes = frame.evaluation.notes_for(option.id)
    if notes:
        shown_notes = (escape(note_words(n, frame.words)) for n in notes)
        text += "  \n   " + w.study_population.format(notes="; ".join(shown_notes))
    others = frame.evaluation.other_cancer_for(option.id)
    if others:
        shown_others = (escape(note_words(n, frame.words)) for n in others)
        text += "  \n   " + w.other_cancer.format(notes="; ".join(shown_others))
    return text


def reason_text(frame: Frame, shown: OptionResult) -> str:
    """The engine's reason for showing the option, in words; "" when it gives none."""
    if shown.reason is None:
        return ""
    w = frame.words.option_reasons
    t = frame.thresholds
    p = frame.evaluation.platinum  # a re-challenge reason comes with an interval
    days = p.interval_days if p else None
    interval = (w.interval_estimated if p and p.estimated else w.interval).format(days=days)
    return words_for(w, shown.reason).format(
        when=frame.knowledge.option(shown.id).when,
        interval=interval,
        window_days=t.rechallenge_window_days,
        sensitive_days=t.sensitive_days,
        annab_days=t.annab_resistant_days,
    )
