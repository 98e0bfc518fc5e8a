"""What the demo EHR's authorization server grants, and how, on Authlib: its SMART
configuration, its one client, the authorization code grant with PKCE S256, and the
tokens it issues and checks. The endpoints are `service.demo.auth_server`'s.

- The one client is the SMART app (`SCLC_CDS_SMART_CLIENT_ID`), public: PKCE S256 on
  every request, no secret, redirect URIs under the service's own address.
- The authorization request's `aud` must name this `/fhir`; its patient is the EHR
  launch's (`launch`), else a `patient` hint, else none yet (the user picks one).
- Launch ids, codes and tokens are signed with the app's secret key and hold their own
  data (`service.smart.tokens`), so they work across gunicorn workers; a code is used
  once (the service's database remembers it until it expires).
- The token response holds `access_token`, `expires_in`, `scope`, and the launch
  context: `patient` and `appContext`.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import (
    ClientMixin,
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Request,
    scope_to_list,
)
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant
from authlib.oauth2.rfc6750 import BearerTokenGenerator, BearerTokenValidator
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, current_app, request

from service.demo.fixture_fhir import fixture_store
from service.fetch.urls import allowed, same_url
from service.http.state import state
from service.smart import tokens as demo_tokens
from service.smart.configuration import READ_RESOURCES
from service.smart.tokens import AccessToken, CodeClaims, DemoTokens, LaunchContext

__all__ = [
    "CAPABILITIES",
    "SCOPES_SUPPORTED",
    "CodeGrant",
    "Granted",
    "User",
    "authorization_server",
    "fhir_base",
    "signed_tokens",
    "smart_configuration",
]

# The database's replay ledger keeps used codes under this issuer name (service.store).
CODE_LEDGER = "demo-authorization-code"
# What the demo server grants: the launch scopes and a patient-scoped read of each type
# the app reads, v2 and v1 (no identity scopes: it issues no id_token).
SCOPES_SUPPORTED = (
    "launch",
    "launch/patient",
    *(f"patient/{kind}.rs" for kind in READ_RESOURCES),
    *(f"patient/{kind}.read" for kind in READ_RESOURCES),
)
CAPABILITIES = (
    "launch-ehr",
    "launch-standalone",
    "client-public",
    "context-ehr-patient",
    "context-standalone-patient",
    "permission-patient",
    "permission-v2",
    "permission-v1",
)


def fhir_base() -> str:
    """This /fhir as clients name it: SCLC_CDS_BASE_URL (behind a proxy), else the URL
    this request came to (in process, the URL the app called: service.http.inprocess)."""
    return (state().settings.base_url or request.url_root.rstrip("/")) + "/fhir"


def signed_tokens() -> DemoTokens:
    """The launch ids, codes and access tokens, signed with the app's secret key."""
    return DemoTokens(cast(str | bytes, current_app.secret_key))


def _service_base() -> str:
    """The service's own address: redirect URIs must lie under it."""
    return state().settings.base_url or request.host_url.rstrip("/")


def smart_configuration(base: str) -> dict[str, Any]:
    """The `.well-known/smart-configuration` of the fixture FHIR server at `base`."""
    return {
        "issuer": base,
        "authorization_endpoint": f"{base}/auth/authorize",
        "token_endpoint": f"{base}/auth/token",
        "token_endpoint_auth_methods_supported": ["none"],
        "grant_types_supported": ["authorization_code"],
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": list(SCOPES_SUPPORTED),
        "capabilities": list(CAPABILITIES),
    }


# --- the client, the user, the code: what Authlib's grant works with -------------------


@dataclass(frozen=True)
class _Client(ClientMixin):
    """The one client: the SMART app, public (PKCE, no secret)."""

    client_id: str

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str:
        return ""  # none: the app names its redirect_uri in every request

    def get_allowed_scope(self, scope: Collection[str] | str) -> str:
        return " ".join(s for s in scope_to_list(scope) or () if s in SCOPES_SUPPORTED)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return allowed(redirect_uri, [_service_base()])

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "authorization_code"


@dataclass(frozen=True, slots=True)
class User:
    """Who approved: in the demo, the launch's patient context and nothing more."""

    patient: str | None
    app_context: str | None = None


@dataclass(frozen=True, slots=True)
class _Code:
    """A read authorization code, as Authlib's grant and PKCE extension ask for it."""

    claims: CodeClaims

    @property
    def code_challenge(self) -> str | None:
        return self.claims.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.claims.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.claims.redirect_uri

    def get_scope(self) -> str:
        return self.claims.scope


@dataclass(frozen=True, slots=True)
class Granted:
    """A read access token, as Authlib's bearer validator asks for it."""

    token: AccessToken

    def is_expired(self) -> bool:
        return self.token.expired()

    def is_revoked(self) -> bool:
        return False

    def get_scope(self) -> str:
        return self.token.scope


