"""A small FHIR R4 server on 127.0.0.1 over one fixture bundle, started by the tests.

It answers what a CDS service sends a FHIR server: `GET /Type/id`, `GET /Type?…`,
`POST /Type/_search` (form body), searches by `patient`/`subject`, `code` and `_id`,
`_include=…:medication`, paging through `link[next]` (`_page`), and records every
request (method, path, query, body, Authorization) for the tests to assert on. It can
also refuse (any status), answer HTML, answer slowly, refuse `POST _search`, or give
next links on another origin.

`search()` is the same matching, for building prefetch exactly as a CDS client would.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

Entry = dict[str, Any]


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
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.entries: list[Entry] = [
            {k: v for k, v in e.items() if k in ("fullUrl", "resource")}
            for e in self.bundle.get("entry", [])
        ]
        self._lock = threading.Lock()

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
            bundle["link"] = [{"relation": "next", "url": f"{origin}/fhir/{kind}?{query}"}]
        return 200, "application/fhir+json", json.dumps(bundle).encode()

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
                status, content_type, payload = server._answer(seen)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _respond  # http.server's naming
            do_POST = _respond

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `seen` instead."""

        return Handler


def _is_read(path: str) -> bool:
    parts = path.removeprefix("/fhir/").split("/")
    return len(parts) == 2 and parts[1] != "_search"


def _outcome(code: str, text: str) -> tuple[str, bytes]:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return "application/fhir+json", json.dumps(body).encode()
