"""Authenticating the CDS client by its JWT (CDS Hooks 2.0.1 "Trusting CDS Clients").

When required, every service and feedback call carries `Authorization: Bearer <JWT>`
signed with an asymmetric key (ES384 and RS384 recommended; `none` and HMAC refused).

- **Issuers.** Each trusted `iss` has its keys: a JWK Set file, or a JWK Set URL read and
  cached by PyJWT's `PyJWKClient`. A JWT's `jku` header is honoured only when that URL is
  on the issuer's own `jku` allowlist; otherwise the JWT is refused (a client cannot make
  the service fetch keys from anywhere).
- **Claims.** `aud` must be this endpoint's URL under `SCLC_CDS_BASE_URL` (never taken from
  the request's Host header); `iss`, `exp`, `iat` and `jti` are required.
- **Replay.** A `jti` is accepted once per issuer within the token's lifetime; the ledger
  (`TokenLedger`) is the shared database, so every worker and replica agrees.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import jwt

from service.errors import Unauthorized

__all__ = [
    "ALGORITHMS",
    "IssuerKeys",
    "JwtPolicy",
    "TokenLedger",
    "load_jwks",
    "policy_from_settings",
    "verify_bearer",
]

# "JWT Signing Algorithm": never `none`, never symmetric; ES384 and RS384 recommended.
ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
# Clock skew allowed between the CDS client and this service when checking exp/iat.
LEEWAY_SECONDS = 60
# How long keys read from a JWK Set URL are kept before they are read again.
JWKS_CACHE_SECONDS = 300
JWKS_TIMEOUT_SECONDS = 5


class TokenLedger(Protocol):
    """Remembers the `jti`s seen (the shared database)."""

    def remember_token(self, issuer: str, jti: str, expires_at: datetime) -> bool:
        """True the first time (issuer, jti) is seen within its lifetime."""
        ...


@dataclass(frozen=True)
class IssuerKeys:
    """The keys one issuer signs with: a static set (by kid) and/or a JWK Set URL, and
    the `jku` URLs the issuer may name."""

    static: Mapping[str, jwt.PyJWK] = field(default_factory=dict)
    jwks_url: str | None = None
    jku: frozenset[str] = frozenset()
    _clients: dict[str, jwt.PyJWKClient] = field(default_factory=dict, compare=False, repr=False)

    def client(self, url: str) -> jwt.PyJWKClient:
        """A cached `PyJWKClient` for `url` (keys cached and refreshed on unknown kid)."""
        if url not in self._clients:
            self._clients[url] = jwt.PyJWKClient(
                url, cache_keys=True, lifespan=JWKS_CACHE_SECONDS, timeout=JWKS_TIMEOUT_SECONDS
            )
        return self._clients[url]


@dataclass(frozen=True)
class JwtPolicy:
    """The trusted issuers (None: any issuer, keys from `any_issuer`) and their keys."""

    issuers: Mapping[str, IssuerKeys] | None
    any_issuer: IssuerKeys | None = None

    def keys_of(self, issuer: str) -> IssuerKeys | None:
        if self.issuers is None:
            return self.any_issuer
        return self.issuers.get(issuer)


def load_jwks(path: Path) -> dict[str, jwt.PyJWK]:
    """The signing keys of a JWK Set file by `kid`; ValueError says what is wrong."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read the JWK Set {path}: {error.__class__.__name__}") from None
    keys = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(keys, list) or not keys:
        raise ValueError(f"{path} is not a JWK Set (no 'keys' list)")
    found: dict[str, jwt.PyJWK] = {}
    for number, data in enumerate(keys, start=1):
        kid = data.get("kid") if isinstance(data, dict) else None
        if not isinstance(kid, str) or not kid:
            raise ValueError(f"{path}: key {number} has no 'kid'")
        try:
            key = jwt.PyJWK.from_dict(data)
        except jwt.exceptions.PyJWKError as error:
            raise ValueError(f"{path}: key {kid!r} is not usable: {error}") from None
        if key.algorithm_name not in ALGORITHMS:
            raise ValueError(f"{path}: key {kid!r} is not for an asymmetric JWS algorithm")
        found[kid] = key
    return found


