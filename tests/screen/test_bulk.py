"""The $export client against a Bulk Data server on loopback: SMART Backend Services,
a slow job with 429 and 503 on the way, a broken download resumed, errors as one line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from service.screen.backend_services import BackendCredentials
from service.screen.bulk import STATE_FILE, BulkClient, RetryPolicy
from service.screen.bulk_errors import BulkExportError
from service.screen.export import Export, read_export
from tests.screen.bulk_server import Answer, BulkServer, outcome, running
from tests.screen.conftest import read_lines

KeyPair = tuple[str, str]  # private PEM, public PEM


def _pems(private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> KeyPair:
    secret = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return secret, public


@pytest.fixture(scope="module")
def keys() -> dict[str, KeyPair]:
    """A P-384 key for ES384 and a 2048-bit RSA key for RS384."""
    return {
        "ES384": _pems(ec.generate_private_key(ec.SECP384R1())),
        "RS384": _pems(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
    }


def client_for(
    server: BulkServer,
    keys: dict[str, KeyPair],
    *,
    waits: list[float] | None = None,
    sleep: Callable[[float], None] | None = None,
    policy: RetryPolicy | None = None,
) -> BulkClient:
    """A client with the server's credentials whose waits are recorded, not slept."""
    credentials = BackendCredentials(
        client_id=server.client_id,
        private_key=keys[server.algorithm][0],
        algorithm=server.algorithm,
        key_id="test-key",
    )
    recorded = waits if waits is not None else []
    return BulkClient(
        requests.Session(),
        credentials=credentials,
        policy=policy or RetryPolicy(),
        sleep=sleep or recorded.append,
    )


