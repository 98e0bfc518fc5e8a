"""`create_app()`: the CDS Hooks service as a Flask app, the only place things are wired.

gunicorn runs `"service.http.factory:create_app()"`; no app is built at import time. The
demo EHR (`service.demo`: the fixture `/fhir`, its authorization server and `/demo`) is
registered only when `SCLC_CDS_DEMO` is on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, request
from flask.json.provider import DefaultJSONProvider
from flask_cors import CORS

from service.cache import CACHE_SIZE, AssessmentCache
from service.http.cds_hooks import blueprint as hooks_blueprint
from service.http.error_handlers import register_error_handlers
from service.http.evidence import blueprint as evidence_blueprint
from service.http.log import configure_logging
from service.http.meta import blueprint as meta_blueprint
from service.http.state import AppState, install
from service.settings import DEFAULTS, Settings, demo_installed, load_config
from service.smart.session_cookie import configure_session
from service.smart.views import blueprint as app_blueprint
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
    app = Flask("service", static_folder=None)  # the instance folder and logger of `service`
    app.json = _JsonProvider(app)
    # The one reading of the settings (service.settings), shared with the CLI.
    app.config.from_mapping(load_config(os.environ, test_config))
    settings = Settings.from_config(app.config, instance_path=app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    # The feedback and JWT-replay database (SQLite file, or SCLC_CDS_DATABASE_URL), its
    # schema created here, once.
    store = Store.open(database_url(settings.database_url, settings.feedback_db))
    cache = AssessmentCache(size=CACHE_SIZE if settings.cache else 0)  # SCLC_CDS_CACHE
    install(app, AppState(settings=settings, store=store, cache=cache))
    configure_session(app, settings)  # the secret key (demo EHR tokens); no Flask session

    app.register_blueprint(meta_blueprint)
    app.register_blueprint(hooks_blueprint)
    app.register_blueprint(app_blueprint)  # the SMART app, /app
    app.register_blueprint(evidence_blueprint)  # the pages the cards link to
    if settings.demo_enabled:  # SCLC_CDS_DEMO; `sclc-cds serve` turns it off off-loopback
        if not demo_installed():
            raise ValueError(
                "SCLC_CDS_DEMO=true, but this installation leaves the demo EHR out "
                "(the production image); use the demo image or a full install"
            )
        from service.demo import install_demo  # the demo EHR is a surface of its own

        install_demo(app, settings)
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
