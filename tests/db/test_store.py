"""`service.store.Store` on both backends: feedback stored once, JWT ids accepted once
(across threads and processes), and a database that does not answer is a 503 error."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy

from service.errors import StoreUnavailable, TokenStoreUnavailable
from service.feedback import FeedbackItem, parse_feedback
from service.store import APP_SESSIONS, SEEN_TOKENS, Store
from tests.conftest import ROOT
from tests.http.support import free_port

ISSUER = "https://ehr.example.org"
SOON = datetime.now(UTC) + timedelta(minutes=5)
PROCESSES = 2
THREADS = 8
JTIS = 25
WORKER_SECONDS = 60


def items(*cards: str) -> tuple[FeedbackItem, ...]:
    return parse_feedback(
        {
            "feedback": [
                {
                    "card": card,
                    "outcome": "accepted",
                    "acceptedSuggestions": [{"id": "s1"}],
                    "outcomeTimestamp": "2026-11-21T10:05:31Z",
                }
                for card in cards
            ]
        }
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'new' / 'store.sqlite3'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    opened = Store.open(url)
    yield opened
    opened.close()


def test_open_creates_the_schema(store: Store) -> None:
    """Both tables exist once the store is built, before any call."""
    tables = set(sqlalchemy.inspect(store.engine).get_table_names())
    assert {"feedback", "seen_tokens", "app_sessions"} <= tables


def test_opening_again_keeps_what_is_stored(url: str) -> None:
    """A second store on the same database (a restart, another replica) sees the rows."""
    first = Store.open(url)
    assert first.add_feedback("svc", items("a", "b")) == 2
    first.close()
    second = Store.open(url)
    assert second.add_feedback("svc", items("b", "c")) == 1
    assert second.count_feedback() == 3
    second.close()


def test_feedback_is_stored_once_per_distinct_item(store: Store) -> None:
    """A redelivery, or the same item twice in one call, is not stored again."""
    assert store.add_feedback("svc", items("a", "b")) == 2
    assert store.add_feedback("svc", items("a")) == 0
    assert store.add_feedback("svc", items("c", "c")) == 1
    assert store.add_feedback("other", items("a")) == 1
    assert (store.count_feedback(), store.count_feedback("svc")) == (4, 3)


def test_a_token_id_is_accepted_the_first_time_only(store: Store) -> None:
    """True for a new (issuer, jti), False for it again; another issuer or jti is new."""
    assert store.remember_token(ISSUER, "jti-1", SOON) is True
    assert store.remember_token(ISSUER, "jti-1", SOON) is False
    assert store.remember_token("https://other.example.org", "jti-1", SOON) is True
    assert store.remember_token(ISSUER, "jti-2", SOON) is True
    assert store.remember_token(ISSUER, "x" * 10_000, SOON) is True  # any length


def test_an_expired_token_id_is_forgotten(store: Store) -> None:
    """Once its token has expired, a jti's row is purged (and the jti is new again)."""
    past = datetime.now(UTC) - timedelta(minutes=1)
    assert store.remember_token(ISSUER, "old-1", past) is True
    assert store.remember_token(ISSUER, "old-2", past) is True
    assert store.remember_token(ISSUER, "old-1", SOON) is True
    store._next_purge = 0.0  # the next call purges, as it would a minute later
    assert store.remember_token(ISSUER, "new", SOON) is True
    count = sqlalchemy.select(sqlalchemy.func.count()).select_from(SEEN_TOKENS)
    with store.engine.connect() as connection:
        assert connection.execute(count).scalar_one() == 2  # old-1 (again) and new; not old-2


