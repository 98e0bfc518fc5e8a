"""A small FHIR R4 server on 127.0.0.1 over one fixture bundle, started by the tests.

It answers what a CDS service sends a FHIR server: `GET /Type/id`, `GET /Type?…`,
`POST /Type/_search` (form body), searches by `patient`/`subject`, `code` and `_id`,
`_include=…:medication`, paging through `link[next]` (`_page`), and records every
request (method, path, query, body, Authorization) for the tests to assert on. It can
also refuse (any status), answer HTML, answer slowly, refuse `POST _search`, give next
links on another origin or path, drip its answers a byte at a time, answer a huge body
(counting the bytes it managed to send), or redirect every request elsewhere. Every
answer it writes ends within `MAX_ANSWER_SECONDS`, or when the server stops.

`search()` is the same matching, for building prefetch exactly as a CDS client would;
`silent_port()` is a port that takes connections and never answers.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Entry = dict[str, Any]
# No answer of the server is written for longer than this (a drip or a huge body), so
# a client that reads forever (the code before issue 9) still ends its test.
MAX_ANSWER_SECONDS = 10.0
_HUGE_CHUNK = b"x" * (64 * 1024)


def _patient_refs(entries: Sequence[Entry], patient_id: str) -> set[str]:
    refs = {f"Patient/{patient_id}", patient_id}
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient" and resource.get("id") == patient_id:
            if entry.get("fullUrl"):
                refs.add(entry["fullUrl"])
    return refs


def _subject(resource: Mapping[str, Any]) -> str | None:
    for name in ("subject", "patient"):
        reference = resource.get(name)
        if isinstance(reference, dict) and reference.get("reference"):
            return str(reference["reference"])
    return None


def _codes(resource: Mapping[str, Any]) -> set[str]:
    coding = (resource.get("code") or {}).get("coding") or []
    return {c.get("code") for c in coding if isinstance(c, dict)} - {None}


def _included(entries: Sequence[Entry], matches: Sequence[Entry]) -> list[Entry]:
    """The Medication entries the matches reference (`_include=…:medication`)."""
    wanted = {
        (m["resource"].get("medicationReference") or {}).get("reference") for m in matches
    } - {None}
    found = []
    for entry in entries:
        resource = entry["resource"]
        if resource["resourceType"] != "Medication":
            continue
        if f"Medication/{resource.get('id')}" in wanted or entry.get("fullUrl") in wanted:
            found.append({**entry, "search": {"mode": "include"}})
    return found


def search(entries: Sequence[Entry], kind: str, params: Sequence[tuple[str, str]]) -> list[Entry]:
    """The entries a FHIR server answers for `kind?params` (matches, then includes)."""
    matches = [e for e in entries if e["resource"]["resourceType"] == kind]
    includes = False
    for name, value in params:
        if name in ("patient", "subject"):
            refs = _patient_refs(entries, value.removeprefix("Patient/"))
            matches = [e for e in matches if _subject(e["resource"]) in refs]
        elif name == "code":
            wanted = {v.rpartition("|")[2] for v in value.split(",")}
            matches = [e for e in matches if _codes(e["resource"]) & wanted]
        elif name == "_id":
            matches = [e for e in matches if e["resource"].get("id") in value.split(",")]
        elif name == "_include" and value.endswith(":medication"):
            includes = True
    found = [{**e, "search": {"mode": "match"}} for e in matches]
    return found + (_included(entries, matches) if includes else [])


@dataclass(frozen=True)
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: str
    body: str
    authorization: str | None


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up (a timeout test) is expected: no traceback for it."""

    request_queue_size = 128  # a hundred connections at once (16 calls of 6 requests)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@dataclass
