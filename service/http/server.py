"""Run the app in gunicorn (`sclc-cds serve`; the Dockerfile runs the same command).

This is the one gunicorn configuration: workers and threads from the settings
(`SCLC_CDS_WORKERS`, default one per CPU; `SCLC_CDS_THREADS`), TLS when a certificate and
key are configured, and the exposure check: bound to anything but loopback, the service
refuses to start unless JWTs are required from trusted issuers with `SCLC_CDS_BASE_URL`
set, or `SCLC_CDS_INSECURE=true` says otherwise (then it says so loudly at start).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from service.fetch.urls import is_loopback
from service.settings import Settings

__all__ = ["exposure_problem", "is_loopback", "serve"]

log = logging.getLogger("sclc_cds.server")

TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 10


def exposure_problem(settings: Settings, host: str) -> str | None:
    """Why serving `host` is refused, in one line; None when it may be served."""
    if is_loopback(host) or settings.insecure:
        return None
    needs = []
    if settings.jwt is None:
        needs.append("SCLC_CDS_JWT_REQUIRED=true")
    elif settings.jwt.issuers is None:
        needs.append("SCLC_CDS_JWT_ISSUERS (the trusted issuers)")
    if not settings.base_url:
        needs.append("SCLC_CDS_BASE_URL (the aud of the JWTs)")
    if not needs:
        return None
    return (
        f"refusing to serve {host} without JWT authentication: set {' and '.join(needs)}, "
        "or SCLC_CDS_INSECURE=true for development only"
    )


class _Gunicorn(BaseApplication):  # type: ignore[misc]  # gunicorn has no type hints
    """gunicorn serving an app built already (so a bad setting fails before forking)."""

    def __init__(self, app: Flask, options: dict[str, Any]) -> None:
        self._app = app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)
        # gunicorn >= 25.1 opens a control socket at one fixed path per user; two
        # instances (a restart overlapping, tests) would fight over it. Not needed here.
        if "control_socket_disable" in self.cfg.settings:
            self.cfg.set("control_socket_disable", True)

    def load(self) -> Flask:
        return self._app


def options(settings: Settings, *, host: str, port: int, workers: int) -> dict[str, Any]:
    """gunicorn's settings for these service settings."""
    found: dict[str, Any] = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": settings.threads,
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "accesslog": None,  # the app writes its own JSON line per call, without PHI
        "errorlog": "-",
        "proc_name": "sclc-cds",
    }
    if settings.tls_cert and settings.tls_key:
        found["certfile"] = str(settings.tls_cert)
        found["keyfile"] = str(settings.tls_key)
    return found


def serve(app: Flask, settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Serve `app` on host:port until stopped (SIGTERM or SIGINT)."""
    if settings.insecure and not is_loopback(host):
        log.warning(
            '{"event": "insecure", "message": "SCLC_CDS_INSECURE=true: serving %s without '
            'JWT authentication; for development only"}',
            host,
        )
    _Gunicorn(app, options(settings, host=host, port=port, workers=workers)).run()
