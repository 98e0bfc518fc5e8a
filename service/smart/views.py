"""`/app`: the SMART App Launch 2.0 app, the relapse timeline and everything the hook says.

The flow (SMART App Launch 2.0, "App Launch"), the OAuth 2 client side on Authlib:

1. `GET /app/launch?iss=…&launch=…` (EHR launch, as a CDS Hooks `smart` card link opens
   it) or `GET /app/launch?iss=…` (standalone; `GET /app/` is a small form for it). The
   `iss` must be the service's own fixture `/fhir` (demo on; read in process, never
   through a socket) or a server `SCLC_CDS_FHIR_SERVERS` allows; anything else gets a
   400 page and no request. The app reads `{iss}/.well-known/smart-configuration`
   (bounded, no redirects) and sends the browser to its `authorization_endpoint`:
   code flow, PKCE S256, a random `state`, `aud=iss`, the `launch`, and patient-scoped
   read scopes for exactly the resources the engine reads (`service.smart`).
2. `GET /app/callback`: a refusal (`error=access_denied`) or a `state` that is not the
   one sent gets a clear page; otherwise the code and the PKCE verifier are exchanged at
   the token endpoint (which must be the service's own `/fhir` or allowed too).
3. `GET /app/view`: the page (`templates/app.html`, drawn by `static/chart.js`) of the
   token's patient: header, timeline, summary, ranked options with their full evidence,
   the trial pre-screen, the cards. Its data is `GET /app/api/record`: the hook's own
   prefetch queries (`service.hooks.PREFETCH`) read from `iss` with the user's token,
   every page followed, within the settings' FHIR limits, then `service.pipeline.assess`.

The pending launch (state, verifier, iss) and then the grant (token, expiry, patient)
live in Flask's signed session cookie (HttpOnly, SameSite=Lax), signed with
`SCLC_CDS_SECRET_KEY` or a key kept in the instance folder (`configure_session`). A
session that is missing or expired, or a token the FHIR server refuses (401), gets
"Your session has expired; launch the app again from the EHR", never a blank page: the
pages answer HTML messages, `/app/api/*` OperationOutcomes the page shows.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import requests
import urllib3.exceptions
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request
from werkzeug.exceptions import HTTPException

from service.errors import InputError, PrefetchUnavailable, SclcCdsError
from service.fetch.client import FhirClient, Limits, SessionFactory
from service.fetch.gather import gather
from service.fetch.urls import allowed, normalise, same_url
from service.hooks import PREFETCH
from service.hooks.body import loads
from service.http.error_handlers import operation_outcome
from service.http.inprocess import in_process_session
from service.http.log import log_error
from service.http.openapi import html, responses
from service.http.openapi import redirect as redirection
from service.http.state import state
from service.knowledge import load_knowledge
from service.pipeline import assess
from service.settings import Settings
from service.smart.chart import chart
from service.smart.configuration import SmartConfiguration, requested_scopes

__all__ = ["Message", "blueprint", "configure_session"]

log = logging.getLogger("sclc_cds.app")

blueprint = Blueprint(
    "smart_app",
    __name__,
    url_prefix="/app",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# The session cookie's keys: the launch under way, then the grant it ended in.
PENDING = "smart_pending"
GRANT = "smart_grant"
# A discovery document is a few kilobytes; anything much larger is not one.
CONFIGURATION_MAX_BYTES = 256 * 1024
# When a token response gives no `expires_in` (SMART: RECOMMENDED), the app assumes this.
DEFAULT_TOKEN_SECONDS = 300
# PKCE verifier length (RFC 7636 §4.1: 43 to 128 characters).
VERIFIER_LENGTH = 64
# The OpenAPI description of the pages: HTML, a message page for every failure.
_MESSAGE = {"default": html("A page saying what went wrong and what to do")}
SECRET_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
_CHUNK_BYTES = 64 * 1024


# --- the session cookie's key ----------------------------------------------------------


def _instance_secret(folder: Path) -> str:
    """The key kept in `folder/secret_key` (0600), made on first use. Made atomically
    (written aside, then linked into place), so two processes starting at once agree."""
    path = folder / SECRET_FILE
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    draft = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48))
    try:
        os.link(draft, path)  # fails if another process made it first: theirs is kept
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="ascii").strip()


class CookieFirstSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, which look for the cookie before building the
    signer: a request without one (every hook call: EHRs send no cookie) gets its empty
    session without the signer built for nothing, about a tenth of a cache hit's time.

    Over https (the request's, or SCLC_CDS_BASE_URL's) the cookie is `SameSite=None;
    Secure; Partitioned`: an EHR that shows the SMART app in a frame of its own page (a
    cross-site frame) keeps the app's sign-in, which a `SameSite=Lax` cookie loses
    between launch and callback. Partitioned (CHIPS): the cookie is kept apart for each
    top-level site that frames the app, so a page of another site never sends it.
    Over plain http, where browsers refuse `SameSite=None` without `Secure`, it stays
    `SameSite=Lax`: the app works in a window or tab of its own.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ  # no header to parse at all
            or not request.cookies.get(self.get_cookie_name(app))
        ):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure
        )

    def get_cookie_samesite(self, app: Flask) -> str:
        return "None" if self.get_cookie_secure(app) else "Lax"

    def get_cookie_partitioned(self, app: Flask) -> bool:
        return self.get_cookie_secure(app)


def configure_session(app: Flask, settings: Settings) -> None:
    """Sign the session cookie with `SCLC_CDS_SECRET_KEY`, else with a key kept in the
    instance folder (one key for every gunicorn worker, as the app is built before they
    fork, and across restarts); HttpOnly, and framed or not over https
    (`CookieFirstSessions`)."""
    key = settings.secret_key
    if key is None:
        try:
            key = _instance_secret(Path(app.instance_path))
        except OSError:
            # A read-only install: a key for this process's life; sessions end with it.
            log.warning(json.dumps({"event": "secret-key", "kept": False}))
            key = secrets.token_urlsafe(48)
    app.secret_key = key
    app.session_interface = CookieFirstSessions()
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=bool(settings.base_url and settings.base_url.startswith("https:")),
    )


# --- messages: what the user sees instead of a blank page ------------------------------


class Message(Exception):
    """A clear message for the user, with the HTTP status of the page that shows it."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.detail = detail