def _data(oauth_request: OAuth2Request) -> Mapping[str, Any]:
    """The request's parameters (query, or form)."""
    payload = oauth_request.payload
    return payload.data if payload is not None else {}


def _launch_context(payload: Mapping[str, Any]) -> LaunchContext | None:
    """The patient the launch is for: the EHR launch's `launch`, else (standalone) the
    `patient` hint; None when the user must pick one. Raises InvalidRequestError when
    `aud` is not this server, or the launch or patient is unknown."""
    if not same_url(str(payload.get("aud") or ""), fhir_base()):
        raise InvalidRequestError("'aud' must name this FHIR server")
    scopes = scope_to_list(payload.get("scope") or "")
    if "launch" in scopes:
        launch = payload.get("launch")
        context = signed_tokens().read_launch(launch) if isinstance(launch, str) else None
        if context is None:
            raise InvalidRequestError("the launch is unknown or has expired")
        return context
    hint = payload.get("patient")
    if hint:
        if fixture_store().read("Patient", str(hint)) is None:
            raise InvalidRequestError("there is no such patient")
        return LaunchContext(patient=str(hint))
    return None


class CodeGrant(AuthorizationCodeGrant):
    """The authorization code grant with signed, stateless, single-use codes."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["none"]  # a public client: PKCE instead of a secret
    launch_context: LaunchContext | None = None  # set when the request is validated

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        try:
            self.launch_context = _launch_context(_data(self.request))
        except OAuth2Error as error:
            error.redirect_uri = redirect_uri
            raise
        return redirect_uri

    def generate_authorization_code(self) -> str:
        data = _data(self.request)
        user = cast(User, self.request.user)
        client = cast(_Client, self.request.client)
        return signed_tokens().code(
            CodeClaims(
                jti=secrets.token_urlsafe(16),
                client_id=client.get_client_id(),
                redirect_uri=str(data.get("redirect_uri")),
                scope=self.request.scope,
                patient=user.patient,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                app_context=user.app_context,
            )
        )

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Nothing to store: the code carries its own claims."""

    def query_authorization_code(self, code: str, client: ClientMixin) -> _Code | None:
        claims = signed_tokens().read_code(code)
        if claims is None or claims.client_id != client.get_client_id():
            return None
        return _Code(claims)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Spend the code: a second use is refused (RFC 6749 §4.1.2), in any worker."""
        expires = datetime.now(UTC) + timedelta(seconds=demo_tokens.CODE_SECONDS)
        if not state().store.remember_token(CODE_LEDGER, authorization_code.claims.jti, expires):
            raise InvalidGrantError("the code was used already")

    def authenticate_user(self, authorization_code: _Code) -> User:
        claims = authorization_code.claims
        return User(patient=claims.patient, app_context=claims.app_context)


class _S256Required(CodeChallenge):
    """PKCE on every request, S256 only (SMART App Launch 2.0 forbids `plain`)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = _data(grant.request)
        if not data.get("code_challenge") or data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("PKCE is required: code_challenge_method=S256")
        super().validate_code_challenge(grant, redirect_uri)


class _TokenResponse(BearerTokenGenerator):
    """The token response: a signed bearer token and the SMART launch context."""

    def __init__(self) -> None:
        super().__init__(access_token_generator=lambda **_: "")  # `generate` makes it

    def generate(
        self,
        grant_type: str,
        client: ClientMixin,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, str | int]:
        del grant_type, include_refresh_token  # one grant; no refresh tokens in the demo
        lifetime = expires_in or demo_tokens.TOKEN_SECONDS
        patient = user.patient if isinstance(user, User) else None
        granted = AccessToken(
            client_id=client.get_client_id(),
            scope=scope or "",
            patient=patient,
            expires_at=int(datetime.now(UTC).timestamp()) + lifetime,
        )
        answer: dict[str, str | int] = {
            "access_token": signed_tokens().access_token(granted),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": granted.scope,
        }
        if patient is not None:
            answer["patient"] = patient
            answer["need_patient_banner"] = True
        if isinstance(user, User) and user.app_context:
            answer["appContext"] = user.app_context
        return answer


class _BearerValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> Granted | None:
        token = signed_tokens().read_access_token(token_string)
        return Granted(token) if token is not None else None


def authorization_server(
    app: Flask, client_id: str
) -> tuple[AuthorizationServer, ResourceProtector]:
    """Authlib's authorization server on `app` for the one client, and the resource
    protector that checks the tokens it issues."""
    client = _Client(client_id)
    server = AuthorizationServer()
    server.init_app(
        app,
        query_client=lambda asked: client if asked == client.client_id else None,
        save_token=lambda token, request: None,  # stateless: the token holds its grant
    )
    server.register_token_generator("default", _TokenResponse())
    server.register_grant(CodeGrant, [_S256Required(required=True)])
    server.scopes_supported = list(SCOPES_SUPPORTED)
    protector = ResourceProtector()
    protector.register_token_validator(_BearerValidator())
    return server, protector
