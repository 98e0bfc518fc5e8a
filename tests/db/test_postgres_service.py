"""Real `sclc-cds serve` processes on one PostgreSQL database (SCLC_CDS_DATABASE_URL).

Feedback arrives at two processes from several threads while the test restarts
PostgreSQL and one of the processes: every acknowledged item is stored, re-sent items
are stored once, and what the service answered 503 was not acknowledged. With
PostgreSQL stopped, feedback is 503 and the hook calls still answer.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import requests

from tests.cds_conformance import assert_conforms
from tests.db.conftest import Postgres
from tests.http.support import SERVICE_IDS, check_exchange, hook_request
from tests.http.test_real_process import Live, running_service

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
FEEDBACK = f"{PATIENT_VIEW}/feedback"
SENDERS = 8
ITEMS_PER_SENDER = 30
MAX_ATTEMPTS = 400  # per item; with RETRY_PAUSE a little over the test's deadline
RETRY_PAUSE = 0.05
RESEND_EVERY = 4  # every 4th acknowledged item is delivered again at once
GIVE_UP_PER_SENDER = 2  # items a sender drops after a 503 in the outage
PHASE_SECONDS = 15.0  # the longest any phase may wait for the senders' progress
DEADLINE_SECONDS = 90.0


def feedback_body(card: str) -> dict[str, Any]:
    return {
        "feedback": [
            {
                "card": card,
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": "suggestion-1"}],
                "outcomeTimestamp": "2026-11-21T10:05:31Z",
            }
        ]
    }


def stored_cards(url: str) -> list[str]:
    """Every stored card id, duplicates included (there must be none)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        return [row[0] for row in connection.execute("SELECT card FROM feedback")]


@dataclass
class Outage:
    """When PostgreSQL was certainly down: from after `stop()` returned to before `start()`."""

    down_since: float = float("inf")
    up_at: float = float("inf")

    def covers(self, sent: float, answered: float) -> bool:
        return self.down_since <= sent and answered <= self.up_at


