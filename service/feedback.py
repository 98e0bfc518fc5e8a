"""CDS Hooks feedback: checked against the specification and kept in SQLite.

`parse_feedback` checks a feedback request against the wire model
(`service.wire.FeedbackRequest`: "Feedback" of CDS Hooks 2.0.1) and raises InputError
(400) naming the first field at fault.

`FeedbackStore` keeps every item durably (one SQLite file, WAL, synchronous=FULL).
Clients may deliver the same feedback more than once; an item is stored once, keyed by
service id, card, outcome, timestamp and a hash of the whole item.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from service import wire
from service.errors import SclcCdsError

__all__ = ["FeedbackItem", "FeedbackStore", "parse_feedback"]

Outcome = Literal["accepted", "overridden"]
_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id                INTEGER PRIMARY KEY,
    service_id        TEXT NOT NULL,
    card              TEXT NOT NULL,
    outcome           TEXT NOT NULL,
    outcome_timestamp TEXT NOT NULL,
    item_sha256       TEXT NOT NULL,
    item              TEXT NOT NULL,
    received_at       TEXT NOT NULL,
    UNIQUE (service_id, card, outcome, outcome_timestamp, item_sha256)
)
"""


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


class FeedbackStore:
    """Feedback items in one SQLite file, created (with its folder) on first use.

    Each call opens its own connection, so the store is safe across threads and
    processes (SQLite's locking; WAL lets readers go on while one writes).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=10.0)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")  # durable at commit
        connection.execute(_SCHEMA)
        return connection

    def add(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store `items` for `service_id`; the number not stored before (duplicates: 0)."""
        received = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with closing(self._connect()) as connection, connection:
                stored = 0
                for item in items:
                    cursor = connection.execute(
                        "INSERT OR IGNORE INTO feedback (service_id, card, outcome,"
                        " outcome_timestamp, item_sha256, item, received_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            service_id,
                            item.card,
                            item.outcome,
                            item.outcome_timestamp.isoformat(),
                            item.sha256,
                            json.dumps(item.item, sort_keys=True),
                            received,
                        ),
                    )
                    stored += cursor.rowcount
        except sqlite3.Error as error:
            raise SclcCdsError(
                f"feedback could not be stored ({error.__class__.__name__})"
            ) from None
        return stored

    def count(self, service_id: str | None = None) -> int:
        """How many items are stored (for one service, or in all)."""
        with closing(self._connect()) as connection:
            if service_id is None:
                row = connection.execute("SELECT COUNT(*) FROM feedback").fetchone()
            else:
                row = connection.execute(
                    "SELECT COUNT(*) FROM feedback WHERE service_id = ?", (service_id,)
                ).fetchone()
        return int(row[0])
