"""Run a FHIR Bulk Data `$export` and download its files (Bulk Data Access IG v2, client
side), authorized by SMART Backend Services (`service.screen.backend_services`).

    kick-off   GET <kick-off URL>?_type=…  Accept: application/fhir+json,
               Prefer: respond-async              -> 202, Content-Location: status URL
    status     GET status URL                     -> 202 (Retry-After, X-Progress) …
                                                  -> 200, the manifest
    files      GET each `output` URL, streamed to NAME.part on disk, resumed with `Range`
               after a broken download, renamed to NAME when whole
    done       DELETE status URL (the server may free the files)

What the server says is not trusted (docs/RELIABILITY.md). The token goes only to the
kick-off's origin and those the user allows (`allow_origins`); when the kick-off is
https no request is sent over plain http; no redirect is followed (a 307 from the
token endpoint would re-post the signed client assertion); a URL read back from
`bulk-state.json` is checked exactly like one from the server. Files are named by the
client, `<ResourceType>.<index>.ndjson[.gz]` (the index of the manifest's output), never
from the manifest's `type` as it is: a type that is not a resource type's name is
refused. Every byte is checked as it
is written (`BulkLimits`): line length and size decompressed (a gzip file is inflated
on the fly, a little at a time), file size and the export's size on disk; past a cap
the partial file is removed and the run stops with one line naming the option.

A 429, or a 5xx that is transient, is asked again after the server's `Retry-After`,
else after a backoff that doubles; any other error status ends the run with
`BulkExportError` and the server's diagnostics (`service.screen.bulk_errors`). With
credentials, every request to the FHIR server carries the client's token, renewed once
more if the server answers 401.

Resumable: `bulk-state.json` in the download folder keeps the status URL once the
kick-off is accepted and the manifest once the job is complete; running again with the
same folder and kick-off URL goes on from there (no second kick-off; finished files
kept, partial ones resumed).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from service.fetch.urls import normalise
from service.screen.backend_services import BackendCredentials, BackendToken
from service.screen.bulk_errors import BulkExportError, failure, retry_after, transient
from service.screen.bulk_limits import BulkLimits, Inspector
from service.screen.export import GZIP_MAGIC

__all__ = [
    "DEFAULT_TYPES",
    "BulkClient",
    "RetryPolicy",
    "STATE_FILE",
    "base_of",
    "origin_of",
]

STATE_FILE = "bulk-state.json"
# The resource types the engine reads (service.fhir.USED_TYPES): an export of
# these alone is all the screen needs.
DEFAULT_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Procedure",
)
_CHUNK = 1 << 20
# A resource type's name (FHIR: "[A-Z][A-Za-z]+"), the only part of a file's name the
# server chooses.
_RESOURCE_TYPE = re.compile(r"[A-Z][A-Za-z]{1,63}")
# The export level at the end of a kick-off path: system, Patient or Group/<id>.
_LEVEL = re.compile(r"(?:/Patient|/Group/[^/]+)?/\$export/?$")
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait between polls and after transient failures, and when to stop."""

    attempts: int = 8  # transient failures in a row on one request
    backoff: float = 1.0  # the first wait after a failure without Retry-After, then doubled
    poll: float = 5.0  # the wait between status polls when the server gives none
    max_wait: float = 300.0  # no single wait is longer
    job_limit: float = 24 * 3600.0  # a job still running after this long is given up
    timeout: tuple[float, float] = (10.0, 120.0)  # connect, read (seconds)


def origin_of(url: str) -> str:
    """`https://EHR.example:443/fhir` -> "https://ehr.example"; ValueError when no
    request may be sent to the URL (`service.fetch.urls.normalise`)."""
    parts = urlsplit(normalise(url))
    return f"{parts.scheme}://{parts.netloc}"


