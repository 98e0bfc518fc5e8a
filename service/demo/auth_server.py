"""The fixture `/fhir` as a SMART EHR: discovery, launch ids, and a demo authorization
server built on Authlib.

Registered with the fixture `/fhir` (demo on only), so the demo page, the CDS Hooks
sandbox and the tests can launch the SMART app (`service.smart.views`) against it:

- `GET /fhir/.well-known/smart-configuration`: SMART App Launch 2.0 discovery;
- `POST /fhir/_services/smart/Launch`: what the CDS Hooks sandbox asks a FHIR server for
  before it opens a `smart` card link (`{"launchUrl", "parameters": {"patient",
  "appContext"}}` in, `{"launch_id"}` out);
- `GET /fhir/auth/authorize`: approves at once (there is no user to sign in: it is a
  demo), with the patient of the launch (EHR launch), of a `patient` hint, or picked on
  a small page that can also refuse (standalone launch); PKCE with S256 is required, and
  `aud` must name this `/fhir`;
- `POST /fhir/auth/token`: the authorization code grant for the one public client
  (`SCLC_CDS_SMART_CLIENT_ID`), answering `access_token`, `expires_in`, `scope` and
  `patient`.

Launch ids, codes and tokens are signed with the app's secret key and hold their own
data (`service.smart.tokens`), so they work across gunicorn workers; a code is used once
(the service's database remembers it until it expires). With `SCLC_CDS_DEMO_FHIR_AUTH`
every read and search of `/fhir` needs one of these tokens, granting that resource type
(v2 or v1 scope) in the token's patient's compartment: 401 without a valid token, 403
beyond its grant, as OperationOutcomes. Without it `/fhir` stays open, as the sandbox's
hook calls need.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from urllib.parse import urlencode

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
from authlib.oauth2.rfc6750 import (
    BearerTokenGenerator,
    BearerTokenValidator,
    InsufficientScopeError,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState

from service.demo.fixture_fhir import fixture_store
from service.errors import InputError, Unauthorized
from service.fetch.urls import allowed, same_url
from service.http.error_handlers import operation_outcome
from service.http.incoming import json_body
from service.http.openapi import html, oauth_error, responses
from service.http.openapi import redirect as redirection
from service.http.state import EXTENSION, AppState, state
from service.smart import tokens as demo_tokens
from service.smart.chart import display_name
from service.smart.configuration import READ_RESOURCES, granting_scopes
from service.smart.tokens import AccessToken, CodeClaims, DemoTokens, LaunchContext

__all__ = ["SCOPES_SUPPORTED", "blueprint", "smart_configuration"]

blueprint = Blueprint("smart_ehr", __name__, url_prefix="/fhir", template_folder="templates")

SERVER_KEY = "sclc_smart_ehr"
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
# `/fhir` endpoints anyone may call with DEMO_FHIR_AUTH (discovery and the conformance
# statement are public in SMART); the OAuth and launch endpoints are this blueprint's.
_PUBLIC = frozenset({"fhir.metadata"})
_SEARCHES = frozenset({"fhir.search_get", "fhir.search_post"})
# Types outside the patient compartment: a Medication names no patient.
_SHARED_KINDS = frozenset({"Medication"})


def _fhir_base() -> str:
    """This /fhir as clients name it: SCLC_CDS_BASE_URL (behind a proxy), else the URL
    this request came to (in process, the URL the app called: service.http.inprocess)."""
    return (state().settings.base_url or request.url_root.rstrip("/")) + "/fhir"


def _tokens() -> DemoTokens:
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
class _User:
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
class _Granted:
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
    if not same_url(str(payload.get("aud") or ""), _fhir_base()):
        raise InvalidRequestError("'aud' must name this FHIR server")
    scopes = scope_to_list(payload.get("scope") or "")
    if "launch" in scopes:
        launch = payload.get("launch")
        context = _tokens().read_launch(launch) if isinstance(launch, str) else None
        if context is None:
            raise InvalidRequestError("the launch is unknown or has expired")
        return context
    hint = payload.get("patient")
    if hint:
        if fixture_store().read("Patient", str(hint)) is None:
            raise InvalidRequestError("there is no such patient")
        return LaunchContext(patient=str(hint))
    return None


class _CodeGrant(AuthorizationCodeGrant):
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
        user = cast(_User, self.request.user)
        client = cast(_Client, self.request.client)
        return _tokens().code(
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
        claims = _tokens().read_code(code)
        if claims is None or claims.client_id != client.get_client_id():
            return None
        return _Code(claims)

    def delete_authorization_code(self, authorization_code: _Code) -> None:
        """Spend the code: a second use is refused (RFC 6749 §4.1.2), in any worker."""
        expires = datetime.now(UTC) + timedelta(seconds=demo_tokens.CODE_SECONDS)
        if not state().store.remember_token(CODE_LEDGER, authorization_code.claims.jti, expires):
            raise InvalidGrantError("the code was used already")

    def authenticate_user(self, authorization_code: _Code) -> _User:
        claims = authorization_code.claims
        return _User(patient=claims.patient, app_context=claims.app_context)


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
        patient = user.patient if isinstance(user, _User) else None
        granted = AccessToken(
            client_id=client.get_client_id(),
            scope=scope or "",
            patient=patient,
            expires_at=int(datetime.now(UTC).timestamp()) + lifetime,
        )
        answer: dict[str, str | int] = {
            "access_token": _tokens().access_token(granted),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": granted.scope,
        }
        if patient is not None:
            answer["patient"] = patient
            answer["need_patient_banner"] = True
        if isinstance(user, _User) and user.app_context:
            answer["appContext"] = user.app_context
        return answer


class _BearerValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> _Granted | None:
        token = _tokens().read_access_token(token_string)
        return _Granted(token) if token is not None else None


@blueprint.record_once
def _set_up(setup: BlueprintSetupState) -> None:
    """One Authlib authorization server and resource protector per app."""
    app = cast(Flask, setup.app)
    client = _Client(cast(AppState, app.extensions[EXTENSION]).settings.smart_client_id)
    server = AuthorizationServer()
    server.init_app(
        app,
        query_client=lambda client_id: client if client_id == client.client_id else None,
        save_token=lambda token, request: None,  # stateless: the token holds its grant
    )
    server.register_token_generator("default", _TokenResponse())
    server.register_grant(_CodeGrant, [_S256Required(required=True)])
    server.scopes_supported = list(SCOPES_SUPPORTED)
    protector = ResourceProtector()
    protector.register_token_validator(_BearerValidator())
    app.extensions[SERVER_KEY] = (server, protector)


def _server() -> AuthorizationServer:
    return cast(AuthorizationServer, current_app.extensions[SERVER_KEY][0])


def _protector() -> ResourceProtector:
    return cast(ResourceProtector, current_app.extensions[SERVER_KEY][1])


# --- endpoints -------------------------------------------------------------------------


@blueprint.get("/.well-known/smart-configuration")
def configuration() -> Response:
    """SMART App Launch discovery of the fixture FHIR server."""
    return jsonify(smart_configuration(_fhir_base()))


@blueprint.post("/_services/smart/Launch")
def launch() -> Response:
    """A launch id for a fixture patient, as the CDS Hooks sandbox asks before it opens a
    `smart` link; the id names the patient and the link's appContext."""
    body = json_body()
    parameters = body.get("parameters") if isinstance(body, dict) else None
    if not isinstance(parameters, dict):
        raise InputError("the body must be {'launchUrl': ..., 'parameters': {'patient': ...}}")
    patient = parameters.get("patient")
    if not isinstance(patient, str) or fixture_store().read("Patient", patient) is None:
        raise InputError("parameters.patient must name a patient of this FHIR server")
    app_context = parameters.get("appContext")
    if app_context is not None and not isinstance(app_context, str):
        raise InputError("parameters.appContext must be a string")
    launch_id = _tokens().launch_id(LaunchContext(patient=patient, app_context=app_context))
    return jsonify({"launch_id": launch_id})


