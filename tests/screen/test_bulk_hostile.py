"""The $export client against a hostile Bulk Data server (docs/RELIABILITY.md, attacks 20-
25): its token goes to the kick-off's origin only, never over http when the kick-off is
https, never after a redirect; a state file is trusted no more than the server; file
names are the client's own; lines, files and the export are capped."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from service.cli import main
from service.screen.bulk import STATE_FILE, BulkClient
from service.screen.bulk_errors import BulkExportError
from service.screen.bulk_limits import BulkLimits
from tests.screen.bulk_server import Answer, BulkServer, running
from tests.screen.test_bulk import KeyPair, client_for, keys  # noqa: F401 (fixture)

MiB = 2**20


@pytest.fixture
def server(population: Path, keys: dict[str, KeyPair]) -> Iterator[BulkServer]:  # noqa: F811
    """The kick-off's server, running, with a job that is done at once."""
    with running(BulkServer(population, keys["ES384"][1], status_script=())) as serving:
        yield serving


@pytest.fixture
def thief(population: Path, keys: dict[str, KeyPair]) -> Iterator[BulkServer]:  # noqa: F811
    """A second server on another port: another origin, recording what reaches it."""
    with running(BulkServer(population, keys["ES384"][1], status_script=())) as other:
        yield other


def bearers(server: BulkServer) -> list[dict[str, Any]]:
    """The requests that reached `server` with an Authorization header or an assertion."""
    return [r for r in server.requests if r["bearer"] or r["assertion"]]


def write_state(folder: Path, server: BulkServer, **saved: Any) -> None:
    """A bulk-state.json as a tampered (or another) run left it."""
    folder.mkdir(parents=True, exist_ok=True)
    state = {"kickoff": server.kickoff_url, "status": None, "manifest": None, "files": {}}
    (folder / STATE_FILE).write_text(json.dumps({**state, **saved}))


def manifest_at(base: str) -> dict[str, Any]:
    return {
        "transactionTime": "2026-11-20T00:00:00Z",
        "request": "x",
        "requiresAccessToken": True,
        "output": [{"type": "Patient", "url": f"{base}/files/Patient.000.ndjson.gz"}],
        "error": [],
    }


@pytest.mark.parametrize("where", ["content-location", "manifest", "state-status", "state-file"])
def test_the_token_never_goes_to_another_origin(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    thief: BulkServer,
    tmp_path: Path,
    where: str,
) -> None:
    """A status URL or a file URL on another origin, from the server or from a tampered
    bulk-state.json: refused with one line naming the option; no request carrying the
    token (status poll, download, DELETE) reaches the other origin."""
    if where == "content-location":
        server.content_location = f"{thief.base}/fhir/jobs/1"
    elif where == "manifest":
        server.outputs = [{"type": "Patient", "url": f"{thief.base}/files/x.ndjson"}]
    elif where == "state-status":
        write_state(tmp_path, server, status=f"{thief.base}/fhir/jobs/1")
    else:
        write_state(
            tmp_path,
            server,
            status=f"{server.base}/fhir/jobs/1",
            manifest=manifest_at(thief.base),
        )
    with pytest.raises(BulkExportError, match="another origin.*--bulk-allow-origin"):
        client_for(server, keys).export(server.kickoff_url, tmp_path)
    assert bearers(thief) == []
    assert not any(r["method"] == "DELETE" for r in server.requests + thief.requests)


def test_an_origin_allowed_explicitly_gets_the_token(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    thief: BulkServer,
    tmp_path: Path,
) -> None:
    """--bulk-allow-origin: a job run on another origin the user named is followed."""
    thief.tokens = server.tokens  # the same authorization server
    server.content_location = f"{thief.base}/fhir/jobs/1"
    client = client_for(server, keys)
    client.allow_origins = (thief.base,)
    client.export(server.kickoff_url, tmp_path)
    assert thief.requests and all(r["authorized"] for r in thief.requests)


def test_the_token_request_follows_no_redirect(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    thief: BulkServer,
    tmp_path: Path,
) -> None:
    """A 307 from the token endpoint would re-post the signed client assertion."""
    server.token_answer = Answer(307, {"Location": f"{thief.base}/auth/token"})
    with pytest.raises(BulkExportError, match="token request.*redirect"):
        client_for(server, keys).export(server.kickoff_url, tmp_path)
    assert thief.requests == []


