"""CDS client JWTs (spec "Trusting CDS Clients"), when SCLC_CDS_JWT_REQUIRED is set.

Keys are made by the test: a JWK Set file, as an operator would have, or a JWK Set
served by a real HTTP server on loopback (`jwks_server`), as an EHR publishes it and
names it in the `jku` header. ES384 and RS384, the algorithms the spec recommends.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from flask import Flask

from service.http.auth import load_jwks
from tests.conftest import SHARED
from tests.http.conftest import AppFactory
from tests.http.support import SERVICE_IDS, CheckedClient, hook_request

KID = "test-key-1"
ISSUER = "https://ehr.example.org"
PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"
FEEDBACK = f"{PATIENT_VIEW}/feedback"
BASE = "http://localhost"  # the Flask test client's base URL
FEEDBACK_BODY = {
    "feedback": [
        {"card": "c1", "outcome": "overridden", "outcomeTimestamp": "2021-12-11T10:05:31Z"}
    ]
}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP384R1())


@pytest.fixture
def jwks_file(tmp_path: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [{**public, "kid": KID, "alg": "ES384", "use": "sig"}]}))
    return path


@pytest.fixture
def secured(make_app: AppFactory, jwks_file: Path) -> Flask:
    return make_app(JWT_REQUIRED="true", JWT_JWKS=str(jwks_file), JWT_ISSUERS=ISSUER, BASE_URL=BASE)


def token(
    key: Any,
    *,
    aud: str = BASE + PATIENT_VIEW,
    algorithm: str = "ES384",
    kid: str = KID,
    jku: str | None = None,
    drop: tuple[str, ...] = (),
    **claims: Any,
) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": aud, "exp": now + 300, "iat": now, "jti": str(uuid.uuid4())}
    payload.update(claims)
    for name in drop:
        del payload[name]
    headers = {"kid": kid, "typ": "JWT", **({"jku": jku} if jku else {})}
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def call(client: CheckedClient, bearer: str | None, path: str = PATIENT_VIEW) -> Any:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer is not None else {}
    body = FEEDBACK_BODY if path.endswith("/feedback") else hook_request()
    return client.post(path, json=body, headers=headers)


def test_a_valid_jwt_is_accepted_on_services_and_feedback(
    secured: Flask, key: ec.EllipticCurvePrivateKey
) -> None:
    """ES384, aud = the endpoint's URL, a trusted iss, exp, iat, jti: 200."""
    client = secured.test_client()
    assert call(client, token(key)).status_code == 200
    assert call(client, token(key, aud=BASE + FEEDBACK), FEEDBACK).status_code == 200


def test_aud_may_be_a_list_holding_the_endpoint(
    secured: Flask, key: ec.EllipticCurvePrivateKey
) -> None:
    """RFC 7519: `aud` is a string or an array of strings."""
    bearer = token(key, aud=["https://other.example.org", BASE + PATIENT_VIEW])  # type: ignore[arg-type]
    assert call(secured.test_client(), bearer).status_code == 200


def _hs256(key: Any) -> str:
    payload = {"iss": ISSUER, "aud": BASE + PATIENT_VIEW, "exp": int(time.time()) + 60}
    return jwt.encode(
        {**payload, "iat": 1, "jti": "x"}, "a-shared-secret-of-32-bytes-long!", algorithm="HS256"
    )


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        pytest.param(lambda k: None, "needs an Authorization: Bearer JWT", id="missing"),
        pytest.param(lambda k: "not-a-jwt", "not a JWT", id="garbage"),
        pytest.param(_hs256, "asymmetric algorithm", id="hmac"),
        pytest.param(lambda k: token(k, kid="unknown"), "kid names no key", id="unknown-kid"),
        pytest.param(
            lambda k: token(ec.generate_private_key(ec.SECP384R1())), "signature", id="wrong-key"
        ),
        pytest.param(lambda k: token(k, aud="https://elsewhere/cds-services/x"), "aud", id="aud"),
        pytest.param(lambda k: token(k, iss="https://rogue.example.org"), "iss", id="issuer"),
        pytest.param(lambda k: token(k, exp=int(time.time()) - 3600), "expired", id="expired"),
        pytest.param(lambda k: token(k, drop=("jti",)), "'jti'", id="no-jti"),
        pytest.param(lambda k: token(k, drop=("exp",)), "'exp'", id="no-exp"),
        pytest.param(lambda k: token(k, drop=("iss",)), "'iss'", id="no-iss"),
    ],
)
def test_a_bad_or_missing_jwt_is_401(
    secured: Flask, key: ec.EllipticCurvePrivateKey, make_token: Any, reason: str
) -> None:
    """401 OperationOutcome saying why, with a WWW-Authenticate challenge."""
    response = call(secured.test_client(), make_token(key))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    issue = response.json["issue"][0]
    assert issue["code"] == "login"
    assert reason in issue["diagnostics"]


