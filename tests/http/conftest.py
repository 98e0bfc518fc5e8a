"""Fixtures of the HTTP tests: an app on a temporary feedback database, its client."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from service.http.factory import create_app
from tests.http.support import TODAY, AppFactory, CheckedClient

__all__ = ["AppFactory"]  # re-exported: the tests import it from here


@pytest.fixture(autouse=True)
def _no_service_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start from the defaults, whatever SCLC_CDS_* the shell exports."""
    for name in list(os.environ):
        if name.startswith("SCLC_CDS_"):
            monkeypatch.delenv(name)


@pytest.fixture
def make_app(tmp_path: Path) -> AppFactory:
    """Build an app with test settings; keyword arguments override them."""

    def build(**overrides: Any) -> Flask:
        config = {"TESTING": True, "TODAY": TODAY, "FEEDBACK_DB": tmp_path / "feedback.sqlite3"}
        app = create_app({**config, **overrides})
        app.test_client_class = CheckedClient
        return app

    return build


@pytest.fixture
def app(make_app: AppFactory) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> CheckedClient:
    return app.test_client()  # type: ignore[return-value]
