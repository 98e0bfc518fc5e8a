"""The trial card (CLINICAL_RULES §10): the pre-screen verdict and each criterion's result.

The study team decides eligibility; the card says the trial's status as its listing
gives it, then what the record shows: criteria not met first, then those the record
cannot tell (the ones absent from it named together), then those met, and last the
criteria no record can show (v3). An `eligible` verdict is never a bare "eligible": it
reads "meets every criterion the record shows; not checked: …".
"""

from __future__ import annotations

from typing import Any

from service import wire
from service.cards.frame import Frame
from service.cards.markdown import escape
from service.cards.phrases import note_words
from service.knowledge import Trial
from service.knowledge.wording import words_for

__all__ = ["trial_card"]


def trial_card(frame: Frame, trial: Trial) -> dict[str, Any]:
    """The pre-screen of one trial the evaluation shows."""
    w = frame.words.trial
    result = next(t for t in frame.evaluation.trials if t.id == trial.nct_id)
    verdict = words_for(w.verdicts, result.verdict)
    not_checked = ", ".join(c.criterion for c in trial.not_prescreened)
    groups: dict[str, list[str]] = {"not-met": [], "unknown": [], "met": []}
    absent: list[str] = []
    for c in result.criteria:
        if c.result == "unknown" and c.detail is not None and c.detail.kind == "absent":
            absent.append(escape(c.criterion))  # said once for all below
            continue
        shown = escape(c.criterion)
        if c.detail and c.result != "met":
            shown += f" ({escape(note_words(c.detail, frame.words))})"
        groups[c.result].append(shown)
    if absent:
        groups["unknown"].append(w.not_in_record.format(criteria=", ".join(absent)))
    rows = [
        "- " + w.result.format(result=words_for(w.results, result_), criteria="; ".join(items))
        for result_, items in groups.items()
        if items
    ]
    if result.verdict == "eligible":
        heading = w.eligible_heading.format(verdict=verdict, not_checked=not_checked)
        verdict = w.eligible_summary.format(verdict=verdict, count=len(trial.not_prescreened))
    else:
        heading = w.heading.format(verdict=verdict)
        if not_checked:
            rows.append("- " + w.not_checked.format(not_checked=not_checked))
    status = w.status.format(status=trial.status, start=trial.start)
    return frame.card(
        f"trial:{trial.nct_id}",
        summary=w.summary.format(nct_id=trial.nct_id, phase=trial.phase, verdict=verdict),
        detail=f"{heading} {status}\n\n" + "\n".join(rows),
        indicator="info",
        documents=[c.document for c in trial.citations],
        links=[
            wire.Link(
                label=w.registry_link.format(nct_id=trial.nct_id), url=trial.url, type="absolute"
            )
        ],
    )
