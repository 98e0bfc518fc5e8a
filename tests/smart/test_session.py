"""The key that signs the app's session cookie (and the demo EHR's codes and tokens)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask, session

from service.http import configure_session
from service.http.app import CookieFirstSessions
from service.settings import Settings

KEY = "configured-key-of-the-tests"  # noqa: S105 - a fake key of the tests


def app_in(folder: Path, **config: str) -> Flask:
    app = Flask(__name__, instance_path=str(folder))
    configure_session(app, Settings.from_env({}, config, instance_path=str(folder)))
    return app


def test_the_configured_secret_key_is_used(tmp_path: Path) -> None:
    """SCLC_CDS_SECRET_KEY signs the cookie; no key file is made."""
    assert app_in(tmp_path, SECRET_KEY=KEY).secret_key == KEY
    assert not (tmp_path / "secret_key").exists()


def test_without_one_a_key_is_kept_in_the_instance_folder(tmp_path: Path) -> None:
    """The key is made once, readable by its owner only, and every app reads the same."""
    first = app_in(tmp_path / "instance")
    path = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(str(first.secret_key)) >= 43
    assert app_in(tmp_path / "instance").secret_key == first.secret_key
    assert list((tmp_path / "instance").iterdir()) == [path]  # no draft left behind


def test_the_cookie_is_http_only_and_same_site_lax(tmp_path: Path) -> None:
    """HttpOnly and SameSite=Lax always; Secure when the public URL is https."""
    plain = app_in(tmp_path, SECRET_KEY=KEY)
    assert plain.config["SESSION_COOKIE_HTTPONLY"] is True
    assert plain.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert plain.config["SESSION_COOKIE_SECURE"] is False
    behind_tls = app_in(tmp_path, SECRET_KEY=KEY, BASE_URL="https://cds.example.org")
    assert behind_tls.config["SESSION_COOKIE_SECURE"] is True


def test_sessions_read_their_cookie_and_cost_nothing_without_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value kept in the session comes back with the cookie; a request without a cookie
    gets an empty session without the signer being built."""
    app = app_in(tmp_path, SECRET_KEY=KEY)

    @app.get("/keep")
    def keep() -> str:
        session["kept"] = "value"
        return "kept"

    @app.get("/read")
    def read() -> str:
        return str(session.get("kept", "(empty)"))

    client = app.test_client()
    assert client.get("/keep").status_code == 200
    assert client.get("/read").get_data(as_text=True) == "value"
    built: list[bool] = []
    signer = CookieFirstSessions.get_signing_serializer
    monkeypatch.setattr(
        CookieFirstSessions,
        "get_signing_serializer",
        lambda self, flask_app: built.append(True) or signer(self, flask_app),
    )
    assert app.test_client().get("/read").get_data(as_text=True) == "(empty)"
    assert built == []
    assert client.get("/read").get_data(as_text=True) == "value"
    assert built == [True]