@blueprint.get("/auth/authorize")
@responses(
    {
        "200": html("The patient picker (a standalone launch without a patient)"),
        "302": redirection("Back to the app's redirect_uri, with a code or an error"),
        "default": oauth_error("The client or its redirect_uri is unknown: no redirect"),
    }
)
def authorize() -> Response:
    """Approve at once (the demo has no one to sign in); a standalone launch without a
    patient shows a patient picker, which can also refuse."""
    server = _server()
    try:
        grant = cast(_CodeGrant, server.get_consent_grant(end_user=None))  # type: ignore[no-untyped-call]
    except OAuth2Error as error:
        # To the redirect_uri when the client and it were valid, else a JSON error.
        return cast(
            Response, server.handle_error_response(server.create_oauth2_request(None), error)
        )
    if request.args.get("decision") == "deny":
        return cast(Response, server.create_authorization_response(grant=grant, grant_user=None))
    context = grant.launch_context
    if context is None:
        return _patient_picker()
    user = _User(patient=context.patient, app_context=context.app_context)
    return cast(Response, server.create_authorization_response(grant=grant, grant_user=user))


def _patient_picker() -> Response:
    store = fixture_store()
    query = [(k, v) for k, v in request.args.items(multi=True) if k not in ("patient", "decision")]
    patients = []
    for scenario in store.scenarios():
        bundle = store.bundle(scenario) or {}
        for entry in bundle.get("entry", []):
            resource = entry.get("resource") or {}
            if resource.get("resourceType") == "Patient" and resource.get("id"):
                patients.append(
                    {
                        "name": display_name(resource),
                        "scenario": scenario,
                        "url": "?" + urlencode([*query, ("patient", resource["id"])]),
                    }
                )
    html = render_template(
        "ehr_authorize.html",
        patients=patients,
        deny_url="?" + urlencode([*query, ("decision", "deny")]),
    )
    return Response(html, mimetype="text/html", headers={"Cache-Control": "no-store"})


