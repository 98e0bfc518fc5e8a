"""Fetch what a CDS client did not prefetch from its FHIR server (CDS Hooks 2.0.1).

- `FhirClient` reads (`GET Type/id`) and searches (`POST Type/_search`, falling back to
  `GET Type?…`), following `Bundle.link[next]` up to a page cap, with the
  `fhirAuthorization` bearer token ("FHIR Resource Access"), within the `Limits` of one
  hook call: one wall-clock budget for all its requests, bytes per answer and per call.
- `service.fetch.gather` uses it for the keys a request did not prefetch;
  `service.fetch.templates` renders the templates.

Bounds, because the FHIR server is named by the caller and may be hostile: answers are
read as they arrive, the deadline and byte counts checked between reads, so a server
dripping one byte at a time holds a call no longer than the budget; redirects are not
followed; every URL is normalised and must stay under the FHIR server's base
(`service.fetch.urls`), so the token goes nowhere else. Every way the server can fail
(refused, silent, reset, TLS, HTTP status, not FHIR JSON, too large, redirected, out of
time) gives the caller one and the same message, so a caller learns nothing about the
ports of the network the service sits in; the log records the error class, never a
URL, id or token.

At the end of the budget every connection the call opened is shut (`FhirClient.stop`),
so a server that drips its status line or headers, before there is an answer to cut,
loses the call's threads at once instead of holding them until it stops: the sessions'
connection pools note each connection once it is connected (`_watched`). (A TLS
handshake still in progress is the one step not cut: each of its reads is bounded by
the read timeout.)
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
import urllib3.exceptions
import urllib3.poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from service.fetch.urls import allowed, normalise

__all__ = [
    "DEFAULT_LIMITS",
    "DEFAULT_PAGE_CAP",
    "DEFAULT_TIMEOUTS",
    "MAX_THREADS",
    "FhirClient",
    "Fetched",
    "Limits",
    "SessionFactory",
    "Timeouts",
    "Unusable",
    "is_operation_outcome",
    "next_link",
]

# A child of the service's JSON log (service.http.log): the message is a JSON object.
log = logging.getLogger("sclc_cds.fhir")

SessionFactory = Callable[[], requests.Session]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and then for each read from the FHIR server
    (each never more than what is left of the call's budget)."""

    connect: float = 3.05
    read: float = 10.0


DEFAULT_TIMEOUTS = Timeouts()
# A patient's searchset rarely needs more than a few pages of a server's default size;
# the cap bounds the requests one key can make.
DEFAULT_PAGE_CAP = 20


@dataclass(frozen=True, slots=True)
class Limits:
    """What one hook call may spend on its FHIR server: `seconds` of wall clock for all
    its requests, `answer_bytes` per answer, `call_bytes` for all answers together,
    `page_cap` pages per search, and the socket `timeouts`."""

    seconds: float = 5.0
    answer_bytes: int = 10 * 1024 * 1024
    call_bytes: int = 32 * 1024 * 1024
    page_cap: int = DEFAULT_PAGE_CAP
    timeouts: Timeouts = DEFAULT_TIMEOUTS


DEFAULT_LIMITS = Limits()
# Threads of one call: one per prefetch key (the registry's services have six).
MAX_THREADS = 6
# Bytes asked of the socket per read: `read1` returns what has arrived, up to this.
_CHUNK_BYTES = 64 * 1024

_READ = re.compile(r"^([A-Z][A-Za-z]+)/([^/?]+)$")
_SEARCH = re.compile(r"^([A-Z][A-Za-z]+)(?:\?(.*))?$")
# A server that does not take `POST _search` answers one of these; GET is tried then.
_NO_POST_SEARCH = frozenset({404, 405, 501})
_FHIR_JSON = "application/fhir+json, application/json;q=0.9"
_DIGITS = re.compile(r"[0-9]{1,18}")


def is_operation_outcome(value: Any) -> bool:
    return isinstance(value, dict) and value.get("resourceType") == "OperationOutcome"


def next_link(bundle: Mapping[str, Any]) -> str | None:
    for link in bundle.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def _entries(bundle: Mapping[str, Any]) -> list[Any]:
    entries = bundle.get("entry") or []
    return list(entries) if isinstance(entries, list) else []


class Unusable(Exception):
    """One request to the FHIR server gave nothing usable. `reason` is for the log only
    (an error class or a word, never a URL, id or token); `status` is the HTTP status
    when the server answered one."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class _OutOfTime(Unusable):
    """The call's budget ended (or the call stopped its requests) before the answer."""

    def __init__(self) -> None:
        super().__init__("budget")