def test_feedback_needs_a_jwt_too(secured: Flask) -> None:
    """The feedback endpoint is protected like its service."""
    assert call(secured.test_client(), None, FEEDBACK).status_code == 401


def test_a_service_jwt_does_not_open_its_feedback(
    secured: Flask, key: ec.EllipticCurvePrivateKey
) -> None:
    """aud names one endpoint: the service's JWT is refused at /feedback."""
    assert call(secured.test_client(), token(key), FEEDBACK).status_code == 401


def test_discovery_and_preflight_need_no_jwt(secured: Flask) -> None:
    """Discovery stays open; a browser's preflight carries no Authorization."""
    client = secured.test_client()
    assert client.get("/cds-services").status_code == 200
    preflight = client.options(
        PATIENT_VIEW,
        headers={
            "Origin": "https://sandbox.cds-hooks.org",
            "Access-Control-Request-Method": "POST",
        },
    )
    assert preflight.status_code == 200


def test_aud_follows_the_configured_public_base_url(
    make_app: AppFactory, jwks_file: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    """Behind a proxy, SCLC_CDS_BASE_URL is the URL clients call (and name in aud)."""
    public = "https://cds.example.org/sclc"
    client = make_app(JWT_REQUIRED=True, JWT_JWKS=str(jwks_file), BASE_URL=public).test_client()
    assert call(client, token(key, aud=public + PATIENT_VIEW)).status_code == 200
    assert call(client, token(key)).status_code == 401


def test_without_an_issuer_list_any_issuer_is_accepted(
    make_app: AppFactory, jwks_file: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    """SCLC_CDS_JWT_ISSUERS unset: the key set alone decides trust."""
    client = make_app(JWT_REQUIRED=True, JWT_JWKS=str(jwks_file), BASE_URL=BASE).test_client()
    assert call(client, token(key, iss="https://any.example.org")).status_code == 200


def test_jwts_are_not_checked_when_not_required(client: CheckedClient) -> None:
    """Off by default: no Authorization needed."""
    assert call(client, None).status_code == 200


def test_the_sandbox_key_set_loads() -> None:
    """The public CDS Hooks sandbox's ES384 key set is usable as SCLC_CDS_JWT_JWKS."""
    path = SHARED / "cds-hooks" / "sandbox-jwks.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: the CDS Hooks kit lives in ../shared/cds-hooks")
    keys = load_jwks(path)
    assert [k.algorithm_name for k in keys.values()] == ["ES384"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("not json", "cannot read"),
        ('{"keys": []}', "not a JWK Set"),
        ('{"keys": [{"kty": "EC"}]}', "has no 'kid'"),
        ('{"keys": [{"kid": "h", "kty": "oct", "k": "c2VjcmV0", "alg": "HS256"}]}', "asymmetric"),
    ],
)
def test_an_unusable_key_set_stops_the_app(
    make_app: AppFactory, tmp_path: Path, content: str, reason: str
) -> None:
    """A bad JWK Set file fails at start, naming what is wrong."""
    path = tmp_path / "jwks.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=reason):
        make_app(JWT_REQUIRED=True, JWT_JWKS=str(path), BASE_URL=BASE)


# --- issue 9: aud from SCLC_CDS_BASE_URL only, jti replay, issuer key sets, jku ------------


def test_jwts_without_a_base_url_stop_the_app(make_app: AppFactory, jwks_file: Path) -> None:
    """The aud is SCLC_CDS_BASE_URL's; without it, requiring JWTs is a configuration error."""
    with pytest.raises(ValueError, match="SCLC_CDS_BASE_URL"):
        make_app(JWT_REQUIRED=True, JWT_JWKS=str(jwks_file))