def _issuer_keys(name: str, value: Any, *, where: str) -> IssuerKeys:
    if isinstance(value, str):
        value = {"jwks": value}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: issuer {name!r} needs {{'jwks': URL or file, 'jku': [URLs]}}")
    jwks = value.get("jwks")
    jku = value.get("jku", [])
    if not isinstance(jku, list) or not all(isinstance(u, str) and u for u in jku):
        raise ValueError(f"{where}: issuer {name!r}: 'jku' must be a list of URLs")
    if not all(u.startswith("https://") or u.startswith("http://127.") for u in jku):
        raise ValueError(f"{where}: issuer {name!r}: 'jku' URLs must be https")
    if jwks is None:
        return IssuerKeys(jku=frozenset(jku))
    if not isinstance(jwks, str) or not jwks:
        raise ValueError(f"{where}: issuer {name!r}: 'jwks' must be a URL or a file")
    if jwks.startswith(("https://", "http://")):
        return IssuerKeys(jwks_url=jwks, jku=frozenset(jku))
    return IssuerKeys(static=load_jwks(Path(jwks)), jku=frozenset(jku))


def policy_from_settings(issuers: Any, jwks_file: str | None, *, where: str) -> JwtPolicy:
    """The policy of SCLC_CDS_JWT_ISSUERS and SCLC_CDS_JWT_JWKS.

    `issuers` is a JSON object `{iss: {"jwks": URL or file, "jku": [URLs]}}` (a string
    value is the jwks), or a comma-separated list of issuers that all sign with the
    keys of `jwks_file`, or None: any issuer, with the keys of `jwks_file`.
    """
    shared = IssuerKeys(static=load_jwks(Path(jwks_file))) if jwks_file else None
    if isinstance(issuers, str) and issuers.lstrip().startswith("{"):
        try:
            issuers = json.loads(issuers)
        except ValueError:
            raise ValueError(f"{where}: SCLC_CDS_JWT_ISSUERS is not valid JSON") from None
    if isinstance(issuers, dict):
        return JwtPolicy({str(k): _issuer_keys(str(k), v, where=where) for k, v in issuers.items()})
    names = issuers.split(",") if isinstance(issuers, str) else issuers
    if names in (None, "", []):
        if shared is None:
            raise ValueError(f"{where} needs SCLC_CDS_JWT_JWKS or SCLC_CDS_JWT_ISSUERS")
        return JwtPolicy(None, any_issuer=shared)
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{where}: SCLC_CDS_JWT_ISSUERS must be a JSON object or a list")
    if shared is None:
        raise ValueError(f"{where}: a list of issuers needs SCLC_CDS_JWT_JWKS (their keys)")
    return JwtPolicy({n.strip(): shared for n in names if n.strip()})


def _signing_key(header: Mapping[str, Any], keys: IssuerKeys) -> Any:
    kid = header.get("kid")
    jku = header.get("jku")
    try:
        if jku is not None:
            if not isinstance(jku, str) or jku not in keys.jku:
                raise Unauthorized("the JWT's jku is not a key set this issuer may name")
            return keys.client(jku).get_signing_key(str(kid)).key
        if keys.jwks_url is not None:
            return keys.client(keys.jwks_url).get_signing_key(str(kid)).key
    except jwt.PyJWKClientError:
        raise Unauthorized("the JWT's kid names no key of its issuer") from None
    key = keys.static.get(str(kid))
    if key is None:
        raise Unauthorized("the JWT's kid names no key this service trusts")
    if key.algorithm_name != header.get("alg"):
        raise Unauthorized("the JWT's alg is not its key's algorithm")
    return key


def verify_bearer(
    authorization: str | None,
    *,
    audience: str,
    policy: JwtPolicy,
    ledger: TokenLedger | None = None,
) -> None:
    """Check the `Authorization` header's JWT; Unauthorized (401) says why it fails."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("this service needs an Authorization: Bearer JWT")
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        raise Unauthorized("the bearer token is not a JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise Unauthorized("the JWT must be signed with an asymmetric algorithm such as ES384")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise Unauthorized("the JWT lacks the 'iss' claim")
    keys = policy.keys_of(issuer)
    if keys is None:
        raise Unauthorized("the JWT's iss is not a trusted issuer")
    key = _signing_key(header, keys)
    try:
        claims = jwt.decode(
            token,
            key=key,
            algorithms=[str(header["alg"])],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"the JWT lacks the '{error.claim}' claim") from None
    except jwt.ExpiredSignatureError:
        raise Unauthorized("the JWT has expired") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("the JWT's aud is not the URL of the endpoint called") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("the JWT's iss is not a trusted issuer") from None
    except jwt.InvalidSignatureError:
        raise Unauthorized("the JWT's signature does not verify") from None
    except jwt.InvalidTokenError as error:
        raise Unauthorized(f"the JWT is not valid ({error.__class__.__name__})") from None
    if ledger is not None:
        expires = datetime.fromtimestamp(int(claims["exp"]) + LEEWAY_SECONDS, tz=UTC)
        if not ledger.remember_token(issuer, str(claims["jti"]), expires):
            raise Unauthorized("the JWT has been used before (jti)")