@dataclass(frozen=True, slots=True)
class Fetched:
    """A read's resource, or a search's Bundle holding the entries of every page read.

    `cut_short` says why the paging stopped before the last page ("page cap" or "time
    budget"), after `pages` pages; None when there was no page left to read.
    """

    document: dict[str, Any]
    pages: int = 1
    cut_short: str | None = None


# The FhirClient whose request this thread is sending (set around each request).
_SENDING = threading.local()


def _note_connected(connection: HTTPConnection) -> None:
    client: FhirClient | None = getattr(_SENDING, "client", None)
    if client is not None:
        client._connected(connection)


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        _note_connected(self)


class _WatchedHTTPSConnection(HTTPSConnection):
    def connect(self) -> None:
        super().connect()  # TCP and the TLS handshake
        _note_connected(self)


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


def _watched(session: requests.Session) -> requests.Session:
    """`session`, whose plain HTTP(S) adapters note every connection they make for the
    client sending on this thread; adapters of other kinds (the service's own /fhir in
    process, a test's transport) and connections through a proxy are left as they are."""
    for adapter in session.adapters.values():
        manager = getattr(adapter, "poolmanager", None)
        if (
            isinstance(manager, urllib3.PoolManager)
            and manager.pool_classes_by_scheme is urllib3.poolmanager.pool_classes_by_scheme
        ):
            manager.pool_classes_by_scheme = _WATCHED_POOLS
    return session