def test_the_host_header_cannot_choose_the_aud(
    secured: Flask, key: ec.EllipticCurvePrivateKey
) -> None:
    """A token for http://evil.example sent with `Host: evil.example` is refused."""
    evil = "http://evil.example"
    bearer = token(key, aud=evil + PATIENT_VIEW)
    response = secured.test_client().post(
        PATIENT_VIEW,
        json=hook_request(),
        headers={"Authorization": f"Bearer {bearer}", "Host": "evil.example"},
    )
    assert response.status_code == 401
    assert "aud" in response.json["issue"][0]["diagnostics"]


def test_a_jwt_is_accepted_once(secured: Flask, key: ec.EllipticCurvePrivateKey) -> None:
    """The same jti twice within its lifetime: the second call is 401 (replay)."""
    client = secured.test_client()
    bearer = token(key)
    assert call(client, bearer).status_code == 200
    again = call(client, bearer)
    assert again.status_code == 401
    assert "used before" in again.json["issue"][0]["diagnostics"]


def test_the_same_jti_of_two_issuers_are_two_tokens(
    make_app: AppFactory, jwks_file: Path, key: ec.EllipticCurvePrivateKey
) -> None:
    """Replay is per issuer: another issuer may use the same jti."""
    client = make_app(
        JWT_REQUIRED=True,
        JWT_JWKS=str(jwks_file),
        JWT_ISSUERS=f"{ISSUER},https://b.example",
        BASE_URL=BASE,
    ).test_client()
    assert call(client, token(key, jti="same")).status_code == 200
    assert call(client, token(key, jti="same", iss="https://b.example")).status_code == 200
    assert call(client, token(key, jti="same")).status_code == 401


class JwksServer:
    """A JWK Set over HTTP on loopback, counting the requests it answers."""

    def __init__(self, keys: dict[str, dict[str, Any]]) -> None:
        self.keys = keys
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                outer.requests += 1
                name = self.path.strip("/")
                if name not in outer.keys:
                    self.send_error(404)
                    return
                body = json.dumps(outer.keys[name]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _jwk(private: Any, algorithm: str, kid: str) -> dict[str, Any]:
    if algorithm.startswith("ES"):
        public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private.public_key()))
    else:
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return {**public, "kid": kid, "alg": algorithm, "use": "sig"}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.mark.parametrize("algorithm", ["ES384", "RS384"])
@pytest.mark.parametrize("with_jku", [False, True])
def test_es384_and_rs384_with_and_without_jku(
    make_app: AppFactory,
    key: ec.EllipticCurvePrivateKey,
    rsa_key: rsa.RSAPrivateKey,
    algorithm: str,
    with_jku: bool,
) -> None:
    """As EHRs send them: the issuer's JWK Set URL, or a jku the issuer may name."""
    private = key if algorithm == "ES384" else rsa_key
    kid = f"{algorithm}-1"
    keys = {"keys": [_jwk(private, algorithm, kid)]}
    with JwksServer({"issuer.json": keys, "named.json": keys}) as jwks:
        issuers = {ISSUER: {"jwks": f"{jwks.url}/issuer.json", "jku": [f"{jwks.url}/named.json"]}}
        app = make_app(JWT_REQUIRED=True, JWT_ISSUERS=json.dumps(issuers), BASE_URL=BASE)
        jku = f"{jwks.url}/named.json" if with_jku else None
        bearer = token(private, algorithm=algorithm, kid=kid, jku=jku)
        assert call(app.test_client(), bearer).status_code == 200
        again = token(private, algorithm=algorithm, kid=kid, jku=jku)
        assert call(app.test_client(), again).status_code == 200
        assert jwks.requests == 1  # keys cached by PyJWKClient


def test_a_jku_the_issuer_may_not_name_is_never_fetched(
    make_app: AppFactory, key: ec.EllipticCurvePrivateKey
) -> None:
    """A jku off the issuer's allowlist: 401, and the service asks that URL nothing."""
    keys = {"keys": [_jwk(key, "ES384", KID)]}
    with JwksServer({"issuer.json": keys, "attacker.json": keys}) as jwks:
        issuers = {ISSUER: {"jwks": f"{jwks.url}/issuer.json"}}
        app = make_app(JWT_REQUIRED=True, JWT_ISSUERS=json.dumps(issuers), BASE_URL=BASE)
        bearer = token(key, jku=f"{jwks.url}/attacker.json")
        response = call(app.test_client(), bearer)
        assert response.status_code == 401
        assert "jku" in response.json["issue"][0]["diagnostics"]
        assert jwks.requests == 0
