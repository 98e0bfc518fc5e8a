"""Authenticating the CDS client by its JWT (CDS Hooks 2.0.1 "Trusting CDS Clients").

When required, every service and feedback call carries `Authorization: Bearer <JWT>`
signed with an asymmetric key of the client's JWK Set (configured as a file; `jku` is
never fetched). The JWT must name this endpoint's URL in `aud`, carry `iss`, `exp`,
`iat` and `jti`, and, when a list of issuers is configured, come from one of them.
Unsigned (`none`) and symmetric (HMAC) JWTs are refused, as the specification says.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jwt

from service.errors import Unauthorized

__all__ = ["ALGORITHMS", "JwtPolicy", "load_jwks", "verify_bearer"]

# "JWT Signing Algorithm": never `none`, never symmetric; ES384 and RS384 recommended.
ALGORITHMS = frozenset(
    {"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
)
REQUIRED_CLAIMS = ("iss", "aud", "exp", "iat", "jti")
# Clock skew allowed between the CDS client and this service when checking exp/iat.
LEEWAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class JwtPolicy:
    """The keys a CDS client's JWT may be signed with, and the issuers trusted."""

    keys: Mapping[str, jwt.PyJWK]
    issuers: frozenset[str] | None = None


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


def verify_bearer(authorization: str | None, *, audience: str, policy: JwtPolicy) -> None:
    """Check the `Authorization` header's JWT; Unauthorized (401) says why it fails."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("this service needs an Authorization: Bearer JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError:
        raise Unauthorized("the bearer token is not a JWT") from None
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise Unauthorized("the JWT must be signed with an asymmetric algorithm such as ES384")
    key = policy.keys.get(str(header.get("kid")))
    if key is None:
        raise Unauthorized("the JWT's kid names no key this service trusts")
    if key.algorithm_name != algorithm:
        raise Unauthorized("the JWT's alg is not its key's algorithm")
    try:
        jwt.decode(
            token,
            key=key,
            algorithms=[algorithm],
            audience=audience,
            issuer=sorted(policy.issuers) if policy.issuers else None,
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
