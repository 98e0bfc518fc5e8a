"""Run a FHIR Bulk Data `$export` and download its files (Bulk Data Access IG v2, client
side), authorized by SMART Backend Services (`service.screen.backend_services`).

    kick-off   GET <kick-off URL>?_type=…  Accept: application/fhir+json,
               Prefer: respond-async              -> 202, Content-Location: status URL
    status     GET status URL                     -> 202 (Retry-After, X-Progress) …
                                                  -> 200, the manifest
    files      GET each `output` URL, streamed to NAME.part on disk, resumed with `Range`
               after a broken download, renamed to NAME when whole
    done       DELETE status URL (the server may free the files)

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.exceptions

from service.screen.backend_services import BackendCredentials, BackendToken
from service.screen.bulk_errors import BulkExportError, failure, retry_after, transient
from service.screen.export import GZIP_MAGIC

__all__ = [
    "DEFAULT_TYPES",
    "BulkClient",
    "RetryPolicy",
    "STATE_FILE",
    "base_of",
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
    ) -> None:
        self.session = session
        self.credentials = credentials
        self.policy = policy or RetryPolicy()
        self.progress = progress or (lambda message: None)
        self.sleep = sleep
        self.clock = clock
        self._token = (
            BackendToken(credentials, send=self._send, clock=clock) if credentials else None
        )
        self._base = ""

    # -- HTTP with retries ----------------------------------------------------------

    def _authorization(self, *, renew: bool = False) -> dict[str, str]:
        if self._token is None:
            return {}
        return self._token.authorization(self._base, renew=renew)

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
        answer at all), waiting as the server asks or with a doubling backoff."""
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
                    allow_redirects=not authorize,  # never carry a token to a redirect
                )
            except requests.RequestException as error:
                if attempt == self.policy.attempts:
                    raise BulkExportError(
                        f"{what}: no answer from the server ({error.__class__.__name__})"
                    ) from None
                self._wait(delay)
                delay *= 2
                continue
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
        folder.mkdir(parents=True, exist_ok=True)
        self._base = base_of(kickoff_url)
        state = _State.load(folder, kickoff_url)
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
        return urljoin(url, location)

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
        for number, output in enumerate(outputs):
            url, kind = output.get("url"), output.get("type")
            if not isinstance(url, str) or not isinstance(kind, str):
                raise BulkExportError("the manifest has an output entry without url or type")
            name = state.files.get(str(number))
            if name is None or not (state.folder / name).is_file():
                name = self._download(url, state.folder, f"{kind}.{number:03d}", token)
                state.files[str(number)] = name
                state.save()
            local.append({**output, "url": name})
        errors = manifest.get("error")
        if isinstance(errors, list) and errors:
            self.progress(f"the server reported {len(errors)} error file(s) with the export")
        path = state.folder / "manifest.json"
        document = {**manifest, "output": local, "error": []}
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        return path

    def _download(self, url: str, folder: Path, stem: str, token: bool) -> str:
        """Stream one file to disk, resuming a partial one; returns its file name."""
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
                try:
                    with target.open("ab" if resume else "wb") as stream:
                        for block in response.raw.stream(_CHUNK, decode_content=False):
                            stream.write(block)
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
