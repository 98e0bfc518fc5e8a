"""What every card of one evaluation shares, and the one place a card is built.

A `Frame` holds the evaluation, the knowledge base with its wording, where the links
point, and the fingerprint each card's uuid derives from (the same evaluation gives the
same uuids, so feedback can refer to them).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from service import wire
from service.cards.markdown import shorten
from service.engine.model import Evaluation
from service.engine.rules import DEFAULT_THRESHOLDS
from service.knowledge import Knowledge, Option, Source

__all__ = ["OVERRIDE_SYSTEM", "TIMELINE_CONTEXT", "Frame", "Indicator"]

Indicator = Literal["info", "warning", "critical"]

_NAMESPACE = uuid.UUID("7b0d2b4e-5d1c-4c69-9d43-2f1e6a7c8e90")  # this product's cards
OVERRIDE_SYSTEM = "urn:sclc-relapse-cds:override-reason"
TIMELINE_CONTEXT = '{"view": "timeline"}'  # appContext of the smart link (service.smart.views)
# A card's source label longer than this gives way to the words for "source documents".
_SOURCE_LABEL_MAX = 80


def _fingerprint(evaluation: Evaluation) -> str:
    body = json.dumps(evaluation.to_json(), sort_keys=True, default=str)
    return hashlib.sha256(f"{evaluation.today}|{body}".encode()).hexdigest()


class Frame:
    """The cards of one evaluation: shared values, words, links, and the card builder."""

    def __init__(self, evaluation: Evaluation, knowledge: Knowledge, base_url: str) -> None:
        self.evaluation = evaluation
        self.knowledge = knowledge
        self.words = knowledge.wording
        self.thresholds = evaluation.thresholds or DEFAULT_THRESHOLDS
        self.base = base_url.rstrip("/")
        self._sources: dict[str, Source] = {s.document: s for s in knowledge.sources}
        self._fingerprint = _fingerprint(evaluation)

    def card(
        self,
        key: str,
        *,
        summary: str,
        detail: str,
        indicator: Indicator,
        documents: Sequence[str],
        override: bool = False,
        links: Sequence[wire.Link] = (),
        disclaimer: bool = False,
    ) -> dict[str, Any]:
        """A card built (and so checked) by the wire model, as JSON."""
        return wire.Card(
            uuid=str(uuid.uuid5(_NAMESPACE, f"{self._fingerprint}|{key}")),
            summary=shorten(summary),
            detail=f"{detail}\n\n{self.words.card.disclaimer}" if disclaimer else detail,
            indicator=indicator,
            source=self.source(documents),
            overrideReasons=(
                [
                    wire.Coding(system=OVERRIDE_SYSTEM, code=reason.code, display=reason.display)
                    for reason in self.words.override_reasons
                ]
                if override
                else None
            ),
            links=list(links) or None,
        ).dump()

    def source(self, documents: Sequence[str]) -> wire.Source:
        """The short label of the card's document(s) and the service's page about it."""
        found = [self._sources[d] for d in dict.fromkeys(documents) if d in self._sources]
        if len(found) == 1:
            return wire.Source(label=found[0].short_label, url=f"{self.base}/sources/{found[0].id}")
        label = "; ".join(s.short_label for s in found)
        if not found or len(label) > _SOURCE_LABEL_MAX:
            label = self.words.card.source_documents
        return wire.Source(label=label, url=f"{self.base}/sources")

    def evidence_url(self, option_id: str) -> str:
        """The service's page of one option's full evidence."""
        return f"{self.base}/evidence/{option_id}"

    def short_label(self, document: str) -> str:
        """What a card shows as the source of a figure from `document`."""
        return self.knowledge.source_for(document).short_label

    def timeline_link(self) -> wire.Link:
        """The smart link that opens the relapse timeline (SMART App Launch)."""
        return wire.Link(
            label=self.words.card.timeline_link,
            url=f"{self.base}/app/launch",
            type="smart",
            appContext=TIMELINE_CONTEXT,
        )

    def day(self, value: date | None) -> str:
        """A date as a card shows it."""
        return value.isoformat() if value else self.words.card.unknown_date

    def stage(self) -> str:
        """The stage as a card shows it."""
        return self.evaluation.diagnosis.stage or self.words.card.unknown_stage

    def key_figure(self, option: Option) -> tuple[str, str]:
        """The option's key figure for this line, and what it comes from: its study with
        the study's design where the option names one, else its document's short label."""
        next_line = max(self.evaluation.next_line or 2, 2)
        study = option.key_study_for(next_line) or self.short_label(option.key_figure_document)
        return option.key_figure_for(next_line), study

    def day_count(self, days: int) -> str:
        """ "1 day", "84 days": a count of days as the cards write it."""
        w = self.words.platinum
        return w.one_day if days == 1 else w.days.format(count=days)

    def interval_words(self, days: int | None) -> str:
        """An interval in words: "progression 84 days after the last platinum dose"; at
        0 days or fewer "progressed during platinum therapy (6 days before the last
        platinum dose)", never "-6 d" (§7 v3)."""
        w = self.words.platinum
        if days is None:
            return w.interval_unknown
        if days <= 0:
            when = w.before_last_dose.format(days=self.day_count(-days)) if days else w.on_last_dose
            return w.during_platinum.format(when=when)
        return w.after_last_dose.format(days=self.day_count(days))
