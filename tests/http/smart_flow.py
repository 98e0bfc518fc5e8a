"""The SMART App Launch as a browser walks it, with the Flask test client: launch,
authorize, callback, each redirect checked and followed by hand."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from service.http.state import state
from service.smart.session_cookie import COOKIE
from service.store import Store
from tests.http.support import CheckedClient

OWN_FHIR = "http://localhost/fhir"  # the test client's host: the service's own /fhir
APP_LAUNCH = "http://localhost/app/launch"
TIMELINE_CONTEXT = '{"view": "timeline"}'


def query(url: str) -> dict[str, str]:
    """A URL's query parameters (each once)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, **changes: str) -> str:
    """`url` with some query parameters replaced or added."""
    parts = urlsplit(url)
    params = {**query(url), **changes}
    return urlunsplit(parts._replace(query=urlencode(params)))


def redirected(response: Any) -> str:
    """The Location of a 302, which it must be."""
    assert response.status_code == 302, (response.status_code, response.get_data()[:300])
    return str(response.headers["Location"])


def launch_id(client: CheckedClient, patient: str, app_context: str | None = None) -> str:
    """What the CDS Hooks sandbox asks the FHIR server for before it opens a smart link."""
    parameters: dict[str, Any] = {"patient": patient}
    if app_context is not None:
        parameters["appContext"] = app_context
    answer = client.post(
        "/fhir/_services/smart/Launch", json={"launchUrl": APP_LAUNCH, "parameters": parameters}
    )
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["launch_id"])


def start(client: CheckedClient, *, iss: str = OWN_FHIR, launch: str | None = None) -> str:
    """`/app/launch`: the URL of the authorization request it redirects to."""
    params = {"iss": iss, **({"launch": launch} if launch else {})}
    return redirected(client.get(f"/app/launch?{urlencode(params)}"))


def approve(client: CheckedClient, authorize_url: str) -> str:
    """The demo EHR's authorization endpoint: the callback URL it redirects to."""
    return redirected(client.get(authorize_url))


def finish(client: CheckedClient, callback_url: str) -> None:
    """`/app/callback`: exchanges the code and sends the browser to the app's page."""
    assert redirected(client.get(callback_url)).endswith("/app/view")


def sign_in(client: CheckedClient, patient: str) -> None:
    """A whole EHR launch for `patient`, ending with a grant in the session."""
    authorize_url = start(client, launch=launch_id(client, patient, TIMELINE_CONTEXT))
    finish(client, approve(client, authorize_url))


def token_for(client: CheckedClient, patient: str) -> str:
    """An access token of the demo EHR for `patient`, through its endpoints (as an app
    other than ours would get one)."""
    verifier = "v" * 43
    authorize_url = with_query(
        f"{OWN_FHIR}/auth/authorize",
        response_type="code",
        client_id="sclc-relapse-app",
        redirect_uri="http://localhost/app/callback",
        scope="launch/patient patient/Patient.rs patient/Observation.read",
        state="s" * 20,
        aud=OWN_FHIR,
        patient=patient,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    code = query(approve(client, authorize_url))["code"]
    answer = client.post(
        "/fhir/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "http://localhost/app/callback",
            "client_id": "sclc-relapse-app",
            "code_verifier": verifier,
        },
    )
    assert answer.status_code == 200, answer.get_json()
    return str(answer.get_json()["access_token"])


def _store(client: CheckedClient) -> Store:
    with client.application.app_context():
        return state().store


def session_id(client: CheckedClient) -> str | None:
    """The app's session id the browser holds (its cookie), if any."""
    cookie = client.get_cookie(COOKIE, path="/app")
    return cookie.value if cookie is not None else None


def set_grant(client: CheckedClient, **grant: Any) -> None:
    """Keep a grant in a new session and give the browser its id, as the callback would
    (`expires_at` defaults to an hour from now)."""
    sid = secrets.token_urlsafe(32)
    data = {"smart_grant": {"expires_at": time.time() + 3600, **grant}}
    _store(client).add_session(sid, data, idle_seconds=60, max_seconds=3600, keep=100)
    client.set_cookie(COOKIE, sid, path="/app")


def grant_of(client: CheckedClient) -> dict[str, Any]:
    """The grant of the browser's session, read server side."""
    sid = session_id(client)
    assert sid is not None
    data = _store(client).use_session(sid, idle_seconds=60, max_seconds=3600)
    assert data is not None
    return dict(data["smart_grant"])
