"""The service's database: feedback items, the JWT ids already seen, and the SMART
app's sessions.

One SQLAlchemy Core schema (`METADATA`: tables `feedback`, `seen_tokens` and
`app_sessions`) on one of two backends, chosen by URL (`database_url`):

- SQLite, the default (`SCLC_CDS_FEEDBACK_DB`): one file in WAL mode with a busy
  timeout, shared by the processes of one host;
- PostgreSQL (`SCLC_CDS_DATABASE_URL`, `postgresql+psycopg://user@host:port/db`): shared
  by every replica.

The schema is created once, when the store is built at app start (`Store.open`); when
the database does not answer then, the first call that reaches it creates it. Every
write is one row's `INSERT … ON CONFLICT DO NOTHING … RETURNING` on a unique key: one
row back means it is new, none that it was there already. So a feedback item delivered
twice is stored once, and of two workers or replicas shown one JWT id, exactly one
accepts it (the database's unique index decides, not a read before the write).

An app session (`add_session`, `use_session`, `end_session`) is one row keyed by the
SHA-256 of its id, never the id itself: the browser's cookie holds the id, the row the
EHR's tokens, so neither alone is a sign-in. Rows expire when idle or too old and the
table keeps only the newest `keep` rows.

A database that does not answer (down, restarting, locked too long) raises
`StoreUnavailable` (503), or `TokenStoreUnavailable` from `remember_token`; nothing was
acknowledged, so the client may send the same request again. Hook calls never touch
the store.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    delete,
    event,
    exc,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.schema import CreateIndex, CreateTable

from service.errors import SclcCdsError, StoreUnavailable, TokenStoreUnavailable
from service.feedback import FeedbackItem

__all__ = ["APP_SESSIONS", "FEEDBACK", "METADATA", "SEEN_TOKENS", "Store", "database_url"]

METADATA = MetaData()
# The columns that make one feedback item unique: a redelivery of the same item
# (same service, card, outcome, time and content) collapses into the row stored before.
FEEDBACK_KEY = ("service_id", "card", "outcome", "outcome_timestamp", "item_sha256")
FEEDBACK = Table(
    "feedback",
    METADATA,
    # SQLite numbers rows only through an INTEGER PRIMARY KEY; PostgreSQL gets a bigserial.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("service_id", Text, nullable=False),
    Column("card", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("outcome_timestamp", Text, nullable=False),  # ISO 8601 in UTC
    Column("item_sha256", Text, nullable=False),
    Column("item", Text, nullable=False),  # the item's JSON as received, keys sorted
    Column("received_at", Text, nullable=False),  # ISO 8601 in UTC, to the second
    UniqueConstraint(*FEEDBACK_KEY, name="feedback_once"),
)
SEEN_TOKENS = Table(
    "seen_tokens",
    METADATA,
    Column("issuer", Text, primary_key=True),
    # A hash, so an index row stays small whatever the length of the client's jti.
    Column("jti_sha256", Text, primary_key=True),
    Column("expires_at", BigInteger, nullable=False),  # Unix seconds
    Index("seen_tokens_expiry", "expires_at"),
)
APP_SESSIONS = Table(
    "app_sessions",
    METADATA,
    # A hash of the session id: a copy of the table names no cookie that would work.
    Column("id_sha256", Text, primary_key=True),
    Column("data", Text, nullable=False),  # JSON: the pending launch, or the grant
    Column("created_at", BigInteger, nullable=False),  # Unix seconds
    Column("used_at", BigInteger, nullable=False),  # Unix seconds, of the last use
    Index("app_sessions_created", "created_at"),
)

# SQLite: how long a writer waits for another's lock before giving up (503).
BUSY_TIMEOUT_SECONDS = 10.0
# PostgreSQL: connecting, one statement, and waiting for a pooled connection, each
# bounded well inside gunicorn's 30 s worker timeout.
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_MS = 10_000
POOL_TIMEOUT_SECONDS = 5.0
POOL_SIZE = 5  # a worker's threads (4 by default) and one spare
POOL_RECYCLE_SECONDS = 1800
# Expired JWT ids are deleted by the first `remember_token` after this many seconds.
PURGE_EVERY_SECONDS = 60
# Any constant: the PostgreSQL advisory lock that serialises concurrent schema creation
# (CREATE TABLE IF NOT EXISTS alone can still collide in pg_type).
_SCHEMA_LOCK = 0x5C1C_CD5
# Errors that mean "the database does not answer now", not "this request is wrong".
_TRANSIENT = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, exc.DisconnectionError)


def database_url(url: str | None, sqlite_path: Path) -> str:
    """`url` (SCLC_CDS_DATABASE_URL) if set, else the SQLite file's URL."""
    return url or URL.create("sqlite", database=str(sqlite_path)).render_as_string()


