"""The SMART app's session cookie: the key that signs it, and how it is sent.

The pending launch (state, verifier, iss) and then the grant (token, expiry, patient)
live in Flask's signed session cookie, HttpOnly, signed with `SCLC_CDS_SECRET_KEY` or a
key kept in the instance folder (`configure_session`); over https it is sent so that an
EHR may frame the app (`CookieFirstSessions`). The demo EHR signs its codes and tokens
with the same key.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask.wrappers import Request

from service.settings import Settings

__all__ = ["CookieFirstSessions", "configure_session"]

log = logging.getLogger("sclc_cds.app")

SECRET_FILE = "secret_key"  # noqa: S105  (a file name, not a secret)


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
