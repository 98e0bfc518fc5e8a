"""The SMART app's session: its data in the database, an opaque id in its cookie.

The pending launch (state, PKCE verifier, iss) and then the grant (the EHR's access
token, any refresh and id tokens, expiry, patient, FHIR server) are kept server side,
in the service's database (`service.store`: SQLite shared by the workers of a host, or
PostgreSQL shared by replicas), under a random id (`secrets.token_urlsafe(32)`). The
browser's cookie holds that id only: no token, no verifier, nothing that decodes into
one. A new id is made when a launch starts and again when it ends in a grant (the old
one deleted), so an id seen before the sign-in is worth nothing after it. A session
ends `SCLC_CDS_APP_SESSION_IDLE_SECONDS` after its last use, or
`SCLC_CDS_APP_SESSION_MAX_SECONDS` after it began; the table keeps the newest
`KEEP_SESSIONS` only.

The cookie (`COOKIE`, path `/app`) is HttpOnly. Over https (the request's, or
SCLC_CDS_BASE_URL's) it is `SameSite=None; Secure; Partitioned`: an EHR that shows the
app in a frame of its own page (a cross-site frame) keeps the app's sign-in, which a
`SameSite=Lax` cookie loses between launch and callback; Partitioned (CHIPS) keeps it
apart for each top-level site that frames the app. Over plain http (loopback only:
`service.smart.views` refuses it elsewhere) it is `SameSite=Lax`.

Flask's own signed-cookie session is not used: `configure_session` gives the app a
session interface whose session is Flask's null session, which refuses every write, so
nothing can put a token back into a cookie. The secret key it sets signs the demo
EHR's launch ids, codes and tokens (`service.smart.tokens`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask.wrappers import Request

from service.http.state import state
from service.settings import Settings

__all__ = [
    "COOKIE",
    "KEEP_SESSIONS",
    "begin",
    "configure_session",
    "current",
    "end",
    "forget",
    "send_cookie",
]

log = logging.getLogger("sclc_cds.app")

SECRET_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)
COOKIE = "sclc_cds_app"
COOKIE_PATH = "/app"
# At most this many sessions are kept; a new one evicts the oldest beyond it.
KEEP_SESSIONS = 10_000
_ID_BYTES = 32
_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_SENT = "smart_session_sent"  # g: the id to send in the response's cookie ("" clears it)


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


class NoCookieSessions(SecureCookieSessionInterface):
    """No Flask session at all: every request gets Flask's null session (it refuses
    writes), no cookie is read or set, and a hook call pays nothing for it."""

    def open_session(self, app: Flask, request: Request) -> None:
        return None


def configure_session(app: Flask, settings: Settings) -> None:
    """The app's secret key: `SCLC_CDS_SECRET_KEY`, else a key kept in the instance
    folder (one key for every gunicorn worker, as the app is built before they fork,
    and across restarts); and no Flask session (`NoCookieSessions`)."""
    key = settings.secret_key
    if key is None:
        try:
            key = _instance_secret(Path(app.instance_path))
        except OSError:
            # A read-only install: a key for this process's life; demo tokens end with it.
            log.warning(json.dumps({"event": "secret-key", "kept": False}))
            key = secrets.token_urlsafe(48)
    app.secret_key = key
    app.session_interface = NoCookieSessions()


# --- the session of this request -------------------------------------------------------


def _timeouts() -> dict[str, int]:
    settings = state().settings
    return {
        "idle_seconds": settings.app_session_idle_seconds,
        "max_seconds": settings.app_session_max_seconds,
    }


def _cookie_id() -> str | None:
    value = request.cookies.get(COOKIE)
    # Anything but an id of the shape the app makes is no session (and never a query).
    return value if value is not None and _ID_SHAPE.fullmatch(value) else None


def begin(data: dict[str, Any]) -> None:
    """A new session holding `data`, under a new id sent in this response's cookie; the
    request's own session, if any, is ended (the id rotates)."""
    end()
    session_id = secrets.token_urlsafe(_ID_BYTES)
    state().store.add_session(session_id, data, keep=KEEP_SESSIONS, **_timeouts())
    setattr(g, _SENT, session_id)


def current() -> dict[str, Any] | None:
    """The data of the request's live session; None (and the cookie cleared) when the
    request has none, or an unknown or expired one."""
    session_id = _cookie_id()
    if session_id is None:
        if COOKIE in request.cookies:
            forget()
        return None
    data = state().store.use_session(session_id, **_timeouts())
    if data is None:
        forget()
    return data


def end() -> dict[str, Any] | None:
    """End the request's session (its id is used once): its data when it was live."""
    session_id = _cookie_id()
    if COOKIE in request.cookies:
        forget()
    if session_id is None:
        return None
    return state().store.end_session(session_id, **_timeouts())


def forget() -> None:
    """Clear the cookie in this response."""
    setattr(g, _SENT, "")


def _secure() -> bool:
    base_url = state().settings.base_url
    return bool(base_url and base_url.startswith("https:")) or (
        has_request_context() and request.is_secure
    )


def send_cookie(response: Response) -> Response:
    """Set (or clear) the session cookie when this request began or ended a session."""
    sent = g.get(_SENT)
    if sent is None:
        return response
    secure = _secure()
    response.set_cookie(
        COOKIE,
        sent,
        max_age=None if sent else 0,
        path=COOKIE_PATH,
        secure=secure,
        httponly=True,
        samesite="None" if secure else "Lax",
        partitioned=secure,
    )
    return response