def _is_transient(error: exc.SQLAlchemyError) -> bool:
    return isinstance(error, _TRANSIENT) or (
        isinstance(error, exc.DBAPIError) and error.connection_invalidated
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Each new SQLite connection: write-ahead log, and durable at every commit."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")  # readers go on while one writes
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _engine(url: URL) -> Engine:
    if url.get_backend_name() == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the SQLite database must be a file")
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_pre_ping=True,
            # sqlite3's `timeout` is SQLite's busy timeout: wait for a lock, do not fail.
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":  # psycopg 3 is the driver this package declares
            url = url.set(drivername="postgresql+psycopg")
        return create_engine(
            url,
            pool_pre_ping=True,  # a restarted server's dead connections are replaced
            pool_size=POOL_SIZE,
            max_overflow=POOL_SIZE,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            pool_recycle=POOL_RECYCLE_SECONDS,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
                "application_name": "sclc-cds",
            },
        )
    raise ValueError("the database URL must be postgresql+psycopg://… or sqlite:///…")


class Store:
    """Feedback and seen JWT ids in one database (SQLite file or PostgreSQL).

    Safe to share between threads (a connection pool) and processes (the database's
    own locking and unique keys). Build it with `Store.open`.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
        self._schema_lock = threading.Lock()
        self._schema_ready = False
        self._next_purge = 0.0

    @classmethod
    def open(cls, url: str) -> Store:
        """The store at `url`, its schema created now if the database answers (else by
        the first call that reaches it). ValueError when the URL is unusable."""
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise ValueError("the database URL is not a URL (dialect+driver://…)") from None
        try:
            store = cls(_engine(parsed))
        except (ImportError, exc.NoSuchModuleError):
            raise ValueError(
                "the database URL names a driver that is not installed: use "
                "postgresql+psycopg://… or sqlite:///…"
            ) from None
        try:
            store._ensure_schema()
        except StoreUnavailable:
            pass  # the service starts anyway: hook calls do not need the database
        # gunicorn forks its workers after the app is built: no pooled connection may be
        # shared by two processes, so each worker opens its own.
        store._engine.dispose()
        return store

    @classmethod
    def sqlite(cls, path: Path) -> Store:
        """The store in the SQLite file `path` (created, with its folder, if absent)."""
        return cls.open(database_url(None, path))

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (its pool): for tests and maintenance."""
        return self._engine

    def close(self) -> None:
        """Close the pooled connections (the store opens new ones if used again)."""
        self._engine.dispose()

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            try:
                with self._engine.begin() as connection:
                    if self._engine.dialect.name == "postgresql":
                        connection.execute(
                            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK}
                        )
                    for table in METADATA.sorted_tables:
                        connection.execute(CreateTable(table, if_not_exists=True))
                        for index in sorted(table.indexes, key=lambda i: str(i.name)):
                            connection.execute(CreateIndex(index, if_not_exists=True))
            except exc.SQLAlchemyError as error:
                raise self._failure(error, StoreUnavailable, "the database schema") from None
            self._schema_ready = True

    @staticmethod
    def _failure(
        error: exc.SQLAlchemyError, unavailable: type[StoreUnavailable], what: str
    ) -> SclcCdsError:
        """The project's error for `error`: 503 when the database does not answer."""
        if _is_transient(error):
            return unavailable(
                f"{what} could not be reached (the database is unavailable); try again later"
            )
        return SclcCdsError(f"{what}: the database failed ({error.__class__.__name__})")

    def add_feedback(self, service_id: str, items: Sequence[FeedbackItem]) -> int:
        """Store `items` for `service_id` in one transaction; the number not stored
        before (a redelivery: 0). StoreUnavailable (503) when the database does not answer."""
        received = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [
            {
                "service_id": service_id,
                "card": item.card,
                "outcome": item.outcome,
                "outcome_timestamp": item.outcome_timestamp.isoformat(),
                "item_sha256": item.sha256,
                "item": json.dumps(item.item, sort_keys=True),
                "received_at": received,
            }
            for item in items
        ]
        insert = (
            self._insert(FEEDBACK)
            .on_conflict_do_nothing(index_elements=FEEDBACK_KEY)
            .returning(FEEDBACK.c.id)
        )
        self._ensure_schema()
        try:
            with self._engine.begin() as connection:
                # One row a statement: it returns the new row's id, nothing for a duplicate.
                return sum(connection.execute(insert, row).first() is not None for row in rows)
        except exc.SQLAlchemyError as error:
            raise self._failure(error, StoreUnavailable, "the feedback") from None

    def count_feedback(self, service_id: str | None = None) -> int:
        """How many items are stored (for one service, or in all)."""
        query = select(func.count()).select_from(FEEDBACK)
        if service_id is not None:
            query = query.where(FEEDBACK.c.service_id == service_id)
        self._ensure_schema()
        try:
            with self._engine.connect() as connection:
                return int(connection.execute(query).scalar_one())
        except exc.SQLAlchemyError as error:
            raise self._failure(error, StoreUnavailable, "the feedback") from None

    def remember_token(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (`issuer`, `jti`) is seen; False when it was seen before
        and has not expired. One transaction on a unique key, so across threads,
        workers and replicas exactly one caller gets True. Expired ids are purged now
        and then. TokenStoreUnavailable (503) when the database does not answer.

        `expires_at` is the token's `exp`; a naive datetime is read as UTC.
        """
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
        now = int(time.time())
        jti_sha256 = hashlib.sha256(jti.encode("utf-8")).hexdigest()
        key = (SEEN_TOKENS.c.issuer == issuer) & (SEEN_TOKENS.c.jti_sha256 == jti_sha256)
        insert = (
            self._insert(SEEN_TOKENS)
            .on_conflict_do_nothing(index_elements=("issuer", "jti_sha256"))
            .returning(SEEN_TOKENS.c.expires_at)
        )
        expiry = int(expires_at.timestamp())
        row = {"issuer": issuer, "jti_sha256": jti_sha256, "expires_at": expiry}
        try:
            self._ensure_schema()
            with self._engine.begin() as connection:
                # A write first: SQLite takes its write lock here, not halfway through.
                connection.execute(delete(SEEN_TOKENS).where(key, SEEN_TOKENS.c.expires_at < now))
                self._purge_expired(connection, now)
                return connection.execute(insert, row).first() is not None  # new: a row
        except StoreUnavailable:
            raise TokenStoreUnavailable(
                "the JWT replay check could not reach the database; try again later"
            ) from None
        except exc.SQLAlchemyError as error:
            raise self._failure(error, TokenStoreUnavailable, "the JWT replay check") from None

    def _purge_expired(self, connection: Connection, now: int) -> None:
        """Delete expired JWT ids, at most once every PURGE_EVERY_SECONDS per store."""
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        connection.execute(delete(SEEN_TOKENS).where(SEEN_TOKENS.c.expires_at < now))

    # --- the SMART app's sessions ------------------------------------------------------

    @staticmethod
    def _session_key(session_id: str) -> Any:
        digest = hashlib.sha256(session_id.encode("utf-8")).hexdigest()
        return APP_SESSIONS.c.id_sha256 == digest

    @staticmethod
    def _live(now: int, idle_seconds: int, max_seconds: int) -> Any:
        return (APP_SESSIONS.c.used_at > now - idle_seconds) & (
            APP_SESSIONS.c.created_at > now - max_seconds
        )

    def add_session(
        self,
        session_id: str,
        data: Mapping[str, Any],
        *,
        idle_seconds: int,
        max_seconds: int,
        keep: int,
    ) -> None:
        """Keep `data` under a new `session_id`; expired sessions are deleted, and all but
        the `keep` newest. StoreUnavailable (503) when the database does not answer."""
        now = int(time.time())
        row = {
            "id_sha256": hashlib.sha256(session_id.encode("utf-8")).hexdigest(),
            "data": json.dumps(data),
            "created_at": now,
            "used_at": now,
        }
        newest = (
            select(APP_SESSIONS.c.id_sha256)
            .order_by(APP_SESSIONS.c.created_at.desc(), APP_SESSIONS.c.id_sha256)
            .offset(keep)
        )
        self._ensure_schema()
        try:
            with self._engine.begin() as connection:
                connection.execute(
                    delete(APP_SESSIONS).where(~self._live(now, idle_seconds, max_seconds))
                )
                connection.execute(APP_SESSIONS.insert(), row)
                connection.execute(delete(APP_SESSIONS).where(APP_SESSIONS.c.id_sha256.in_(newest)))
        except exc.SQLAlchemyError as error:
            raise self._failure(error, StoreUnavailable, "the app session") from None

    def use_session(
        self, session_id: str, *, idle_seconds: int, max_seconds: int
    ) -> dict[str, Any] | None:
        """The data of a live session, its last use now; None when it is unknown or
        expired (then it is deleted)."""
        now = int(time.time())
        key = self._session_key(session_id)
        touch = (
            update(APP_SESSIONS)
            .where(key, self._live(now, idle_seconds, max_seconds))
            .values(used_at=now)
            .returning(APP_SESSIONS.c.data)
        )
        self._ensure_schema()
        try:
            with self._engine.begin() as connection:
                data = connection.execute(touch).scalar_one_or_none()
                if data is None:
                    connection.execute(delete(APP_SESSIONS).where(key))
                    return None
        except exc.SQLAlchemyError as error:
            raise self._failure(error, StoreUnavailable, "the app session") from None
        return _session_data(data)

    def end_session(
        self, session_id: str, *, idle_seconds: int, max_seconds: int
    ) -> dict[str, Any] | None:
        """Delete the session; its data when it was live (so it is used once: of two
        requests ending it, one gets the data)."""
        now = int(time.time())
        end = (
            delete(APP_SESSIONS)
            .where(self._session_key(session_id))
            .returning(APP_SESSIONS.c.data, APP_SESSIONS.c.created_at, APP_SESSIONS.c.used_at)
        )
        self._ensure_schema()
        try:
            with self._engine.begin() as connection:
                row = connection.execute(end).first()
        except exc.SQLAlchemyError as error:
            raise self._failure(error, StoreUnavailable, "the app session") from None
        if row is None or row.used_at <= now - idle_seconds or row.created_at <= now - max_seconds:
            return None
        return _session_data(row.data)


def _session_data(text_value: str) -> dict[str, Any] | None:
    data = json.loads(text_value)
    return data if isinstance(data, dict) else None