def test_an_export_runs_through_a_slow_job_and_a_broken_download(
    population: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    """Kick-off, polls honouring Retry-After (429, 202, 503, 202, then 200), files
    streamed to disk (one broken off and resumed with Range), DELETE at the end; the
    downloaded export is the served one, byte for byte."""
    broken = "Observation.000.ndjson.gz"
    server = BulkServer(population, keys["ES384"][1], break_once=frozenset({broken}))
    waits: list[float] = []
    with running(server):
        manifest = client_for(server, keys, waits=waits).export(server.kickoff_url, tmp_path)
    assert_same_export(read_export(manifest), population)
    assert waits[:4] == [3.0, 2.0, 1.0, 1.0]  # Retry-After, Retry-After, backoff, Retry-After
    kickoffs = [r for r in server.requests if r["path"] == "/fhir/$export"]
    assert len(kickoffs) == 1 and kickoffs[0]["prefer"] == "respond-async"
    assert "Condition" in kickoffs[0]["query"]["_type"][0]
    ranges = [r["range"] for r in server.requests if r["path"] == f"/files/{broken}"]
    assert ranges[0] is None and ranges[1].startswith("bytes=")
    assert server.requests[-1]["method"] == "DELETE"
    assert all(r["authorized"] for r in server.requests if r["path"].startswith("/files/"))


def assert_same_export(got: Export, population: Path) -> None:
    """The downloaded export holds the served one's files: same types, same lines."""
    served = read_export(population)
    assert len(got.files) == len(served.files)
    for mine, theirs in zip(got.files, served.files, strict=True):
        assert mine.type == theirs.type
        assert read_lines(mine.path) == read_lines(theirs.path)


@pytest.mark.parametrize("files_as", ["content-encoding", "as-stored"])
def test_files_sent_compressed_are_kept_compressed(
    population: Path, keys: dict[str, KeyPair], tmp_path: Path, files_as: str
) -> None:
    """gzip with Content-Encoding, or gzip bytes as stored: kept as .ndjson.gz, read whole."""
    server = BulkServer(population, keys["ES384"][1], status_script=(), files_as=files_as)
    with running(server):
        manifest = client_for(server, keys).export(server.kickoff_url, tmp_path)
    export = read_export(manifest)
    assert all(f.compressed for f in export.files)
    assert_same_export(export, population)


@pytest.mark.parametrize("algorithm", ["ES384", "RS384"])
def test_the_client_assertion_is_accepted_with_either_algorithm(
    population: Path, keys: dict[str, KeyPair], tmp_path: Path, algorithm: str
) -> None:
    """The token endpoint verifies the signed assertion (PyJWT) for RS384 and ES384."""
    server = BulkServer(population, keys[algorithm][1], algorithm=algorithm, status_script=())
    with running(server):
        client_for(server, keys).export(server.kickoff_url, tmp_path)
    assert len(server.tokens) == 1
    assert [r["path"] for r in server.requests[:2]] == [
        "/fhir/.well-known/smart-configuration",
        "/auth/token",
    ]


def test_a_client_signing_with_another_key_is_refused(
    population: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    """An assertion the server cannot verify: a one-line error, and no export is asked."""
    server = BulkServer(population, keys["RS384"][1], algorithm="RS384", status_script=())
    wrong = {"RS384": (_pems(rsa.generate_private_key(65537, 2048))[0], "")}
    with (
        running(server),
        pytest.raises(BulkExportError, match="token request failed with HTTP 401"),
    ):
        client_for(server, wrong).export(server.kickoff_url, tmp_path)
    assert not any(r["path"] == "/fhir/$export" for r in server.requests)


def test_an_interrupted_export_resumes_without_a_second_kick_off(
    population: Path, keys: dict[str, KeyPair], tmp_path: Path
) -> None:
    """Stopped while the job runs, then while a file downloads: each rerun goes on from
    bulk-state.json (the same job, the partial file resumed with Range)."""
    broken = "Condition.000.ndjson.gz"
    running_job = (Answer(202, {"Retry-After": "5"}), Answer(202, {"Retry-After": "5"}))
    server = BulkServer(
        population, keys["ES384"][1], status_script=running_job, break_once=frozenset({broken})
    )

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    one_try = RetryPolicy(attempts=1)
    with running(server):
        with pytest.raises(KeyboardInterrupt):
            client_for(server, keys, sleep=interrupt).export(server.kickoff_url, tmp_path)
        assert json.loads((tmp_path / STATE_FILE).read_text())["manifest"] is None
        with pytest.raises(BulkExportError, match="broken off"):
            client_for(server, keys, policy=one_try).export(server.kickoff_url, tmp_path)
        assert list(tmp_path.glob("*.part"))
        client_for(server, keys).export(server.kickoff_url, tmp_path)
    assert server.jobs == 1
    ranges = [r["range"] for r in server.requests if r["path"] == f"/files/{broken}"]
    assert ranges[-1] is not None
    assert not list(tmp_path.glob("*.part"))
    state = (tmp_path / STATE_FILE).read_text()
    assert not any(token in state for token in server.tokens)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (
            {"kickoff_answer": Answer(400, {}, outcome("invalid", "_type Foo is unknown"))},
            "kick-off failed with HTTP 400: _type Foo is unknown",
        ),
        (
            {"status_script": (Answer(500, {}, outcome("exception", "the job crashed")),)},
            "export job failed with HTTP 500: the job crashed",
        ),
        (
            {"status_script": (Answer(503, {}, outcome("transient", "busy")),) * 5},
            "export job failed with HTTP 503: busy",
        ),
    ],
)
def test_a_refused_or_failed_export_is_one_line_with_the_server_s_diagnostics(
    population: Path,
    keys: dict[str, KeyPair],
    tmp_path: Path,
    change: dict[str, object],
    reason: str,
) -> None:
    """Kick-off refused, job failed, or transient failures past the attempts allowed."""
    server = BulkServer(population, keys["ES384"][1], **change)  # type: ignore[arg-type]
    with running(server), pytest.raises(BulkExportError, match=reason):
        client_for(server, keys, policy=RetryPolicy(attempts=3)).export(
            server.kickoff_url, tmp_path
        )
