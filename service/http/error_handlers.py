"""One JSON error handler for the whole app: every error is an OperationOutcome.

Our exceptions (`service.errors`) carry their status and issue code; Werkzeug's HTTP
exceptions (unknown URL, wrong method, body too large, bad request) are mapped to the
same classes; anything else is a 500 whose class name alone is logged (messages and
locals can hold patient data). The EHR never receives HTML or a traceback.
"""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from service.errors import (
    InputError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SclcCdsError,
    Unauthorized,
)
from service.http.log import log_error

__all__ = ["operation_outcome", "register_error_handlers"]

# Werkzeug's statuses, as the project's classes (their issue codes).
_HTTP_CLASSES: dict[int, type[SclcCdsError]] = {
    400: InputError,
    401: Unauthorized,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
}
_HTTP_MESSAGES = {
    400: "the request is malformed",
    404: "no such endpoint; GET /cds-services lists the services, /openapi.json the API",
    405: "this endpoint does not answer this HTTP method",
    413: "the request body is larger than this service accepts",
}


def operation_outcome(status: int, code: str, diagnostics: str) -> Response:
    """A FHIR OperationOutcome with one error issue, as an `application/json` response."""
    response = jsonify(
        {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
        }
    )
    response.status_code = status
    return response


def _ours(error: SclcCdsError) -> Response:
    response = operation_outcome(error.status, error.code, str(error) or error.__class__.__name__)
    if isinstance(error, Unauthorized):
        response.headers["WWW-Authenticate"] = 'Bearer realm="cds-services"'
    return response


def _http(error: HTTPException) -> Response:
    status = error.code or 500
    kind = _HTTP_CLASSES.get(status, SclcCdsError)
    message = _HTTP_MESSAGES.get(status) or f"HTTP {status}: {error.name}"
    response = operation_outcome(status, kind.code, message)
    for name, value in error.get_headers():
        if name.lower() == "allow":  # 405 says which methods the endpoint answers
            response.headers[name] = value
    return response


def _unexpected(error: Exception) -> Response:
    log_error(error)
    return operation_outcome(
        500, SclcCdsError.code, "the service failed unexpectedly; the error is logged"
    )


def register_error_handlers(app: Flask) -> None:
    """Route every exception to one of the handlers above."""
    app.register_error_handler(SclcCdsError, _ours)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