def _not_allowed() -> Message:
    return Message(
        400,
        "This FHIR server is not one this app may use.",
        "The app reads only the service's own demo FHIR server and the servers its "
        "administrator lists in SCLC_CDS_FHIR_SERVERS. Nothing was sent to it.",
    )


def _expired() -> Message:
    return Message(401, "Your session has expired; launch the app again from the EHR.")


def _not_smart() -> Message:
    return Message(
        502,
        "This FHIR server does not offer a SMART App Launch the app can use.",
        "Its .well-known/smart-configuration could not be read, or names endpoints "
        "the app may not use, or does not offer PKCE with S256.",
    )


def _restart(detail: str) -> Message:
    return Message(400, "This sign-in cannot be completed; launch the app again.", detail)


def _api() -> bool:
    return request.path.startswith("/app/api/")


def _message_response(status: int, title: str, detail: str = "") -> Response:
    if _api():
        return operation_outcome(status, "login" if status == 401 else "processing", title)
    # Where a new start is made: the demo EHR when there is one, else the launch form.
    again = "/demo" if state().settings.demo_enabled else "/app/"
    html = render_template("message.html", title=title, detail=detail, again=again)
    return Response(html, status=status, mimetype="text/html")


@blueprint.errorhandler(Exception)
def _error(error: Exception) -> Response:
    """Every failure of the app as a message: an HTML page, or an OperationOutcome for
    the page's script; the log gets the class of unexpected ones only."""
    if request.endpoint in (None, "smart_app.static"):  # not a page of the app: JSON
        if isinstance(error, HTTPException):
            return operation_outcome(error.code or 500, "not-found", error.name)
        log_error(error)
        return operation_outcome(500, "exception", "the service failed unexpectedly")
    if isinstance(error, Message):
        return _message_response(error.status, error.title, error.detail)
    if isinstance(error, SclcCdsError):
        return _message_response(error.status, str(error) or error.__class__.__name__)
    if isinstance(error, HTTPException):
        return _message_response(error.code or 500, error.name)
    log_error(error)
    return _message_response(500, "The app failed unexpectedly; the error is logged.")


@blueprint.after_request
def _headers(response: Response) -> Response:
    # Codes and tokens travel in these URLs and pages: keep them out of caches and
    # out of the Referer of any link the page holds.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --- which FHIR server, and how it is read ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Server:
    """A FHIR server the app may use: its base and how sessions to it are made."""

    base: str
    sessions: SessionFactory


def _service_base(settings: Settings) -> str:
    """The service's public address: SCLC_CDS_BASE_URL, else the URL of this request."""
    return settings.base_url or request.host_url.rstrip("/")


def _server(iss: str) -> _Server:
    """The server `iss` names, when the app may use it; Message (400) otherwise."""
    settings = state().settings
    own = f"{_service_base(settings)}/fhir"
    if settings.demo_enabled and same_url(iss, own):
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        base = normalise(own).rstrip("/")
        return _Server(base, lambda: in_process_session(app, base))
    if settings.fhir_servers is not None and allowed(iss, settings.fhir_servers):
        return _Server(normalise(iss).rstrip("/"), settings.session_factory)
    raise _not_allowed()