def test_a_token_id_is_accepted_once_across_threads_and_processes(url: str) -> None:
    """Two processes of 8 threads each present the same 25 jtis at the same moment:
    each jti is accepted by exactly one call."""
    Store.open(url).close()  # the schema, as the app's start would create it
    jtis = [f"jti-{n:02d}" for n in range(JTIS)]
    start = time.time() + 2.0  # both processes imported and connected by then
    command = [sys.executable, "-m", "tests.db.token_worker", url, str(start), str(THREADS)]
    workers = [
        subprocess.Popen(
            [*command, ISSUER, *jtis],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(PROCESSES)
    ]
    outputs = [worker.communicate(timeout=WORKER_SECONDS) for worker in workers]
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr.decode(errors="replace")
        assert b"Traceback" not in stderr, stderr.decode(errors="replace")
    counts = [json.loads(stdout) for stdout, _ in outputs]
    assert {jti: sum(c[jti] for c in counts) for jti in jtis} == dict.fromkeys(jtis, 1)


def test_an_unreachable_database_is_store_unavailable() -> None:
    """PostgreSQL not answering: the store still opens (the service starts); feedback
    raises StoreUnavailable (503), the replay check its own TokenStoreUnavailable."""
    store = Store.open(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    with pytest.raises(StoreUnavailable) as feedback:
        store.add_feedback("svc", items("a"))
    assert not isinstance(feedback.value, TokenStoreUnavailable)
    assert (feedback.value.status, feedback.value.code) == (503, "transient")
    with pytest.raises(StoreUnavailable):
        store.count_feedback()
    with pytest.raises(TokenStoreUnavailable) as replay:
        store.remember_token(ISSUER, "jti", SOON)
    assert replay.value.status == 503
    store.close()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "mysql://db.example.org/x",
        "postgresql+psycopg2://db.example.org/x",
        "sqlite://",
        "sqlite:///:memory:",
    ],
)
def test_an_unusable_url_is_a_value_error(url: str) -> None:
    """A bad SCLC_CDS_DATABASE_URL stops the service at start."""
    with pytest.raises(ValueError, match="database"):
        Store.open(url)


def _session_rows(store: Store) -> list[tuple[str, ...]]:
    with store.engine.connect() as connection:
        rows = connection.execute(sqlalchemy.select(APP_SESSIONS)).all()
    return [tuple(str(value) for value in row) for row in rows]


def test_an_app_session_is_kept_under_a_hash_of_its_id_and_ended_once(store: Store) -> None:
    """The row names no session id (a copy of the table opens no session); the data
    comes back while the session lives, and ending it gives it once."""
    limits = {"idle_seconds": 60, "max_seconds": 3600}
    store.add_session("the-id", {"grant": {"patient": "p"}}, keep=10, **limits)
    assert not any("the-id" in value for row in _session_rows(store) for value in row)
    assert store.use_session("the-id", **limits) == {"grant": {"patient": "p"}}
    assert store.use_session("another-id", **limits) is None
    assert store.end_session("the-id", **limits) == {"grant": {"patient": "p"}}
    assert store.end_session("the-id", **limits) is None
    assert store.use_session("the-id", **limits) is None
    assert _session_rows(store) == []


def test_app_sessions_expire_idle_or_old_and_only_the_newest_are_kept(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unused for `idle_seconds`, or begun `max_seconds` ago, a session is gone (and its
    row deleted); a new session evicts all but the `keep` newest."""
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    limits = {"idle_seconds": 10, "max_seconds": 30}
    store.add_session("idle", {}, keep=10, **limits)
    store.add_session("used", {}, keep=10, **limits)
    for _ in range(3):  # used every 8 s: never idle 10 s, but 24 s old
        clock[0] += 8
        assert store.use_session("used", **limits) == {}
    assert store.use_session("idle", **limits) is None
    clock[0] += 8  # 32 s old
    assert store.use_session("used", **limits) is None
    assert _session_rows(store) == []
    for n in range(5):
        clock[0] += 1
        store.add_session(f"s{n}", {"n": n}, keep=3, **limits)
    assert len(_session_rows(store)) == 3
    assert [store.use_session(f"s{n}", **limits) for n in range(5)] == [
        None,
        None,
        {"n": 2},
        {"n": 3},
        {"n": 4},
    ]
