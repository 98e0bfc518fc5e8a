"""The SMART app's launch: the OAuth 2 client side (SMART App Launch 2.0, "App Launch")
on Authlib, from the `iss` it is given to the grant kept in the session.

1. `authorization_url`: the `iss` must be the service's own fixture `/fhir` (demo on;
   read in process, never through a socket) or a server `SCLC_CDS_FHIR_SERVERS` allows;
   anything else is refused (a 400 message) with no request sent. The app reads
   `{iss}/.well-known/smart-configuration` (bounded, no redirects) and sends the browser
   to its `authorization_endpoint`: code flow, PKCE S256, a random `state`, `aud=iss`,
   the `launch`, and patient-scoped read scopes for exactly the resources the engine
   reads (`service.smart`). The pending launch (state, verifier, iss) is kept in a new
   server-side session (`service.smart.session_cookie`: the cookie holds its id only).
2. `finish_launch`: the pending launch's session is ended (used once); a refusal
   (`error=access_denied`) or a `state` that is not the one sent is a clear message;
   otherwise the code and the PKCE verifier are exchanged at the token endpoint (which
   must be the service's own `/fhir` or allowed too), and the grant (tokens, expiry,
   patient, server) is kept in a new session under a new id: the id rotates at sign-in.
3. `current_grant`: the session's grant while it lasts; "expired" (401) after.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

import requests
import urllib3.exceptions
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from authlib.oauth2.rfc6749.parameters import parse_authorization_code_response
from flask import Flask, current_app, request

from service.errors import InputError
from service.fetch.client import SessionFactory
from service.fetch.urls import allowed, normalise, same_url
from service.hooks.body import loads
from service.http.inprocess import in_process_session
from service.http.state import state
from service.settings import Settings
from service.smart import session_cookie
from service.smart.configuration import SmartConfiguration, requested_scopes
from service.smart.messages import Message, expired, not_allowed, not_smart, restart

__all__ = [
    "Server",
    "authorization_url",
    "current_grant",
    "fhir_server",
    "finish_launch",
    "service_base",
]

# The session's keys: the launch under way, then the grant it ended in.
PENDING = "smart_pending"
GRANT = "smart_grant"
# A discovery document is a few kilobytes; anything much larger is not one.
CONFIGURATION_MAX_BYTES = 256 * 1024
# When a token response gives no `expires_in` (SMART: RECOMMENDED), the app assumes this.
DEFAULT_TOKEN_SECONDS = 300
# PKCE verifier length (RFC 7636 §4.1: 43 to 128 characters).
VERIFIER_LENGTH = 64
_CHUNK_BYTES = 64 * 1024


# --- which FHIR server, and how it is read ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Server:
    """A FHIR server the app may use: its base and how sessions to it are made."""

    base: str
    sessions: SessionFactory


def service_base(settings: Settings) -> str:
    """The service's public address: SCLC_CDS_BASE_URL, else the URL of this request."""
    return settings.base_url or request.host_url.rstrip("/")


def fhir_server(iss: str) -> Server:
    """The server `iss` names, when the app may use it; Message (400) otherwise."""
    settings = state().settings
    own = f"{service_base(settings)}/fhir"
    if settings.demo_enabled and same_url(iss, own):
        app = cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
        base = normalise(own).rstrip("/")
        return Server(base, lambda: in_process_session(app, base))
    if settings.fhir_servers is not None and allowed(iss, settings.fhir_servers):
        return Server(normalise(iss).rstrip("/"), settings.session_factory)
    raise not_allowed()


def _may_send_to(server: Server, url: str) -> bool:
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


def _discover(server: Server) -> SmartConfiguration:
    """The server's SMART configuration; Message (502) when it has none the app can use."""
    settings = state().settings
    session = server.sessions()
    try:
        raw = _read_bounded(session, f"{server.base}/.well-known/smart-configuration", settings)
        configuration = SmartConfiguration.from_json(loads(raw))
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError, ValueError):
        raise not_smart() from None
    except InputError:  # not JSON
        raise not_smart() from None
    finally:
        session.close()
    if not _may_send_to(server, configuration.token_endpoint):
        raise not_smart()
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


def authorization_url(iss: str, *, launch_id: str | None) -> str:
    """Where to send the browser to launch the app at `iss` (EHR launch with a
    `launch_id`, standalone without); the pending launch is kept in the session."""
    settings = state().settings
    server = fhir_server(iss)
    configuration = _discover(server)
    redirect_uri = f"{service_base(settings)}/app/callback"
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
    pending = {
        "state": state_value,
        "verifier": verifier,
        "iss": server.base,
        "token_endpoint": configuration.token_endpoint,
        "redirect_uri": redirect_uri,
    }
    session_cookie.begin({PENDING: pending})
    return url


def finish_launch(url: str, args: Mapping[str, str]) -> None:
    """The EHR's answer at the callback (`url`, its query `args`): a refusal or an answer
    that does not match the pending launch is a Message; a code is exchanged for the
    token, kept as the grant in a new session (a new id)."""
    pending = (session_cookie.end() or {}).get(PENDING)
    if not isinstance(pending, dict):
        raise restart("The app has no record of starting this sign-in (or it was used).")
    if args.get("error"):
        error = args["error"]
        detail = args.get("error_description") or ""
        raise Message(
            403,
            "The EHR did not authorize the app."
            if error == "access_denied"
            else f"The EHR refused the app's request ({error}).",
            detail or "Nothing was read. Launch the app again to retry.",
        )
    try:
        answer = parse_authorization_code_response(url, state=pending["state"])
    except OAuth2Error as error:
        why = {
            "mismatching_state": "The answer's state is not the one the app sent: it may "
            "be forged or stale.",
            "missing_code": "The answer holds no authorization code.",
        }
        raise restart(why.get(str(error.error), str(error.error))) from None
    settings = state().settings
    server = fhir_server(pending["iss"])  # the allowlist may have changed since the launch
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
    grant = {
        "iss": pending["iss"],
        "access_token": token["access_token"],
        "expires_at": time.time() + (lifetime or DEFAULT_TOKEN_SECONDS),
        "patient": patient,
    }
    # Kept server side with the rest, never sent anywhere (the app does not refresh).
    grant.update({k: token[k] for k in ("refresh_token", "id_token") if token.get(k)})
    session_cookie.begin({GRANT: grant})


def current_grant() -> dict[str, Any]:
    """The session's live grant; Message (401, "expired") when there is none (then the
    session is ended)."""
    grant = (session_cookie.current() or {}).get(GRANT)
    if not isinstance(grant, dict) or float(grant.get("expires_at", 0)) <= time.time():
        session_cookie.end()
        raise expired()
    return grant
