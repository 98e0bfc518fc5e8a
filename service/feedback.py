"""CDS Hooks feedback, checked against the specification.

`parse_feedback` checks a feedback request against the wire model
(`service.wire.FeedbackRequest`: "Feedback" of CDS Hooks 2.0.1) and raises InputError
(400) naming the first field at fault. `service.store.Store.add_feedback` keeps the
items; clients may deliver the same feedback more than once, and an item is stored once,
keyed by service id, card, outcome, timestamp and a hash of the whole item
(`FeedbackItem.sha256`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from service import wire

__all__ = ["FeedbackItem", "parse_feedback"]

Outcome = Literal["accepted", "overridden"]


@dataclass(frozen=True, slots=True)
class FeedbackItem:
    """One checked feedback item; `item` is its JSON as received (extensions too)."""

    card: str
    outcome: Outcome
    outcome_timestamp: datetime
    accepted_suggestions: tuple[str, ...]
    item: Mapping[str, Any]

    @property
    def sha256(self) -> str:
        canonical = json.dumps(self.item, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_feedback(body: Any) -> tuple[FeedbackItem, ...]:
    """The items of a feedback request (`service.wire.FeedbackRequest`); InputError
    names the first field at fault. Each item keeps its JSON as received."""
    request = wire.parse(wire.FeedbackRequest, body)
    return tuple(
        FeedbackItem(
            card=item.card,
            outcome=item.outcome,
            outcome_timestamp=item.outcomeTimestamp,
            accepted_suggestions=tuple(s.id for s in item.acceptedSuggestions or ()),
            item=raw,
        )
        for item, raw in zip(request.feedback, body["feedback"], strict=True)
    )
