"""sclc-relapse-cds: CDS Hooks decision support for relapsed small-cell lung cancer.

`create_app()` builds the CDS Hooks service; it is the only place things are wired
(gunicorn runs `"service:create_app()"`). No app is built at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from flask_cors import CORS

from service.fhirstore import FixtureStore
from service.http import (
    app_blueprint,
    configure_session,
    demo_blueprint,
    fhir_blueprint,
    hooks_blueprint,
    meta_blueprint,
    smart_ehr_blueprint,
)
from service.http.errors import register_error_handlers
from service.http.evidence import blueprint as evidence_blueprint
from service.http.fhir import STORE_KEY
from service.http.log import configure_logging
from service.http.state import AppState, install
from service.settings import DEFAULTS, Settings, load_config
from service.store import Store, database_url

__all__ = ["DEFAULTS", "create_app"]

# The headers a browser-based CDS client sends (CDS Hooks sandbox: JWT and JSON body).
CORS_ALLOW_HEADERS = ("Authorization", "Content-Type")
CORS_MAX_AGE_SECONDS = 600


class _JsonProvider(DefaultJSONProvider):
    sort_keys = False  # keep the specification's field order (cards, then systemActions)
    ensure_ascii = False


def _preflight_headers(response: Response) -> Response:
    """Name the allowed headers on every accepted preflight, asked for or not."""
    if request.method == "OPTIONS" and "Access-Control-Allow-Origin" in response.headers:
        response.headers["Access-Control-Allow-Headers"] = ", ".join(CORS_ALLOW_HEADERS)
    return response


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The CDS Hooks app: `DEFAULTS`, then `SCLC_CDS_*` variables, then `test_config`.

    Raises ValueError naming the variable when a setting is unusable.
    """
    app = Flask(__name__, static_folder=None)
    app.json = _JsonProvider(app)
    # The one reading of the settings (service.settings), shared with the CLI.
    app.config.from_mapping(load_config(os.environ, test_config))
    settings = Settings.from_config(app.config, instance_path=app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # The feedback and JWT-replay database (SQLite file, or SCLC_CDS_DATABASE_URL), its
    # schema created here, once.
    store = Store.open(database_url(settings.database_url, settings.feedback_db))
    install(app, AppState(settings=settings, store=store))
    configure_session(app, settings)  # the SMART app's signed cookie (and the demo EHR's key)

    app.extensions[STORE_KEY] = FixtureStore.from_dir(settings.fixtures_dir)

    app.register_blueprint(meta_blueprint)
    app.register_blueprint(hooks_blueprint)
    app.register_blueprint(app_blueprint)  # the SMART app, /app
    app.register_blueprint(evidence_blueprint)  # the pages the cards link to
    if settings.demo_enabled:  # SCLC_CDS_DEMO; `sclc-cds serve` turns it off off-loopback
        app.register_blueprint(fhir_blueprint)
        app.register_blueprint(smart_ehr_blueprint)  # /fhir as a SMART EHR (demo OAuth)
        app.register_blueprint(demo_blueprint)
    register_error_handlers(app)
    app.after_request(_preflight_headers)  # registered first, so it runs after flask-cors
    CORS(
        app,
        resources={r"/*": {"origins": settings.cors_origins}},
        allow_headers=list(CORS_ALLOW_HEADERS),
        methods=["GET", "POST", "OPTIONS"],
        max_age=CORS_MAX_AGE_SECONDS,
        # A public page (the hosted CDS Hooks sandbox) calling `make run` on localhost:
        # Chrome's Private Network Access preflight must be granted.
        allow_private_network=True,
    )
    configure_logging()
    return app
