"""The service's log: one JSON line per hook or feedback call, on stderr, without PHI.

A line says which service was called, the client's `hookInstance`, how many cards
were returned, the HTTP status and the time taken; never a name, an identifier from
the record, a token or a JWT. Unexpected errors are logged by class name only.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request

__all__ = ["LOGGER_NAME", "configure_logging", "log_call", "log_error", "safe_hook_instance"]

LOGGER_NAME = "sclc_cds"
log = logging.getLogger(LOGGER_NAME)
# hookInstance is the client's UUID; anything else it might hold is not logged.
_HOOK_INSTANCE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


class _StderrHandler(logging.Handler):
    """Writes to the current `sys.stderr` (which test runners swap), one line a record."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # logging must never break a response (logging.Handler idiom)
            self.handleError(record)


def configure_logging() -> None:
    """Send the `sclc_cds` logger's lines to stderr as they are (idempotent); no
    Authlib debug lines, which hold tokens."""
    if not any(isinstance(handler, _StderrHandler) for handler in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    # Authlib logs every token the demo EHR issues, whole ("Issue token {...}"), at
    # DEBUG: its records stop at INFO, whatever level the root logger is given.
    logging.getLogger("authlib").setLevel(logging.INFO)


def _line(level: int, fields: dict[str, Any]) -> None:
    stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    # json's own separators (", ", ": "): its shared encoder, none built per line
    log.log(level, json.dumps({"time": stamp, **fields}))


def safe_hook_instance(value: Any) -> str | None:
    """`value` when it looks like a hookInstance (a UUID or similar token), else None."""
    return value if isinstance(value, str) and _HOOK_INSTANCE.match(value) else None


def log_call(
    *,
    event: str,
    service: str,
    status: int,
    duration_ms: float,
    hook_instance: str | None = None,
    cards: int | None = None,
    items: int | None = None,
    fhir_requests: int | None = None,
) -> None:
    """The canonical line of one call; fields that do not apply are left out."""
    fields: dict[str, Any] = {"event": event, "service": service}
    if hook_instance is not None:
        fields["hookInstance"] = safe_hook_instance(hook_instance) or "(not a token)"
    optional = {"cards": cards, "items": items, "fhir_requests": fhir_requests}
    fields.update({name: value for name, value in optional.items() if value is not None})
    fields.update(status=status, duration_ms=round(duration_ms, 1))
    _line(logging.INFO, fields)


def log_error(error: BaseException) -> None:
    """An unexpected error: its class and the endpoint, nothing from its message."""
    endpoint = request.endpoint if has_request_context() else None
    _line(logging.ERROR, {"event": "error", "error": type(error).__name__, "endpoint": endpoint})