def _may_send_to(server: _Server, url: str) -> bool:
    """The token endpoint gets the code and verifier: it must be the server's own or a
    URL the allowlist names (no request goes anywhere else)."""
    settings = state().settings
    return allowed(url, [server.base]) or (
        settings.fhir_servers is not None and allowed(url, settings.fhir_servers)
    )


def _read_bounded(session: requests.Session, url: str, settings: Settings) -> bytes:
    """A GET's body, within the FHIR timeouts, budget and CONFIGURATION_MAX_BYTES."""
    deadline = time.monotonic() + settings.fhir_budget_seconds
    timeouts = (settings.timeouts.connect, settings.timeouts.read)
    with session.get(
        url,
        headers={"Accept": "application/json"},
        timeout=timeouts,
        allow_redirects=False,
        stream=True,
    ) as response:
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        chunks: list[bytes] = []
        size = 0
        while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
            size += len(chunk)
            if size > CONFIGURATION_MAX_BYTES or time.monotonic() > deadline:
                raise ValueError("too large or too slow")
            chunks.append(chunk)
    return b"".join(chunks)


def _discover(server: _Server) -> SmartConfiguration:
    """The server's SMART configuration; Message (502) when it has none the app can use."""
    settings = state().settings
    session = server.sessions()
    try:
        raw = _read_bounded(session, f"{server.base}/.well-known/smart-configuration", settings)
        configuration = SmartConfiguration.from_json(loads(raw))
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
        raise _not_smart() from None
    except InputError:  # not JSON
        raise _not_smart() from None
    finally:
        session.close()
    if not _may_send_to(server, configuration.token_endpoint):
        raise _not_smart()
    return configuration


