"""`create_app`: defaults, then SCLC_CDS_* variables, then the test config (STYLE §1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from flask import Flask

from service.http import factory
from service.http.factory import DEFAULTS, create_app
from service.http.state import state
from tests.http.conftest import AppFactory


def test_defaults_apply_without_configuration(tmp_path: Path) -> None:
    """With nothing set, the documented defaults hold."""
    app = create_app({"FEEDBACK_DB": tmp_path / "f.sqlite3"})
    with app.app_context():
        settings = state().settings
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert settings.today is None
    assert settings.jwt is None
    assert settings.page_cap == DEFAULTS["FHIR_PAGE_CAP"]
    assert settings.cors_origins == "*"


def test_test_config_is_applied(make_app: AppFactory) -> None:
    """Values passed to create_app are the app's settings."""
    app = make_app(MAX_BODY_BYTES=1000, TODAY="2030-01-02", FHIR_PAGE_CAP=3)
    with app.app_context():
        settings = state().settings
    assert app.testing
    assert app.config["MAX_CONTENT_LENGTH"] == 1000
    assert settings.evaluation_date() == date(2030, 1, 2)
    assert settings.page_cap == 3


def test_environment_prefix_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """SCLC_CDS_<KEY> variables set the app's settings (JSON-decoded where they can be)."""
    monkeypatch.setenv("SCLC_CDS_MAX_BODY_BYTES", "4096")
    monkeypatch.setenv("SCLC_CDS_TODAY", "2026-11-21")
    monkeypatch.setenv("SCLC_CDS_FEEDBACK_DB", str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("SCLC_CDS_FHIR_READ_TIMEOUT", "2.5")
    monkeypatch.setenv(
        "SCLC_CDS_CORS_ORIGINS", "https://sandbox.cds-hooks.org, http://localhost:3000"
    )
    monkeypatch.setenv("SCLC_CDS_THRESHOLD_RECHALLENGE_WINDOW_DAYS", "200")
    app = create_app()
    with app.app_context():
        settings = state().settings
    assert app.config["MAX_CONTENT_LENGTH"] == 4096
    assert settings.today == date(2026, 11, 21)
    assert settings.feedback_db == tmp_path / "env.sqlite3"
    assert settings.timeouts.read == 2.5
    assert settings.cors_origins == ["https://sandbox.cds-hooks.org", "http://localhost:3000"]
    assert settings.thresholds.rechallenge_window_days == 200


def test_test_config_overrides_the_environment(
    monkeypatch: pytest.MonkeyPatch, make_app: AppFactory
) -> None:
    """The test config comes last, so it wins over SCLC_CDS_* variables."""
    monkeypatch.setenv("SCLC_CDS_MAX_BODY_BYTES", "4096")
    assert make_app(MAX_BODY_BYTES=2048).config["MAX_CONTENT_LENGTH"] == 2048


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCLC_CDS_TODAY", "tomorrow"),
        ("SCLC_CDS_MAX_BODY_BYTES", "-1"),
        ("SCLC_CDS_FHIR_PAGE_CAP", "many"),
        ("SCLC_CDS_FHIR_CONNECT_TIMEOUT", "0"),
        ("SCLC_CDS_JWT_REQUIRED", "maybe"),
        ("SCLC_CDS_THRESHOLD_RECHALLENGE_WINDOW_DAYS", "soon"),
    ],
)
def test_an_unusable_setting_stops_the_app_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    """A bad value fails create_app with a ValueError that names its variable."""
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        create_app({"FEEDBACK_DB": tmp_path / "f.sqlite3"})


def test_jwt_required_without_a_key_set_is_refused(tmp_path: Path) -> None:
    """Requiring JWTs without SCLC_CDS_JWT_JWKS is a configuration error."""
    with pytest.raises(ValueError, match="SCLC_CDS_JWT_JWKS"):
        create_app(
            {
                "JWT_REQUIRED": True,
                "BASE_URL": "https://cds.example.org",
                "FEEDBACK_DB": tmp_path / "f.sqlite3",
            }
        )


def test_importing_the_factory_builds_no_app() -> None:
    """No module-level app: `sclc-cds serve` calls create_app() (tests/test_import_contract.py
    holds that importing `service` itself loads nothing)."""
    assert not any(isinstance(value, Flask) for value in vars(factory).values())
    assert callable(factory.create_app)


def test_each_call_builds_an_independent_app(make_app: AppFactory) -> None:
    """Two apps share no settings."""
    first, second = make_app(MAX_BODY_BYTES=100), make_app(MAX_BODY_BYTES=200)
    assert first is not second
    assert first.config["MAX_CONTENT_LENGTH"] == 100
    assert second.config["MAX_CONTENT_LENGTH"] == 200


def test_the_feedback_database_is_created_by_the_factory(tmp_path: Path) -> None:
    """The store's schema is created once, when the app is built, not by each call."""
    create_app({"FEEDBACK_DB": tmp_path / "now" / "f.sqlite3"})
    assert (tmp_path / "now" / "f.sqlite3").is_file()


def test_the_default_feedback_database_is_in_the_instance_folder() -> None:
    """Without SCLC_CDS_FEEDBACK_DB the store is instance/feedback.sqlite3."""
    app = create_app()
    with app.app_context():
        assert state().settings.feedback_db == Path(app.instance_path) / "feedback.sqlite3"


def test_a_demo_asked_for_where_it_is_left_out_stops_the_app(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCLC_CDS_DEMO=true in an installation without the demo (the production image):
    a ValueError that says so, not an app without /demo; unset, the app serves none."""
    monkeypatch.setattr("service.settings.demo_installed", lambda: False)
    monkeypatch.setattr(factory, "demo_installed", lambda: False)
    with pytest.raises(ValueError, match="SCLC_CDS_DEMO=true.*leaves the demo EHR out"):
        make_app(DEMO=True)
    client = make_app().test_client()
    assert [client.get(p).status_code for p in ("/demo", "/fhir/Patient")] == [404, 404]