@dataclass
class Tally:
    """What the senders saw, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    acknowledged: dict[str, int] = field(default_factory=dict)  # card -> "stored" of its 200
    resent: dict[str, int] = field(default_factory=dict)  # card -> "stored" of the redelivery
    refused_in_outage: set[str] = field(default_factory=set)  # answered 503, never re-sent
    failed: list[str] = field(default_factory=list)

    def count(self, what: str) -> None:
        with self.lock:
            self.statuses[what] += 1


def test_feedback_through_restarts_of_postgres_and_a_service(
    postgres: Postgres, pg_url: str, tmp_path: Path
) -> None:
    """8 threads send 240 items to two processes; PostgreSQL is stopped and started and
    one process restarted meanwhile. 200: stored; 503: not acknowledged, and stored
    only if sent again; a redelivery: stored once."""
    assert_conforms("FeedbackRequest", feedback_body("example"))
    deadline = time.monotonic() + DEADLINE_SECONDS
    outage = Outage()
    tally = Tally()
    bases: list[str] = []

    def post(session: requests.Session, base: str, card: str) -> requests.Response:
        response = session.post(base + FEEDBACK, json=feedback_body(card), timeout=10)
        check_exchange(
            "POST",
            FEEDBACK,
            response.status_code,
            response.headers.get("Content-Type", ""),
            response.content,
        )
        return response

    def send(sender: int) -> None:
        session = requests.Session()
        given_up = 0
        for n in range(ITEMS_PER_SENDER):
            card = f"card-{sender}-{n:02d}"
            for attempt in range(MAX_ATTEMPTS):
                if time.monotonic() > deadline:
                    tally.failed.append(f"{card}: deadline")
                    return
                base = bases[(sender + n + attempt) % len(bases)]
                sent = time.monotonic()
                try:
                    response = post(session, base, card)
                except requests.ConnectionError:  # the process restarting
                    tally.count("connection refused")
                    time.sleep(RETRY_PAUSE)
                    continue
                if response.status_code == 503:
                    outcome = response.json()["issue"][0]
                    tally.count(f"503 {outcome['code']}")
                    # Some clients give up: the first items each sender sees answered
                    # 503 while PostgreSQL was certainly down are not re-sent, and must
                    # not be stored.
                    if given_up < GIVE_UP_PER_SENDER and outage.covers(sent, time.monotonic()):
                        given_up += 1
                        with tally.lock:
                            tally.refused_in_outage.add(card)
                        break
                    time.sleep(RETRY_PAUSE)
                    continue
                if response.status_code != 200:
                    tally.failed.append(f"{card}: {response.status_code}")
                    break
                tally.count("200")
                with tally.lock:
                    tally.acknowledged[card] = response.json()["stored"]
                if n % RESEND_EVERY == 0:  # delivered again, to the other process
                    other = bases[(sender + n + attempt + 1) % len(bases)]
                    try:
                        again = post(session, other, card)
                    except requests.ConnectionError:
                        break
                    if again.status_code == 200:
                        with tally.lock:
                            tally.resent[card] = again.json()["stored"]
                break
            else:
                tally.failed.append(f"{card}: {MAX_ATTEMPTS} attempts")
        session.close()

    def wait_for(condition: Any, what: str) -> None:
        limit = time.monotonic() + PHASE_SECONDS
        while not condition():
            assert time.monotonic() < limit, f"waited {PHASE_SECONDS} s for {what}: {tally}"
            time.sleep(0.05)

    with ExitStack() as stack:
        first = stack.enter_context(running_service(tmp_path, SCLC_CDS_DATABASE_URL=pg_url))
        second_stack = ExitStack()
        second = second_stack.enter_context(running_service(tmp_path, SCLC_CDS_DATABASE_URL=pg_url))
        stack.callback(lambda: second_stack.close())
        bases.extend([first.base, second.base])
        senders = [threading.Thread(target=send, args=(s,)) for s in range(SENDERS)]
        for thread in senders:
            thread.start()
        try:
            wait_for(lambda: len(tally.acknowledged) >= 40, "40 items acknowledged")
            postgres.stop()
            outage.down_since = time.monotonic()
            wait_for(lambda: tally.statuses["503 transient"] >= 20, "503s while it is down")
            second_stack.close()  # the second process restarts while PostgreSQL is down
            second_stack = ExitStack()
            bases[1] = second_stack.enter_context(
                running_service(tmp_path, SCLC_CDS_DATABASE_URL=pg_url)
            ).base
            time.sleep(0.5)  # the new process answers 503 too
            outage.up_at = time.monotonic()
            postgres.start()
        finally:
            if not postgres.is_running():
                postgres.start()
            for thread in senders:
                thread.join(timeout=max(1.0, deadline - time.monotonic()))
        assert not any(thread.is_alive() for thread in senders)
        # Every acknowledged item, delivered once more after everything: nothing new.
        session = requests.Session()
        again = [post(session, bases[i % 2], card) for i, card in enumerate(tally.acknowledged)]
        session.close()

    stored = stored_cards(pg_url)
    sent = SENDERS * ITEMS_PER_SENDER
    print(
        f"\nsent {sent} items; acknowledged {len(tally.acknowledged)}; refused in the outage "
        f"and not re-sent {len(tally.refused_in_outage)}; stored {len(stored)} rows; "
        f"answers {dict(tally.statuses)}; redelivered at once {len(tally.resent)}"
    )
    assert tally.failed == []
    assert tally.statuses["503 transient"] >= 20
    assert set(tally.statuses) <= {"200", "503 transient", "connection refused"}
    assert tally.refused_in_outage, "no item was answered 503 while PostgreSQL was down"
    assert len(tally.acknowledged) + len(tally.refused_in_outage) == sent
    # Stored: exactly the acknowledged items, each once; nothing answered only 503.
    assert len(stored) == len(set(stored))
    assert set(stored) == set(tally.acknowledged)
    assert not tally.refused_in_outage & set(stored)
    assert set(tally.resent.values()) <= {0}
    assert [(r.status_code, r.json()["stored"]) for r in again] == [(200, 0)] * len(again)


def test_with_postgres_stopped_feedback_is_503_and_hooks_answer(
    postgres: Postgres, pg_url: str, tmp_path: Path
) -> None:
    """PostgreSQL stopped: feedback 503 (OperationOutcome, 'transient') from a running
    process and from one started meanwhile; patient-view still 200 with cards; once it
    is back, feedback is stored again."""
    body = feedback_body("card-outage")
    with ExitStack() as stack:
        running = stack.enter_context(running_service(tmp_path, SCLC_CDS_DATABASE_URL=pg_url))
        assert running.call("POST", FEEDBACK, json=feedback_body("card-before")).status_code == 200
        postgres.stop()
        try:
            started: Live = stack.enter_context(
                running_service(tmp_path, SCLC_CDS_DATABASE_URL=pg_url)
            )
            for live in (running, started):
                refused = live.call("POST", FEEDBACK, json=body)
                assert refused.status_code == 503
                assert refused.headers["Content-Type"].startswith("application/json")
                outcome = refused.json()
                assert outcome["resourceType"] == "OperationOutcome"
                assert outcome["issue"][0]["code"] == "transient"
                hook = live.call("POST", PATIENT_VIEW, json=hook_request())
                assert hook.status_code == 200
                assert hook.json()["cards"]
        finally:
            postgres.start()
        for live in (started, running):
            answer = live.call("POST", FEEDBACK, json=body)
            assert answer.status_code == 200
        assert sorted(stored_cards(pg_url)) == ["card-before", "card-outage"]
