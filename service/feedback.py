"""CDS Hooks feedback: checked against the specification and kept in SQLite.

`parse_feedback` checks a feedback request ("Feedback" of CDS Hooks 2.0.1: `card`,
`outcome` accepted|overridden, `outcomeTimestamp`, `acceptedSuggestions` for accepted
outcomes, `overrideReason` with a `reason` Coding and/or a `userComment`) and raises
InputError (400) naming the first field at fault.

`FeedbackStore` keeps every item durably (one SQLite file, WAL, synchronous=FULL).
Clients may deliver the same feedback more than once; an item is stored once, keyed by
service id, card, outcome, timestamp and a hash of the whole item.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from service.errors import InputError, SclcCdsError

__all__ = ["FeedbackItem", "FeedbackStore", "parse_feedback"]

Outcome = Literal["accepted", "overridden"]
OUTCOMES: tuple[Outcome, ...] = ("accepted", "overridden")
# RFC 3339 section 5.6 date-time (the spec's profile of ISO 8601). The spec asks for
# UTC; any explicit offset is accepted and normalised to UTC for the key.
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$")
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


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _timestamp(value: Any, where: str) -> datetime:
    problem = f"{where}.outcomeTimestamp must be an RFC 3339 UTC date-time (2021-12-11T10:05:31Z)"
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise InputError(problem)
    try:
        return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        raise InputError(problem) from None


def _coding(value: Any, where: str) -> None:
    if (
        not isinstance(value, dict)
        or not _text(value.get("code"))
        or not _text(value.get("system"))
    ):
        raise InputError(f"{where} must be a Coding with non-empty 'code' and 'system'")
    if "display" in value and not _text(value["display"]):
        raise InputError(f"{where}.display must be a non-empty string")


def _override_reason(value: Any, where: str) -> None:
    if not isinstance(value, dict) or not value:
        raise InputError(f"{where} must be an object with 'reason' and/or 'userComment'")
    if "reason" in value:
        _coding(value["reason"], f"{where}.reason")
    if "userComment" in value and not _text(value["userComment"]):
        raise InputError(f"{where}.userComment must be a non-empty string")
    if "reason" not in value and "userComment" not in value:
        raise InputError(f"{where} needs 'reason' (a Coding) or 'userComment'")


def _suggestions(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where} must be a non-empty list of {{'id': suggestion uuid}}")
    ids = []
    for number, suggestion in enumerate(value):
        if not isinstance(suggestion, dict) or not _text(suggestion.get("id")):
            raise InputError(f"{where}[{number}].id must be a non-empty string")
        ids.append(suggestion["id"])
    return tuple(ids)


def _item(value: Any, where: str) -> FeedbackItem:
    if not isinstance(value, dict):
        raise InputError(f"{where} must be an object")
    if not _text(value.get("card")):
        raise InputError(f"{where}.card must be the card's uuid (a non-empty string)")
    outcome = value.get("outcome")
    if outcome not in OUTCOMES:
        raise InputError(f"{where}.outcome must be 'accepted' or 'overridden'")
    timestamp = _timestamp(value.get("outcomeTimestamp"), where)
    accepted: tuple[str, ...] = ()
    if outcome == "accepted" and "acceptedSuggestions" not in value:
        raise InputError(f"{where}.acceptedSuggestions is required when outcome is 'accepted'")
    if "acceptedSuggestions" in value:
        accepted = _suggestions(value["acceptedSuggestions"], f"{where}.acceptedSuggestions")
    if "overrideReason" in value:
        _override_reason(value["overrideReason"], f"{where}.overrideReason")
    return FeedbackItem(
        card=value["card"],
        outcome=outcome,
        outcome_timestamp=timestamp,
        accepted_suggestions=accepted,
        item=value,
    )


def parse_feedback(body: Any) -> tuple[FeedbackItem, ...]:
    """The items of a feedback request; InputError names the first field at fault."""
    if not isinstance(body, dict) or "feedback" not in body:
        raise InputError("the body must be a JSON object with a 'feedback' list")
    items = body["feedback"]
    if not isinstance(items, list) or not items:
        raise InputError("feedback must be a non-empty list of feedback items")
    return tuple(_item(item, f"feedback[{number}]") for number, item in enumerate(items))


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