def _oauth_client(settings: Settings, *, scope: str | None, redirect_uri: str) -> OAuth2Session:
    """Authlib's OAuth 2 client for the app: public (no secret), PKCE S256."""
    return OAuth2Session(
        client_id=settings.smart_client_id,
        token_endpoint_auth_method="none",  # noqa: S106  (a public client: PKCE, no secret)
        scope=scope,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def _adopt(client: requests.Session, sessions: SessionFactory) -> None:
    """Send the client's requests the way `sessions` would (in process to the own
    /fhir; a test's transport): take over its adapters."""
    template = sessions()
    for prefix, adapter in template.adapters.items():
        client.mount(prefix, adapter)


# --- the launch ------------------------------------------------------------------------


@blueprint.get("/")
@responses({"200": html("The standalone launch form"), **_MESSAGE})
def start() -> Response:
    """The standalone launch form: which FHIR server to sign in to."""
    settings = state().settings
    own = f"{_service_base(settings)}/fhir" if settings.demo_enabled else ""
    html = render_template("app_start.html", default_iss=own)
    return Response(html, mimetype="text/html")


@blueprint.get("/launch")
@responses({"302": redirection("To the EHR's authorization endpoint"), **_MESSAGE})
def launch() -> Response:
    """EHR launch (`iss` and `launch`) or standalone launch (`iss`): off to the EHR's
    authorization endpoint."""
    settings = state().settings
    iss = request.args.get("iss", "").strip()
    if not iss:
        raise Message(400, "The launch names no FHIR server (iss).", "Open the app from the EHR.")
    server = _server(iss)
    configuration = _discover(server)
    launch_id = request.args.get("launch") or None
    redirect_uri = f"{_service_base(settings)}/app/callback"
    client = _oauth_client(
        settings,
        scope=requested_scopes(configuration, ehr_launch=launch_id is not None),
        redirect_uri=redirect_uri,
    )
    verifier = generate_token(VERIFIER_LENGTH)
    extra = {"aud": server.base, **({"launch": launch_id} if launch_id else {})}
    url, state_value = client.create_authorization_url(
        configuration.authorization_endpoint,
        state=secrets.token_urlsafe(24),
        code_verifier=verifier,
        **extra,
    )
    session.pop(GRANT, None)
    session[PENDING] = {
        "state": state_value,
        "verifier": verifier,
        "iss": server.base,
        "token_endpoint": configuration.token_endpoint,
        "redirect_uri": redirect_uri,
    }
    return cast(Response, redirect(url))


@blueprint.get("/callback")
@responses({"302": redirection("To the app's page"), **_MESSAGE})
def callback() -> Response:
    """The EHR's answer: a refusal, or a code to exchange for the token."""
    pending = session.pop(PENDING, None)
    if not isinstance(pending, dict):
        raise _restart("The app has no record of starting this sign-in (or it was used).")
    if request.args.get("error"):
        error = request.args["error"]
        detail = request.args.get("error_description") or ""
        raise Message(
            403,
            "The EHR did not authorize the app."
            if error == "access_denied"
            else f"The EHR refused the app's request ({error}).",
            detail or "Nothing was read. Launch the app again to retry.",
        )
    try:
        answer = parse_authorization_code_response(request.url, state=pending["state"])
    except OAuth2Error as error:
        why = {
            "mismatching_state": "The answer's state is not the one the app sent: it may "
            "be forged or stale.",
            "missing_code": "The answer holds no authorization code.",
        }
        raise _restart(why.get(str(error.error), str(error.error))) from None
    settings = state().settings
    server = _server(pending["iss"])  # the allowlist may have changed since the launch
    client = _oauth_client(settings, scope=None, redirect_uri=pending["redirect_uri"])
    _adopt(client, server.sessions)
    try:
        token = client.fetch_token(
            pending["token_endpoint"],
            grant_type="authorization_code",
            code=answer["code"],
            code_verifier=pending["verifier"],
            timeout=(settings.timeouts.connect, settings.timeouts.read),
            allow_redirects=False,
        )
    except OAuthError as error:
        raise Message(
            502, "The EHR did not give the app an access token.", f"It answered {error.error}."
        ) from None
    except (requests.RequestException, ValueError):
        raise Message(502, "The EHR did not give the app an access token.") from None
    finally:
        client.close()
    patient = token.get("patient")
    if not isinstance(patient, str) or not patient:
        raise Message(400, "The EHR gave the app no patient.", "Launch it from a patient's chart.")
    expires_in = token.get("expires_in")
    lifetime = expires_in if isinstance(expires_in, int) and expires_in > 0 else None
    session[GRANT] = {
        "iss": pending["iss"],
        "access_token": token["access_token"],
        "expires_at": time.time() + (lifetime or DEFAULT_TOKEN_SECONDS),
        "patient": patient,
    }
    return cast(Response, redirect(f"{_service_base(settings)}/app/view"))


def _grant() -> dict[str, Any]:
    """The session's live grant; Message (401, "expired") when there is none."""
    grant = session.get(GRANT)
    if not isinstance(grant, dict) or float(grant.get("expires_at", 0)) <= time.time():
        raise _expired()
    return grant


# --- the page and its data -------------------------------------------------------------


@blueprint.get("/view")
@responses({"200": html("The app's page"), **_MESSAGE})
def view() -> Response:
    """The app's page for the session's patient (its data comes from /app/api/record)."""
    _grant()
    return Response(render_template("app.html"), mimetype="text/html")


class _Watch:
    """Notes whether any answer of the FHIR server was 401 (the token was refused)."""

    def __init__(self) -> None:
        self.refused = False

    def sessions(self, factory: SessionFactory) -> SessionFactory:
        def make() -> requests.Session:
            made = factory()
            made.hooks["response"].append(self._see)
            return made

        return make

    def _see(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code == 401:
            self.refused = True


def _limits(settings: Settings) -> Limits:
    return Limits(
        seconds=settings.fhir_budget_seconds,
        answer_bytes=settings.fhir_max_answer_bytes,
        call_bytes=settings.fhir_max_call_bytes,
        page_cap=settings.page_cap,
        timeouts=settings.timeouts,
    )


@blueprint.get("/api/record")
def record() -> Response:
    """The session's patient, read from the EHR with the user's token and assessed: the
    header, timeline, options with evidence, trial pre-screen and cards."""
    grant = _grant()
    settings = state().settings
    server = _server(grant["iss"])
    patient = str(grant["patient"])
    watch = _Watch()
    client = FhirClient(
        server.base,
        token=str(grant["access_token"]),
        sessions=watch.sessions(server.sessions),
        limits=_limits(settings),
    )
    try:
        gathered = gather(PREFETCH, prefetch={}, context={"patientId": patient}, client=client)
    except PrefetchUnavailable:
        if watch.refused:
            raise _expired() from None
        raise Message(502, "The EHR's FHIR server could not be read for this patient.") from None
    finally:
        client.close()
    resource = next(
        (
            r.resource
            for r in gathered.resources
            if r.resource.get("resourceType") == "Patient" and r.resource.get("id") == patient
        ),
        None,
    )
    if resource is None:
        raise Message(502, "The EHR's FHIR server has no record of this patient.")
    assessment = assess(
        gathered.resources,
        patient_id=patient,
        today=settings.evaluation_date(),
        thresholds=settings.thresholds,
        warnings=gathered.warnings,
        base_url=_service_base(settings),
    )
    body = chart(assessment, resource, load_knowledge())
    return jsonify({**body, "server": server.base})
