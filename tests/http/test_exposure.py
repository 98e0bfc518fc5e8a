"""Safe by default (issue 9): what `sclc-cds serve` refuses, the demo switch, workers, TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from pathlib import Path

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from service.cli import main
from service.http.server import exposure_problem, is_loopback, options
from service.settings import Settings
from tests.http.conftest import AppFactory
from tests.http.test_real_process import running_service

# The address these tests are about (bound only by the insecure test, called on loopback).
ALL_INTERFACES = "0.0.0.0"  # noqa: S104


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("::1", True),
        ("localhost", True),
        (ALL_INTERFACES, False),
        ("10.0.0.5", False),
        ("cds.example.org", False),
    ],
)
def test_loopback_is_only_this_machine(host: str, loopback: bool) -> None:
    """127.0.0.0/8, ::1 and localhost are loopback; 0.0.0.0 and names are not."""
    assert is_loopback(host) is loopback


def test_a_public_address_without_jwts_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sclc-cds serve --host 0.0.0.0` with no settings exits 2 naming what to set."""
    for name in [n for n in os.environ if n.startswith("SCLC_CDS_")]:
        monkeypatch.delenv(name)
    assert main(["serve", "--host", ALL_INTERFACES, "--port", "9"]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "SCLC_CDS_JWT_REQUIRED=true" in line and "SCLC_CDS_BASE_URL" in line
    assert "SCLC_CDS_INSECURE=true" in line


def test_what_makes_a_public_address_acceptable(tmp_path: Path) -> None:
    """JWTs from trusted issuers with a base URL, or the explicit insecure switch."""
    jwks = tmp_path / "jwks.json"
    public = ec.generate_private_key(ec.SECP384R1()).public_key()
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public))
    jwks.write_text(json.dumps({"keys": [{**jwk, "kid": "k", "alg": "ES384"}]}))
    secured = Settings.from_env(
        {},
        {
            "JWT_REQUIRED": True,
            "JWT_JWKS": str(jwks),
            "JWT_ISSUERS": "https://ehr.example.org",
            "BASE_URL": "https://cds.example.org",
        },
    )
    assert exposure_problem(secured, ALL_INTERFACES) is None
    any_issuer = Settings.from_env(
        {}, {"JWT_REQUIRED": True, "JWT_JWKS": str(jwks), "BASE_URL": "https://cds.example.org"}
    )
    assert "SCLC_CDS_JWT_ISSUERS" in (exposure_problem(any_issuer, ALL_INTERFACES) or "")
    assert exposure_problem(Settings.from_env({}, {"INSECURE": True}), ALL_INTERFACES) is None
    assert exposure_problem(Settings.from_env({}), "127.0.0.1") is None


def test_the_demo_and_fixture_fhir_can_be_switched_off(make_app: AppFactory) -> None:
    """SCLC_CDS_DEMO=false: /demo and /fhir are not served; the CDS services are."""
    client = make_app(DEMO=False).test_client()
    assert client.get("/demo").status_code == 404
    assert client.get("/fhir/Patient").status_code == 404
    assert client.get("/cds-services").status_code == 200


def test_insecure_off_loopback_serves_without_demo_and_says_so(tmp_path: Path) -> None:
    """Bound to 0.0.0.0 with SCLC_CDS_INSECURE=true: a loud line at start, demo off."""
    with running_service(tmp_path, SCLC_CDS_INSECURE="true", host=ALL_INTERFACES) as live:
        assert requests.get(live.base + "/demo", timeout=5).status_code == 404
        assert requests.get(live.base + "/cds-services", timeout=5).status_code == 200
        assert "SCLC_CDS_INSECURE=true" in live.log.read_text()


def test_workers_default_to_the_cpu_count_and_can_be_set() -> None:
    """SCLC_CDS_WORKERS unset: one per CPU; the gunicorn options carry workers and threads."""
    settings = Settings.from_env({})
    assert settings.workers == max(1, os.cpu_count() or 1)
    chosen = options(Settings.from_env({"SCLC_CDS_THREADS": "8"}), host="::1", port=1, workers=3)
    assert (chosen["workers"], chosen["threads"], chosen["bind"]) == (3, 8, "[::1]:1")
    assert "certfile" not in chosen


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, valid for an hour (PEM files in `folder`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert = folder / "cert.pem"
    private = folder / "key.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert, private


def test_serve_speaks_tls_itself_with_a_certificate(tmp_path: Path) -> None:
    """SCLC_CDS_TLS_CERT and _KEY: HTTPS on the same port, verified against that certificate."""
    cert, key = self_signed(tmp_path)
    with running_service(
        tmp_path,
        SCLC_CDS_TLS_CERT=str(cert),
        SCLC_CDS_TLS_KEY=str(key),
        scheme="https",
        verify=str(cert),
    ) as live:
        assert live.base.startswith("https://")
        response = requests.get(live.base + "/healthz", timeout=5, verify=str(cert))
        assert response.json() == {"status": "ok"}
        with pytest.raises(requests.ConnectionError):
            requests.get(live.base.replace("https", "http") + "/healthz", timeout=2)
