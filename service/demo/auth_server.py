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

What the server grants and how (its client, the code grant with PKCE, the signed,
stateless launch ids, codes and tokens) is `service.demo.authorization`. With
`SCLC_CDS_DEMO_FHIR_AUTH` every read and search of `/fhir` needs one of these tokens,
granting that resource type (v2 or v1 scope) in the token's patient's compartment: 401
without a valid token, 403 beyond its grant, as OperationOutcomes. Without it `/fhir`
stays open, as the sandbox's hook calls need.
"""

from __future__ import annotations

from typing import cast
from urllib.parse import urlencode

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6750 import InsufficientScopeError
from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask.blueprints import BlueprintSetupState

from service.demo.authorization import (
    CodeGrant,
    Granted,
    User,
    authorization_server,
    fhir_base,
    signed_tokens,
    smart_configuration,
)
from service.demo.fixture_fhir import fixture_store
from service.errors import InputError, Unauthorized
from service.http.error_handlers import operation_outcome
from service.http.incoming import json_body
from service.http.openapi import html, oauth_error, responses
from service.http.openapi import redirect as redirection
from service.http.state import EXTENSION, AppState, state
from service.smart.chart import display_name
from service.smart.configuration import granting_scopes
from service.smart.tokens import LaunchContext

__all__ = ["blueprint"]

blueprint = Blueprint("smart_ehr", __name__, url_prefix="/fhir", template_folder="templates")

SERVER_KEY = "sclc_smart_ehr"
# `/fhir` endpoints anyone may call with DEMO_FHIR_AUTH (discovery and the conformance
# statement are public in SMART); the OAuth and launch endpoints are this blueprint's.
_PUBLIC = frozenset({"fhir.metadata"})
_SEARCHES = frozenset({"fhir.search_get", "fhir.search_post"})
# Types outside the patient compartment: a Medication names no patient.
_SHARED_KINDS = frozenset({"Medication"})


@blueprint.record_once
def _set_up(setup: BlueprintSetupState) -> None:
    """One Authlib authorization server and resource protector per app."""
    app = cast(Flask, setup.app)
    client_id = cast(AppState, app.extensions[EXTENSION]).settings.smart_client_id
    app.extensions[SERVER_KEY] = authorization_server(app, client_id)


def _server() -> AuthorizationServer:
    return cast(AuthorizationServer, current_app.extensions[SERVER_KEY][0])


def _protector() -> ResourceProtector:
    return cast(ResourceProtector, current_app.extensions[SERVER_KEY][1])


# --- endpoints -------------------------------------------------------------------------


@blueprint.get("/.well-known/smart-configuration")
def configuration() -> Response:
    """SMART App Launch discovery of the fixture FHIR server."""
    return jsonify(smart_configuration(fhir_base()))


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
    launch_id = signed_tokens().launch_id(LaunchContext(patient=patient, app_context=app_context))
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
        grant = cast(CodeGrant, server.get_consent_grant(end_user=None))  # type: ignore[no-untyped-call]
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
    user = User(patient=context.patient, app_context=context.app_context)
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
        granted = cast(Granted, _protector().acquire_token(scopes))  # type: ignore[no-untyped-call]
    except InsufficientScopeError:
        return operation_outcome(403, "forbidden", f"the token does not grant {kind} reads")
    except OAuth2Error:
        raise Unauthorized(
            "a valid bearer token from this server's /fhir/auth/token is needed"
        ) from None
    if not _compartment_ok(granted.token.patient, kind, ident):
        return operation_outcome(403, "forbidden", "the token grants another patient's records")
    return None
