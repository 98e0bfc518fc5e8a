"""The access token of the `$export` client (`service.screen.bulk`): SMART App Launch,
"Backend Services".

The client signs a JWT with its private key (`RS384` or `ES384`; `iss` = `sub` = client
id, `aud` = token endpoint, a random `jti`, expiring in five minutes) and posts it as a
`client_assertion` (`client_credentials`, `client_assertion_type` jwt-bearer); the token
endpoint comes from `<base>/.well-known/smart-configuration` unless given. A token is
renewed shortly before it expires, and when the client asks (the server answered 401).
Tokens never leave this module but in the `Authorization` header: no message or
exception holds one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import jwt
import requests

from service.screen.bulk_errors import BulkExportError, failure

__all__ = ["ALGORITHMS", "BackendCredentials", "BackendToken", "Send"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 300  # seconds; SMART Backend Services: "no more than five minutes"
TOKEN_MARGIN = 30.0  # seconds before expiry at which a token is renewed
ALGORITHMS = frozenset({"RS384", "ES384"})


@dataclass(frozen=True, slots=True)
class BackendCredentials:
    """A SMART Backend Services client: its id, private key (PEM) and signing algorithm."""

    client_id: str
    private_key: str = field(repr=False)
    algorithm: str = "ES384"
    key_id: str | None = None
    token_url: str | None = None  # default: from <base>/.well-known/smart-configuration
    scope: str = "system/*.read"

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"the signing algorithm must be one of {', '.join(sorted(ALGORITHMS))}"
            )


class Send(Protocol):
    """The client's request, asked again after transient failures; `authorize=False`
    sends it without a token."""

    def __call__(
        self,
        method: str,
        url: str,
        what: str,
        *,
        authorize: bool = ...,
        data: Mapping[str, str] | None = ...,
    ) -> requests.Response: ...


@dataclass(slots=True)
class _Token:
    value: str
    expires: float


class BackendToken:
    """The client's access token: fetched when first needed, renewed `TOKEN_MARGIN`
    seconds before it expires or when asked. `send` makes the requests; `clock` is
    injectable so tests need not wait."""

    def __init__(
        self,
        credentials: BackendCredentials,
        *,
        send: Send,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.credentials = credentials
        self.send = send
        self.clock = clock
        self._token: _Token | None = None
        self._token_url = credentials.token_url

    def authorization(self, base: str, *, renew: bool = False) -> dict[str, str]:
        """The `Authorization` header for the FHIR server at `base`."""
        if renew or self._token is None or self._token.expires - TOKEN_MARGIN <= self.clock():
            self._token = self._fetch_token(base)
        return {"Authorization": f"Bearer {self._token.value}"}

    def _discover_token_url(self, base: str) -> str:
        url = f"{base}/.well-known/smart-configuration"
        response = self.send("GET", url, "SMART configuration", authorize=False)
        if response.status_code != 200:
            raise failure("reading the SMART configuration", response)
        try:
            endpoint = response.json().get("token_endpoint")
        except (ValueError, AttributeError):
            endpoint = None
        if not isinstance(endpoint, str) or not endpoint:
            raise BulkExportError("the SMART configuration names no token_endpoint")
        return endpoint

    def _assertion(self, audience: str) -> str:
        credentials = self.credentials
        now = int(time.time())
        claims = {
            "iss": credentials.client_id,
            "sub": credentials.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        headers = {"typ": "JWT", **({"kid": credentials.key_id} if credentials.key_id else {})}
        try:
            return jwt.encode(
                claims, credentials.private_key, algorithm=credentials.algorithm, headers=headers
            )
        except (ValueError, TypeError, jwt.PyJWTError) as error:
            raise BulkExportError(
                "cannot sign the client assertion with the private key "
                f"({error.__class__.__name__})"
            ) from None

    def _fetch_token(self, base: str) -> _Token:
        if self._token_url is None:
            self._token_url = self._discover_token_url(base)
        form = {
            "scope": self.credentials.scope,
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": self._assertion(self._token_url),
        }
        response = self.send("POST", self._token_url, "token request", authorize=False, data=form)
        if response.status_code != 200:
            raise failure("the token request", response)
        try:
            body = response.json()
            value = body["access_token"]
            lifetime = float(body.get("expires_in", ASSERTION_LIFETIME))
        except (ValueError, KeyError, TypeError, AttributeError):
            raise BulkExportError("the token endpoint answered without an access_token") from None
        if not isinstance(value, str) or not value:
            raise BulkExportError("the token endpoint answered without an access_token")
        return _Token(value, self.clock() + lifetime)