def base_of(kickoff_url: str) -> str:
    """The FHIR base of a kick-off URL (`…/fhir/Group/g1/$export?_type=…` -> `…/fhir`)."""
    parts = urlsplit(kickoff_url)
    path = _LEVEL.sub("", parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


class BulkClient:
    """Runs one export into a folder. `session` is the HTTP transport (inject a fake or
    a configured one); `sleep` and `clock` are injectable so tests need not wait."""

    def __init__(
        self,
        session: requests.Session,
        *,
        credentials: BackendCredentials | None = None,
        policy: RetryPolicy | None = None,
        progress: Progress | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        allow_origins: Iterable[str] = (),
        limits: BulkLimits | None = None,
    ) -> None:
        self.session = session
        self.allow_origins = tuple(allow_origins)  # besides the kick-off's: may get the token
        self.limits = limits or BulkLimits()
        self.credentials = credentials
        self.policy = policy or RetryPolicy()
        self.progress = progress or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self._token = (
            BackendToken(credentials, send=self._send, clock=clock) if credentials else None
        )
        self._base = ""
        self._origins: frozenset[str] = frozenset()  # the kick-off's and those allowed
        self._https = False  # the kick-off is https: no request goes over plain http

    # -- HTTP with retries ----------------------------------------------------------

    def _authorization(self, *, renew: bool = False) -> dict[str, str]:
        if self._token is None:
            return {}
        return self._token.authorization(self._base, renew=renew)

    def _target(self, url: str, what: str, *, token: bool) -> str:
        """The URL a request goes to (normalised), when it may go there: never plain
        http after an https kick-off; with the token, only to an origin allowed."""
        try:
            target = normalise(url)
        except ValueError as error:
            raise BulkExportError(f"{what}: refused, {error}") from None
        if self._https and not target.startswith("https:"):
            raise BulkExportError(f"{what}: refused, plain http while the kick-off is https")
        origin = origin_of(target)
        if token and origin not in self._origins:
            raise BulkExportError(
                f"{what}: refused, {origin} is another origin than the kick-off's "
                "(allow it with --bulk-allow-origin)"
            )
        return target

    def _wait(self, seconds: float) -> None:
        self.sleep(min(max(seconds, 0.0), self.policy.max_wait))

    def _send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        authorize: bool = True,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        data: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """The first answer that is not a transient failure (429, 5xx transient, or no
        answer at all), waiting as the server asks or with a doubling backoff. A
        redirect is not followed: it ends the run."""
        url = self._target(url, what, token=authorize and self._token is not None)
        delay = self.policy.backoff
        renewed = False
        for attempt in range(1, self.policy.attempts + 1):
            sent = {**(headers or {}), **(self._authorization() if authorize else {})}
            try:
                response = self.session.request(
                    method,
                    url,
                    headers=sent,
                    data=data,
                    params=params,
                    stream=stream,
                    timeout=self.policy.timeout,
                    allow_redirects=False,  # neither a token nor an assertion goes on
                )
            except requests.RequestException as error:
                if attempt == self.policy.attempts:
                    raise BulkExportError(
                        f"{what}: no answer from the server ({error.__class__.__name__})"
                    ) from None
                self._wait(delay)
                delay *= 2
                continue
            if response.is_redirect:
                response.close()
                raise BulkExportError(
                    f"{what}: the server answered a redirect (HTTP {response.status_code}); "
                    "redirects are not followed"
                )
            if response.status_code == 401 and authorize and self.credentials and not renewed:
                response.close()
                renewed = True
                self._authorization(renew=True)  # the token may have been revoked early
                continue
            if not transient(response) or attempt == self.policy.attempts:
                return response
            wait = retry_after(response)
            response.close()
            self.progress(f"{what}: HTTP {response.status_code}, trying again")
            self._wait(delay if wait is None else wait)
            delay *= 2
        raise BulkExportError(f"{what}: gave up")  # not reached: the loop returns

    # -- the export -----------------------------------------------------------------

    def export(
        self,
        kickoff_url: str,
        folder: Path,
        *,
        types: tuple[str, ...] = DEFAULT_TYPES,
        since: str | None = None,
    ) -> Path:
        """Run (or resume) the export into `folder`; returns its local `manifest.json`."""
        try:
            self._origins = frozenset(map(origin_of, (kickoff_url, *self.allow_origins)))
        except ValueError as error:
            raise BulkExportError(f"the kick-off URL or an origin allowed: {error}") from None
        self._https = kickoff_url.lower().startswith("https:")
        folder.mkdir(parents=True, exist_ok=True)
        self._base = base_of(kickoff_url)
        state = _State.load(folder, kickoff_url)
        if state.status_url is not None:  # as untrusted as the server's Content-Location
            self._target(state.status_url, f"{STATE_FILE}'s status URL", token=True)
        if state.manifest is None:
            if state.status_url is None:
                state.status_url = self._kick_off(kickoff_url, types, since)
                state.save()
            manifest = self._poll(state.status_url)
            if manifest is None:  # the job is gone (expired or deleted): start once more
                state.status_url = self._kick_off(kickoff_url, types, since)
                state.save()
                manifest = self._poll(state.status_url)
                if manifest is None:
                    raise BulkExportError("the export job disappeared twice; giving up")
            state.manifest = manifest
            state.save()
        local = self._download_all(state, state.manifest)
        if state.status_url:
            self._finish(state.status_url)
        return local

    def _kick_off(self, url: str, types: tuple[str, ...], since: str | None) -> str:
        params = {"_outputFormat": "application/fhir+ndjson"}
        if types:
            params["_type"] = ",".join(types)
        if since:
            params["_since"] = since
        response = self._send(
            "GET",
            url,
            "export kick-off",
            headers={"Accept": "application/fhir+json", "Prefer": "respond-async"},
            params=params,
        )
        if response.status_code != 202:
            raise failure("the export kick-off", response)
        location = response.headers.get("Content-Location")
        if not location:
            raise BulkExportError("the export kick-off answered 202 without a Content-Location")
        self.progress("export accepted; waiting for the server")
        return self._target(urljoin(url, location), "the export kick-off's status URL", token=True)

    def _poll(self, status_url: str) -> dict[str, Any] | None:
        """The manifest once the job is complete; None when the job no longer exists."""
        started = self.clock()
        while True:
            response = self._send(
                "GET", status_url, "export status", headers={"Accept": "application/json"}
            )
            if response.status_code == 200:
                try:
                    manifest = response.json()
                except ValueError:
                    raise BulkExportError("the complete export answered without JSON") from None
                if not isinstance(manifest, dict) or not isinstance(manifest.get("output"), list):
                    raise BulkExportError("the complete export answered without an output list")
                return manifest
            if response.status_code in (404, 410):
                return None
            if response.status_code != 202:
                raise failure("the export job", response)
            if self.clock() - started > self.policy.job_limit:
                raise BulkExportError("the export job is still running; giving up")
            progress = response.headers.get("X-Progress")
            self.progress(f"export in progress{f': {progress}' if progress else ''}")
            wait = retry_after(response)
            self._wait(self.policy.poll if wait is None else wait)

    def _download_all(self, state: _State, manifest: dict[str, Any]) -> Path:
        token = bool(manifest.get("requiresAccessToken"))
        outputs = [o for o in manifest["output"] if isinstance(o, dict)]
        local = []
        used = 0  # bytes of the export on disk
        for number, output in enumerate(outputs):
            url, kind = output.get("url"), output.get("type")
            if not isinstance(url, str) or not isinstance(kind, str):
                raise BulkExportError("the manifest has an output entry without url or type")
            if not _RESOURCE_TYPE.fullmatch(kind):
                raise BulkExportError(f"the manifest's output {number} is not a resource type")
            # Checked whether the manifest came from the server or from bulk-state.json.
            self._target(url, f"the manifest's output {number}", token=token)
            stem = f"{kind}.{number:03d}"
            name = state.files.get(str(number))
            if (
                name not in (f"{stem}.ndjson", f"{stem}.ndjson.gz")
                or not (state.folder / name).is_file()
            ):
                name = self._download(url, state.folder, stem, token, used)
                state.files[str(number)] = name
                state.save()
            used += (state.folder / name).stat().st_size
            local.append({**output, "url": name})
        errors = manifest.get("error")
        if isinstance(errors, list) and errors:
            self.progress(f"the server reported {len(errors)} error file(s) with the export")
        path = state.folder / "manifest.json"
        document = {**manifest, "output": local, "error": []}
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return path

    def _download(self, url: str, folder: Path, stem: str, token: bool, used: int) -> str:
        """Stream one file to disk, resuming a partial one, checked against the caps
        (`used`: bytes of the export on disk already); returns its file name."""
        delay = self.policy.backoff
        for attempt in range(1, self.policy.attempts + 1):
            part = next(folder.glob(f"{stem}.ndjson*.part"), None)
            have = part.stat().st_size if part else 0
            headers = {"Accept": "application/fhir+ndjson", "Accept-Encoding": "identity"}
            if have:
                headers["Range"] = f"bytes={have}-"
            response = self._send(
                "GET", url, f"download {stem}", authorize=token, headers=headers, stream=True
            )
            try:
                if response.status_code == 416 and part:
                    part.unlink()  # the part no longer matches the file: start again
                    continue
                if response.status_code not in (200, 206):
                    raise failure(f"downloading {stem}", response)
                gzipped = response.headers.get("Content-Encoding", "").lower() == "gzip"
                name = f"{stem}.ndjson.gz" if gzipped else f"{stem}.ndjson"
                target = folder / f"{name}.part"
                resume = response.status_code == 206 and part == target
                if part and not resume:
                    part.unlink()
                inspector = Inspector(self.limits, f"downloading {stem}", used)
                try:
                    with target.open("ab" if resume else "wb") as stream:
                        if resume:
                            with target.open("rb") as earlier:
                                while block := earlier.read(_CHUNK):
                                    inspector.feed(block)
                        length = response.headers.get("Content-Length", "")
                        if length.isdigit():  # refused before a byte is read
                            inspector.expect(int(length))
                        for block in response.raw.stream(_CHUNK, decode_content=False):
                            inspector.feed(block)
                            stream.write(block)
                except BulkExportError:
                    target.unlink(missing_ok=True)
                    raise
                except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
                    if attempt == self.policy.attempts:
                        raise BulkExportError(
                            f"downloading {stem}: broken off ({error.__class__.__name__})"
                        ) from None
                    self.progress(f"download of {stem} broken off; resuming")
                    self._wait(delay)
                    delay *= 2
                    continue
            finally:
                response.close()
            with target.open("rb") as stream:
                if stream.read(2) == GZIP_MAGIC and not name.endswith(".gz"):
                    name += ".gz"  # a server that serves its files compressed as they are
            os.replace(target, folder / name)
            self.progress(f"downloaded {name}")
            return name
        raise BulkExportError(f"downloading {stem}: gave up")

    def _finish(self, status_url: str) -> None:
        """Tell the server the files may go (IG: "Delete a Bulk Data Request")."""
        try:
            self._send("DELETE", status_url, "export clean-up").close()
        except BulkExportError:
            pass  # the files are ours; the server will expire the job on its own


@dataclass(slots=True)
class _State:
    """What a run has done so far, in `bulk-state.json` (no tokens)."""

    folder: Path
    kickoff_url: str
    status_url: str | None = None
    manifest: dict[str, Any] | None = None
    files: dict[str, str] = field(default_factory=dict)  # output number -> file name

    @classmethod
    def load(cls, folder: Path, kickoff_url: str) -> _State:
        path = folder / STATE_FILE
        if not path.is_file():
            return cls(folder, kickoff_url)
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise BulkExportError(f"{path} is unreadable; remove it to start again") from None
        if saved.get("kickoff") != kickoff_url:
            raise BulkExportError(
                f"{folder} holds another export ({STATE_FILE}); choose another folder"
            )
        return cls(
            folder,
            kickoff_url,
            status_url=saved.get("status"),
            manifest=saved.get("manifest"),
            files=dict(saved.get("files") or {}),
        )

    def save(self) -> None:
        saved = {
            "kickoff": self.kickoff_url,
            "status": self.status_url,
            "manifest": self.manifest,
            "files": self.files,
        }
        temporary = self.folder / f"{STATE_FILE}.tmp"
        temporary.write_text(json.dumps(saved, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, self.folder / STATE_FILE)
