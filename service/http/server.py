"""Run an app in gunicorn from Python (`sclc-cds serve`)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

__all__ = ["serve"]

# Two processes of a few threads each: a hook call is mostly waiting on a FHIR server
# or on the engine's small CPU work (2 cores on the project's machines).
WORKERS = 2
THREADS = 4
TIMEOUT_SECONDS = 30
GRACEFUL_TIMEOUT_SECONDS = 10


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


def serve(app: Flask, *, host: str, port: int) -> None:
    """Serve `app` on host:port until stopped (SIGTERM or SIGINT)."""
    options = {
        "bind": f"{host}:{port}",
        "workers": WORKERS,
        "worker_class": "gthread",
        "threads": THREADS,
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "accesslog": None,  # the app writes its own JSON line per call, without PHI
        "errorlog": "-",
        "proc_name": "sclc-cds",
    }
    _Gunicorn(app, options).run()