class FakeSession(requests.Session):
    """A transport answering from `answer(method, url)`; records every request."""

    def __init__(self, answer: Callable[[str, str], tuple[int, Mapping[str, str], Any]]) -> None:
        super().__init__()
        self.answer = answer
        self.sent: list[tuple[str, str, bool]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        headers = kwargs.get("headers") or {}
        self.sent.append((str(method), str(url), "Authorization" in headers))
        status, answer_headers, body = self.answer(str(method), str(url))
        response = requests.Response()
        response.status_code = status
        response.headers.update(answer_headers)
        response._content = json.dumps(body).encode() if body is not None else b""
        response.url = str(url)
        return response


HTTPS = "https://ehr.test/fhir/$export"


@pytest.mark.parametrize("where", ["content-location", "manifest", "state"])
def test_http_is_refused_when_the_kick_off_is_https(tmp_path: Path, where: str) -> None:
    """The same host over plain http: no status poll, download or DELETE is sent there."""
    status = (
        "http://ehr.test/fhir/jobs/1"
        if where == "content-location"
        else ("https://ehr.test/fhir/jobs/1")
    )
    manifest = {
        "transactionTime": "2026-11-20T00:00:00Z",
        "requiresAccessToken": True,
        "output": [{"type": "Patient", "url": "http://ehr.test/files/p.ndjson"}],
    }

    def answer(method: str, url: str) -> tuple[int, Mapping[str, str], Any]:
        if url.startswith(HTTPS):
            return 202, {"Content-Location": status}, None
        if url == status and method == "GET":
            return 200, {}, manifest
        return 404, {}, None

    if where == "state":
        (tmp_path / STATE_FILE).write_text(
            json.dumps({"kickoff": HTTPS, "status": "http://ehr.test/fhir/jobs/1"})
        )
    session = FakeSession(answer)
    with pytest.raises(BulkExportError, match="plain http"):
        BulkClient(session, sleep=lambda s: None).export(HTTPS, tmp_path)
    assert not [url for _, url, _ in session.sent if url.startswith("http:")]


def test_a_type_from_the_manifest_never_names_a_file(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    tmp_path: Path,
) -> None:
    """`type: ../../escaped` is no resource type: refused, nothing written outside the
    folder; the files downloaded are named `<ResourceType>.<index>.ndjson[.gz]`."""
    folder = tmp_path / "a" / "b" / "export"
    server.outputs = [{"type": "../../escaped", "url": "Patient.000.ndjson.gz"}]
    with pytest.raises(BulkExportError, match="not a resource type"):
        client_for(server, keys).export(server.kickoff_url, folder)
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and folder not in p.parents]
    assert outside == []
    server.outputs = None
    client_for(server, keys).export(server.kickoff_url, tmp_path / "good")
    names = [p.name for p in (tmp_path / "good").glob("*.ndjson*")]
    assert names and all(re.fullmatch(r"[A-Z][A-Za-z]+\.\d{3}\.ndjson", n) for n in names)


def test_a_file_name_from_a_tampered_state_is_not_trusted(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    tmp_path: Path,
) -> None:
    """`files` of bulk-state.json naming `../secret.ndjson`: downloaded again instead."""
    (tmp_path / "secret.ndjson").write_text("{}\n")
    folder = tmp_path / "export"
    write_state(folder, server, files={"0": "../secret.ndjson"})
    manifest = client_for(server, keys).export(server.kickoff_url, folder)
    first = json.loads(manifest.read_text())["output"][0]["url"]
    assert re.fullmatch(r"[A-Z][A-Za-z]+\.000\.ndjson", first) and (folder / first).is_file()


@pytest.fixture
def huge(server: BulkServer) -> BulkServer:
    """The server, its export one file: `Patient.huge.ndjson.gz` (in `extra_files`)."""
    server.outputs = [{"type": "Patient", "url": "Patient.huge.ndjson.gz"}]
    return server


def huge_line(size: int) -> bytes:
    """One Patient resource `size` bytes long, gzip-compressed (it shrinks a thousandfold)."""
    padding = b"a" * (size - 40)
    return gzip.compress(b'{"resourceType":"Patient","id":"x","p":"' + padding + b'"}\n', 1)


@pytest.mark.parametrize("files_as", ["plain", "as-stored", "content-encoding"])
def test_a_line_past_the_cap_is_refused(
    huge: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    tmp_path: Path,
    files_as: str,
) -> None:
    """A 17 MiB line (the default cap is 16 MiB), served plain or compressed: refused
    while downloading, and no part of it is left on disk."""
    huge.files_as = files_as
    huge.extra_files["Patient.huge.ndjson.gz"] = huge_line(17 * MiB)
    match = "a line longer than 16 MiB.*--bulk-max-line-bytes"
    with pytest.raises(BulkExportError, match=match):
        client_for(huge, keys).export(huge.kickoff_url, tmp_path)
    assert not list(tmp_path.glob("*.ndjson*"))


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (BulkLimits(max_decompressed_bytes=MiB), "more than 1 MiB decompressed"),
        (BulkLimits(max_file_bytes=64 * 1024), "larger than 64 KiB"),
        (BulkLimits(max_export_bytes=256 * 1024), "export is larger than 256 KiB"),
    ],
)
def test_files_and_the_export_past_their_caps_are_refused(
    server: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    tmp_path: Path,
    limits: BulkLimits,
    reason: str,
) -> None:
    """Decompressed size, file size, export size: each a one-line error naming its cap."""
    server.files_as = "as-stored"
    client = client_for(server, keys)
    client.limits = limits
    with pytest.raises(BulkExportError, match=reason):
        client.export(server.kickoff_url, tmp_path)
    assert not list(tmp_path.glob("*.part"))


def test_the_screen_stops_on_a_huge_line_with_exit_2(
    huge: BulkServer,
    keys: dict[str, KeyPair],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The 408 KB file holding one 400 MB line, shrunk: exit 2, one line, no report."""
    key = tmp_path / "key.pem"
    key.write_text(keys["ES384"][0])
    huge.extra_files["Patient.huge.ndjson.gz"] = huge_line(2 * MiB)
    out = tmp_path / "out"
    options = ["--client-id", huge.client_id, "--private-key", str(key), "--out", str(out)]
    code = main(
        ["screen", "--bulk-export", huge.kickoff_url, *options, "--bulk-max-line-bytes", str(MiB)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert "a line longer than 1 MiB" in err and "Traceback" not in err
    assert "BEGIN" not in err and not any(token in err for token in huge.tokens)
    assert not (out / "report.html").exists()