class FhirClient:
    """A CDS client's FHIR server, on behalf of one hook call, within `limits`.

    The budget starts when the client is made. `base_url` is normalised
    (`service.fetch.urls`; ValueError when it cannot be) and every request must stay
    under it. Each thread that sends requests gets a session of its own from
    `sessions` (a requests.Session is not thread-safe); `close` closes them all.
    `requests_made` counts HTTP requests, for the hook's log line.
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | None,
        sessions: SessionFactory,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.base_url = normalise(base_url).rstrip("/")
        self.limits = limits
        self._deadline = time.monotonic() + limits.seconds
        self._headers = {"Accept": _FHIR_JSON}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._sessions = sessions
        self._local = threading.local()
        self._lock = threading.Lock()
        self._opened: list[requests.Session] = []
        self._closed = False
        self._reading: set[requests.Response] = set()
        self._connections: set[HTTPConnection] = set()
        self._stopped = False
        self._call_bytes = 0
        self.requests_made = 0

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def remaining(self) -> float:
        """Seconds left of the call's budget (none when 0 or less)."""
        return self._deadline - time.monotonic()

    def stop(self) -> None:
        """End the budget now, from any thread: answers being read are cut and every
        connection the client opened is shut (their reads wake at once, even before a
        status line or between headers), and no new request starts."""
        with self._lock:
            self._deadline = min(self._deadline, time.monotonic())
            self._stopped = True
            reading = list(self._reading)
            connections = list(self._connections)
        for response in reading:
            # Already closed by its thread, or released: nothing left to cut.
            with contextlib.suppress(OSError, RuntimeError, ValueError):
                response.raw.shutdown()
        for connection in connections:
            _shut(connection)

    def _connected(self, connection: HTTPConnection) -> None:
        """A connection one of the client's threads has just opened (`_watched`); shut at
        once when the client has stopped meanwhile."""
        with self._lock:
            self._connections.add(connection)
            stopped = self._stopped
        if stopped:
            _shut(connection)

    def close(self) -> None:
        """Close every session the client opened."""
        with self._lock:
            opened, self._opened, self._closed = self._opened, [], True
        for session in opened:
            session.close()
        with self._lock:
            self._connections.clear()

    def fetch(self, query: str) -> Fetched:
        """A read (`Type/id`) or a search (`Type?params`, every page read in one Bundle)."""
        if _READ.match(query):
            return Fetched(self._send("GET", f"{self.base_url}/{query}"))
        hit = _SEARCH.match(query)
        if hit is None:
            raise Unusable("not-a-read-or-search")
        params = parse_qsl(hit.group(2) or "", keep_blank_values=True)
        return self.complete(self._search(hit.group(1), params))

    def complete(self, bundle: dict[str, Any]) -> Fetched:
        """`bundle` with the entries of its following pages (`link[next]`).

        Next links must be absolute and under the FHIR server's base: the bearer token
        goes nowhere else. Reaching the page cap or the end of the budget keeps the
        pages read (logged, and reported in `cut_short`); it is not an error.
        """
        if bundle.get("resourceType") != "Bundle":
            raise Unusable("not-a-bundle")
        entries = _entries(bundle)
        page, pages = bundle, 1
        while (url := next_link(page)) is not None:
            if pages >= self.limits.page_cap:
                return _cut(bundle, entries, pages=pages, why="page cap")
            try:
                page = self._send("GET", url)
            except _OutOfTime:
                return _cut(bundle, entries, pages=pages, why="time budget")
            if page.get("resourceType") != "Bundle":
                raise Unusable("not-a-bundle")
            entries.extend(_entries(page))
            pages += 1
        return Fetched({**bundle, "entry": entries, "link": []}, pages=pages)

    def _search(self, kind: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        """The first page: `POST Type/_search` (keeps the patient id out of URLs)."""
        try:
            return self._send("POST", f"{self.base_url}/{kind}/_search", data=params)
        except Unusable as error:
            if error.status not in _NO_POST_SEARCH:
                raise
        return self._send("GET", f"{self.base_url}/{kind}?{_encode(params)}")

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            with self._lock:
                if self._closed:  # a thread the call stopped waiting for
                    raise _OutOfTime()
                session = self._local.session = _watched(self._sessions())
                self._opened.append(session)
        return session

    def _failure(self, reason: str) -> Unusable:
        return _OutOfTime() if self.remaining() <= 0 else Unusable(reason)

    def _send(self, method: str, url: str, *, data: Any = None) -> dict[str, Any]:
        """The FHIR resource `url` answers; Unusable when there is none."""
        if not allowed(url, [self.base_url]):
            raise Unusable("off-server-url")
        left = self.remaining()
        if left <= 0:
            raise _OutOfTime()
        with self._lock:
            self.requests_made += 1
        timeouts = self.limits.timeouts
        session = self._session()
        _SENDING.client = self  # the connections it opens are this client's (`_watched`)
        try:
            response = session.request(
                method,
                normalise(url),
                headers=self._headers,
                data=data,
                timeout=(min(timeouts.connect, left), min(timeouts.read, left)),
                stream=True,  # read below, chunk by chunk, against the deadline and caps
                allow_redirects=False,  # a redirect could take the token elsewhere
            )
        except requests.RequestException as error:
            raise self._failure(type(error).__name__) from None
        finally:
            _SENDING.client = None
        with self._lock:
            self._reading.add(response)
        try:
            return self._document(response)
        finally:
            with self._lock:
                self._reading.discard(response)
            response.close()

    def _document(self, response: requests.Response) -> dict[str, Any]:
        status = response.status_code
        if 300 <= status < 400:
            raise Unusable("redirect", status=status)
        if status >= 400:
            raise Unusable(f"HTTP {status}", status=status)
        declared = response.headers.get("Content-Length", "")
        if _DIGITS.fullmatch(declared) and int(declared) > self.limits.answer_bytes:
            raise Unusable("too-large")
        try:
            document = json.loads(self._body(response))
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raise Unusable("not-json") from None
        if not isinstance(document, dict) or not isinstance(document.get("resourceType"), str):
            raise Unusable("not-fhir")
        if is_operation_outcome(document):
            raise Unusable("operation-outcome")
        return document

    def _body(self, response: requests.Response) -> bytes:
        """The answer's bytes, read as they arrive: `read1` returns whatever has come (a
        plain read waits for a whole chunk, which a server dripping bytes never sends), so
        the deadline and the caps are checked between reads."""
        chunks: list[bytes] = []
        size = 0
        while True:
            if self.remaining() <= 0:
                raise _OutOfTime()
            try:
                chunk = response.raw.read1(_CHUNK_BYTES, decode_content=True)
            except (urllib3.exceptions.HTTPError, OSError) as error:
                raise self._failure(type(error).__name__) from None
            if not chunk:
                response.raw.release_conn()  # read to the end: the connection can serve again
                break
            size += len(chunk)
            if size > self.limits.answer_bytes or not self._count(len(chunk)):
                raise Unusable("too-large")
            chunks.append(chunk)
        if self.remaining() <= 0:  # `stop` ended the reading, not the server
            raise _OutOfTime()
        return b"".join(chunks)

    def _count(self, size: int) -> bool:
        """Add `size` bytes to the call's total; False when that is over its cap."""
        with self._lock:
            self._call_bytes += size
            return self._call_bytes <= self.limits.call_bytes


def _shut(connection: HTTPConnection) -> None:
    """Shut `connection`'s socket both ways: a read waiting on it returns at once."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            # socket.socket's own shutdown: on a TLS socket too, without its TLS state
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def _cut(bundle: dict[str, Any], entries: list[Any], *, pages: int, why: str) -> Fetched:
    event = "fhir-page-cap" if why == "page cap" else "fhir-budget"
    log.warning(json.dumps({"event": event, "pages": pages}))
    return Fetched({**bundle, "entry": entries, "link": []}, pages=pages, cut_short=why)


def _encode(params: list[tuple[str, str]]) -> str:
    return urlencode(params, safe=",|:/")
