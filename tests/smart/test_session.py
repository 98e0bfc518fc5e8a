"""The key that signs the app's session cookie (and the demo EHR's codes and tokens)."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from flask import Flask, session

from service.settings import Settings
from service.smart.session_cookie import CookieFirstSessions, configure_session

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


def _cookie(app: Flask, base_url: str) -> str:
    """The Set-Cookie header of a response that keeps something in the session."""

    @app.get("/remember")
    def remember() -> str:
        session["kept"] = "value"
        return "kept"

    return str(app.test_client().get("/remember", base_url=base_url).headers["Set-Cookie"])


def _attributes(cookie: str) -> set[str]:
    return {part.strip() for part in cookie.split(";")[1:]}


def test_the_cookie_is_lax_over_http_and_framable_over_https(tmp_path: Path) -> None:
    """HttpOnly always. Over plain http: SameSite=Lax, not Secure. Over https (the
    request's, or the public URL's): SameSite=None, Secure and Partitioned, so that the
    app keeps its sign-in inside an EHR's cross-site frame."""
    plain = _attributes(_cookie(app_in(tmp_path, SECRET_KEY=KEY), "http://localhost"))
    assert {"HttpOnly", "SameSite=Lax"} <= plain
    assert not {"Secure", "Partitioned", "SameSite=None"} & plain
    framable = {"HttpOnly", "Secure", "SameSite=None", "Partitioned"}
    over_tls = _attributes(_cookie(app_in(tmp_path, SECRET_KEY=KEY), "https://localhost"))
    assert framable <= over_tls
    assert "SameSite=Lax" not in over_tls
    behind_tls = app_in(tmp_path, SECRET_KEY=KEY, BASE_URL="https://cds.example.org")
    assert framable <= _attributes(_cookie(behind_tls, "http://localhost"))


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