class FhirServer:
    """The server; use as a context manager (it always stops)."""

    bundle: Mapping[str, Any]
    page_size: int = 50
    token: str | None = None  # when set, anything else than `Bearer <token>` gets 401
    status: int | None = None  # when set, every request gets this status
    html: bool = False  # answer 200 text/html instead of FHIR JSON
    delay: float = 0.0  # seconds to wait before answering
    post_search: bool = True  # False: `POST _search` answers 405
    next_origin: str | None = None  # next links on this origin instead
    next_path: str = "/fhir"  # next links under this path instead (`/fhir/../admin`)
    drip: float = 0.0  # seconds between the bytes of an answer's body (headers at once)
    huge: int = 0  # answer every request with a body of this many bytes (not FHIR)
    declare_length: bool = True  # False: the huge body has no Content-Length
    redirect_to: str | None = None  # answer 302 to this base URL (+ the path asked)
    seen: list[Seen] = field(default_factory=list)
    sent: int = 0  # bytes of answer bodies written to the socket (drips, huge bodies)

    def __post_init__(self) -> None:
        self.entries: list[Entry] = [
            {k: v for k, v in e.items() if k in ("fullUrl", "resource")}
            for e in self.bundle.get("entry", [])
        ]
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/fhir"

    def __enter__(self) -> FhirServer:
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def searches(self) -> Iterator[Seen]:
        """The first-page searches received (not reads, not next pages)."""
        return (s for s in self.seen if "_page=" not in s.query and not _is_read(s.path))

    def _answer(self, seen: Seen) -> tuple[int, str, bytes]:
        if self.delay:
            time.sleep(self.delay)
        if self.token is not None and seen.authorization != f"Bearer {self.token}":
            return 401, *_outcome("login", "bearer token required")
        if self.status is not None:
            return self.status, *_outcome("exception", f"refused with {self.status}")
        if self.html:
            return 200, "text/html", b"<html><body>Sign in</body></html>"
        parts = seen.path.removeprefix("/fhir/").split("/")
        if seen.method == "GET" and len(parts) == 2:
            return self._read(*parts)
        if seen.method == "POST" and len(parts) == 2 and parts[1] == "_search":
            if not self.post_search:
                return 405, *_outcome("not-supported", "POST _search is not supported")
            return self._search(parts[0], parse_qsl(seen.body) + parse_qsl(seen.query))
        if seen.method == "GET" and len(parts) == 1:
            return self._search(parts[0], parse_qsl(seen.query))
        return 404, *_outcome("not-found", "unknown interaction")

    def _read(self, kind: str, ident: str) -> tuple[int, str, bytes]:
        for entry in self.entries:
            resource = entry["resource"]
            if resource["resourceType"] == kind and resource.get("id") == ident:
                return 200, "application/fhir+json", json.dumps(resource).encode()
        return 404, *_outcome("not-found", f"no {kind}/{ident}")

    def _search(self, kind: str, params: list[tuple[str, str]]) -> tuple[int, str, bytes]:
        page = int(dict(params).get("_page", "0"))
        criteria = [(k, v) for k, v in params if k != "_page"]
        found = search(self.entries, kind, criteria)
        start = page * self.page_size
        bundle: dict[str, Any] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len([e for e in found if e["search"]["mode"] == "match"]),
            "entry": found[start : start + self.page_size],
        }
        if start + self.page_size < len(found):
            origin = self.next_origin or self.base_url.removesuffix("/fhir")
            query = urlencode([*criteria, ("_page", str(page + 1))])
            url = f"{origin}{self.next_path}/{kind}?{query}"
            bundle["link"] = [{"relation": "next", "url": url}]
        return 200, "application/fhir+json", json.dumps(bundle).encode()

    def _count(self, size: int) -> None:
        with self._lock:
            self.sent += size

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _respond(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                seen = Seen(
                    self.command, parts.path, parts.query, body, self.headers.get("Authorization")
                )
                with server._lock:
                    server.seen.append(seen)
                if server.redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", f"{server.redirect_to}{self.path}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if server.huge:
                    self._write_huge()
                    return
                status, content_type, payload = server._answer(seen)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if server.drip:
                    self._write_dripping(payload)
                else:
                    self.wfile.write(payload)

            def _write_dripping(self, payload: bytes) -> None:
                ends = time.monotonic() + MAX_ANSWER_SECONDS
                for index in range(len(payload)):
                    if server._stopping.is_set() or time.monotonic() > ends:
                        return
                    self.wfile.write(payload[index : index + 1])
                    server._count(1)
                    time.sleep(server.drip)

            def _write_huge(self) -> None:
                # A small send buffer, so `sent` is close to what the client took.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * 1024)
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+json")
                if server.declare_length:
                    self.send_header("Content-Length", str(server.huge))
                self.end_headers()
                ends = time.monotonic() + MAX_ANSWER_SECONDS
                head = b'{"resourceType": "Bundle", "type": "searchset", "padding": "'
                self.wfile.write(head)
                server._count(len(head))
                left = server.huge - len(head)
                while left > 0 and not server._stopping.is_set() and time.monotonic() < ends:
                    chunk = _HUGE_CHUNK[:left]
                    self.wfile.write(chunk)
                    server._count(len(chunk))
                    left -= len(chunk)

            do_GET = _respond  # http.server's naming
            do_POST = _respond

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `seen` instead."""

        return Handler


@contextmanager
def silent_port() -> Iterator[int]:
    """A loopback port that takes connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


class HeaderDrip:
    """A FHIR server on loopback that answers every request with a status line and then
    its headers one byte every `every` seconds, never ending them (for `lasting`
    seconds): each byte passes any read timeout. It notes how many connections it took
    and how many are still open (a client that shuts its socket is seen within `every`).
    """

    def __init__(
        self, *, every: float = 0.2, lasting: float = 30.0, tls: ssl.SSLContext | None = None
    ) -> None:
        self.every = every
        self.lasting = lasting
        self.tls = tls  # a server context: https, the handshake done before the drip
        self.taken = 0
        self._open = 0
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._stopped = threading.Event()

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._listener.getsockname()[1]}/fhir"

    def open_connections(self) -> int:
        with self._lock:
            return self._open

    def __enter__(self) -> HeaderDrip:
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.05)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopped.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:  # the accept timeout, or the listener closed
                continue
            with self._lock:
                self.taken += 1
                self._open += 1
            threading.Thread(target=self._drip, args=(connection,), daemon=True).start()

    def _drip(self, connection: socket.socket) -> None:
        ends = time.monotonic() + self.lasting
        try:
            if self.tls is not None:
                connection.settimeout(5)
                connection = self.tls.wrap_socket(connection, server_side=True)
            connection.settimeout(self.every)
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                request += chunk
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\n")
            connection.sendall(b"X-Slow: ")
            while time.monotonic() < ends and not self._stopped.is_set():
                connection.sendall(b"a")
                try:
                    if connection.recv(1) == b"":
                        return  # the client shut its socket
                except TimeoutError:
                    continue  # nothing from the client in `every` seconds: drip again
        except OSError:
            return  # the client is gone
        finally:
            connection.close()
            with self._lock:
                self._open -= 1


def _is_read(path: str) -> bool:
    parts = path.removeprefix("/fhir/").split("/")
    return len(parts) == 2 and parts[1] != "_search"


def _outcome(code: str, text: str) -> tuple[str, bytes]:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return "application/fhir+json", json.dumps(body).encode()
