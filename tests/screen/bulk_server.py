"""A FHIR Bulk Data server for tests, on 127.0.0.1: the IG's answers, errors and slow jobs.

    GET  /fhir/.well-known/smart-configuration   the token endpoint
    POST /auth/token          SMART Backend Services: verifies the client assertion JWT
                              (PyJWT, the client's public key) and grants a bearer token
    GET  /fhir/$export        kick-off (also /fhir/Patient/$export): 202 + Content-Location
    GET  /fhir/jobs/<n>       the status: the scripted answers of `status_script` (202
                              with Retry-After and X-Progress, 429, 503 …), then 200 and
                              the manifest
    DELETE /fhir/jobs/<n>     202
    GET  /files/<name>        the export's files (see `files_as`), with Range (206); a
                              file named in `break_once` is cut off halfway the first
                              time it is sent; `extra_files` are served as they are

Hostile on demand: a kick-off naming a status URL elsewhere (`content_location`), a
manifest of its own (`outputs`: other-origin URLs, path-traversal types), a token
endpoint answering a redirect (`token_answer`), files of huge lines (`extra_files`).

Every request is recorded (method, path, Range, whether it carried a valid token, any
`Authorization` at all, a client assertion in its form) so a test can check what the
client did; a second server on another port stands for another origin. The server
stops when its `with` block ends.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class Answer:
    """One scripted status answer."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def outcome(code: str, diagnostics: str) -> dict[str, Any]:
    """An OperationOutcome with one error issue."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


SLOW_JOB = (
    Answer(429, {"Retry-After": "3"}, outcome("throttled", "too many requests")),
    Answer(202, {"Retry-After": "2", "X-Progress": "25% done"}),
    Answer(503, {}, outcome("transient", "busy; try again")),
    Answer(202, {"Retry-After": "1", "X-Progress": "75% done"}),
)


@dataclass
class BulkServer:
    """What the server serves and who it trusts; `requests` records what it was asked."""

    export: Path
    public_key: str
    client_id: str = "sclc-screen"
    algorithm: str = "ES384"
    status_script: tuple[Answer, ...] = SLOW_JOB
    break_once: frozenset[str] = frozenset()
    kickoff_answer: Answer | None = None  # instead of 202, e.g. a 400 OperationOutcome
    # How a stored .ndjson.gz file goes out: decompressed ("plain"), as gzip with
    # Content-Encoding: gzip ("content-encoding"), or its bytes as they are ("as-stored").
    files_as: str = "plain"
    content_location: str | None = None  # the kick-off's status URL instead of our own
    outputs: list[dict[str, str]] | None = None  # the manifest's output instead (`url`
    # without a scheme: one of our /files/)
    token_answer: Answer | None = None  # the token endpoint's answer instead, e.g. a 307
    extra_files: dict[str, bytes] = field(default_factory=dict)  # /files/<name>, as is
    requests: list[dict[str, Any]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    seen_jti: set[str] = field(default_factory=set)
    jobs: int = 0
    polls: int = 0
    broken: set[str] = field(default_factory=set)
    base: str = ""

    @property
    def token_url(self) -> str:
        return f"{self.base}/auth/token"

    @property
    def kickoff_url(self) -> str:
        return f"{self.base}/fhir/$export"

    def manifest(self) -> dict[str, Any]:
        served = json.loads((self.export / "manifest.json").read_text())
        return {
            "transactionTime": served["transactionTime"],
            "request": self.kickoff_url,
            "requiresAccessToken": True,
            "output": [
                {**o, "url": o["url"] if "://" in o["url"] else f"{self.base}/files/{o['url']}"}
                for o in (self.outputs if self.outputs is not None else served["output"])
            ],
            "error": [],
        }

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The token endpoint: SMART Backend Services, asymmetric client authentication."""
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if form.get("client_assertion_type") != JWT_BEARER:
            return 400, {"error": "invalid_request"}
        try:
            claims = jwt.decode(
                form.get("client_assertion", ""),
                self.public_key,
                algorithms=[self.algorithm],
                audience=self.token_url,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
        except jwt.PyJWTError:
            return 401, {"error": "invalid_client"}
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return 401, {"error": "invalid_client"}
        if claims["jti"] in self.seen_jti or claims["exp"] > time.time() + 300 + 5:
            return 401, {"error": "invalid_client"}
        self.seen_jti.add(claims["jti"])
        token = secrets.token_urlsafe(24)
        self.tokens.add(token)
        return 200, {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": 300,
            "scope": form.get("scope", ""),
        }


def _handler(server: BulkServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Quiet: the tests read `server.requests` instead."""

        def _authorized(self) -> bool:
            header = self.headers.get("Authorization", "")
            return header.startswith("Bearer ") and header[7:] in server.tokens

        def _record(self, form: dict[str, str] | None = None) -> None:
            server.requests.append(
                {
                    "method": self.command,
                    "path": urlsplit(self.path).path,
                    "query": parse_qs(urlsplit(self.path).query),
                    "range": self.headers.get("Range"),
                    "authorized": self._authorized(),
                    "prefer": self.headers.get("Prefer"),
                    "bearer": "Authorization" in self.headers,
                    "assertion": "client_assertion" in (form or {}),
                }
            )

        def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode() if body is not None else b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body is not None:
                self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            self._record(form)
            if urlsplit(self.path).path != "/auth/token":
                self._json(404, outcome("not-found", "no such endpoint"))
            elif server.token_answer is not None:
                answer = server.token_answer
                self._json(answer.status, answer.body, answer.headers)
            else:
                self._json(*server.grant(form))

        def do_DELETE(self) -> None:
            self._record()
            self._json(202 if self._authorized() else 401, None)

        def do_GET(self) -> None:
            self._record()
            path = urlsplit(self.path).path
            if path == "/fhir/.well-known/smart-configuration":
                self._json(200, {"token_endpoint": server.token_url})
            elif not self._authorized():
                self._json(401, outcome("login", "a bearer token is required"))
            elif path in ("/fhir/$export", "/fhir/Patient/$export"):
                self._kick_off()
            elif path.startswith("/fhir/jobs/"):
                self._status()
            elif path.startswith("/files/"):
                self._file(path.removeprefix("/files/"))
            else:
                self._json(404, outcome("not-found", "no such endpoint"))

        def _kick_off(self) -> None:
            if server.kickoff_answer is not None:
                answer = server.kickoff_answer
                self._json(answer.status, answer.body, answer.headers)
                return
            if self.headers.get("Prefer") != "respond-async":
                self._json(400, outcome("invalid", "Prefer: respond-async is required"))
                return
            server.jobs += 1
            location = server.content_location or f"{server.base}/fhir/jobs/{server.jobs}"
            self._json(202, None, {"Content-Location": location})

        def _status(self) -> None:
            number = server.polls
            server.polls += 1
            if number < len(server.status_script):
                answer = server.status_script[number]
                self._json(answer.status, answer.body, answer.headers)
                return
            self._json(200, server.manifest(), {"Expires": "Fri, 01 Jan 2100 00:00:00 GMT"})

        def _file(self, name: str) -> None:
            path = server.export / name
            if name in server.extra_files:
                data = server.extra_files[name]
            elif "/" in name or not path.is_file():
                self._json(404, outcome("not-found", "no such file"))
                return
            else:
                data = path.read_bytes()
            compressed = name.endswith(".gz")
            if compressed and server.files_as == "plain":
                data = gzip.decompress(data)
            start = 0
            wanted = self.headers.get("Range", "")
            if wanted.startswith("bytes=") and wanted.endswith("-"):
                start = int(wanted[6:-1])
            if start >= len(data) > 0:
                self._json(416, None, {"Content-Range": f"bytes */{len(data)}"})
                return
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", "application/fhir+ndjson")
            if compressed and server.files_as == "content-encoding":
                self.send_header("Content-Encoding", "gzip")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(data) - start))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            if name in server.break_once and name not in server.broken:
                server.broken.add(name)
                self.wfile.write(data[start : start + (len(data) - start) // 2])
                self.wfile.flush()
                self.close_connection = True
                return  # the connection closes short of Content-Length
            self.wfile.write(data[start:])

    return Handler


@contextmanager
def running(server: BulkServer) -> Iterator[BulkServer]:
    """Serve on a free loopback port until the block ends."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
