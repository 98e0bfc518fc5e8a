"""The app's secret key (it signs the demo EHR's codes and tokens), and no Flask session."""

from __future__ import annotations

import stat
from pathlib import Path

from flask import Flask, session

from service.settings import Settings
from service.smart.session_cookie import configure_session

KEY = "configured-key-of-the-tests"  # noqa: S105 - a fake key of the tests


def app_in(folder: Path, **config: str) -> Flask:
    app = Flask(__name__, instance_path=str(folder))
    configure_session(app, Settings.from_env({}, config, instance_path=str(folder)))
    return app


def test_the_configured_secret_key_is_used(tmp_path: Path) -> None:
    """SCLC_CDS_SECRET_KEY is the key; no key file is made."""
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


def test_flasks_own_session_cookie_is_never_written(tmp_path: Path) -> None:
    """Flask's signed session is not used: a write to it fails (nothing can put a token
    back into a cookie) and no request sets a cookie of it."""
    app = app_in(tmp_path, SECRET_KEY=KEY)

    @app.get("/write")
    def write() -> str:
        session["kept"] = "value"
        return "kept"

    @app.get("/read")
    def read() -> str:
        return str(session.get("kept", "(empty)"))

    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    assert client.get("/write").status_code == 500
    answer = client.get("/read", headers={"Cookie": "session=eyJrZXB0IjoidmFsdWUifQ"})
    assert answer.get_data(as_text=True) == "(empty)"
    assert "Set-Cookie" not in answer.headers