@blueprint.post("/auth/token")
@responses(
    {
        "200": {
            "description": "The access token and its launch context",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["access_token", "token_type", "expires_in", "scope"],
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"const": "Bearer"},
                            "expires_in": {"type": "integer"},
                            "scope": {"type": "string"},
                            "patient": {"type": "string"},
                        },
                    }
                }
            },
        },
        "default": oauth_error("The grant is refused (RFC 6749 §5.2)"),
    }
)
def token() -> Response:
    """The authorization code grant: code, redirect_uri, client_id and code_verifier in."""
    return cast(Response, _server().create_token_response())


# --- /fhir behind tokens (SCLC_CDS_DEMO_FHIR_AUTH) --------------------------------------


def _compartment_ok(patient: str | None, kind: str, ident: str | None) -> bool:
    """Whether a token for `patient` may see this read or search."""
    if kind in _SHARED_KINDS:
        return True
    if patient is None:
        return False
    if ident is not None:  # a read: the resource must be the patient's (or not exist)
        return fixture_store().compartment_of(kind, ident) in (None, f"Patient/{patient}")
    names = ("_id",) if kind == "Patient" else ("patient", "subject")
    values = [v for name in names for v in ",".join(request.values.getlist(name)).split(",")]
    wanted = {v.strip().removeprefix("Patient/") for v in values if v.strip()}
    return wanted == {patient}


@blueprint.before_app_request
def _require_token() -> Response | None:
    """With DEMO_FHIR_AUTH, a /fhir read or search needs a token that grants it."""
    if request.blueprint != "fhir" or request.method == "OPTIONS" or request.endpoint in _PUBLIC:
        return None
    if not state().settings.demo_fhir_auth:
        return None
    kind = str((request.view_args or {}).get("kind", ""))
    ident = (request.view_args or {}).get("ident")
    scopes = granting_scopes(kind, search=request.endpoint in _SEARCHES)
    try:
        granted = cast(_Granted, _protector().acquire_token(scopes))  # type: ignore[no-untyped-call]
    except InsufficientScopeError:
        return operation_outcome(403, "forbidden", f"the token does not grant {kind} reads")
    except OAuth2Error:
        raise Unauthorized(
            "a valid bearer token from this server's /fhir/auth/token is needed"
        ) from None
    if not _compartment_ok(granted.token.patient, kind, ident):
        return operation_outcome(403, "forbidden", "the token grants another patient's records")
    return None
