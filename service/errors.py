"""The project's exceptions, one HTTP status per class.

    SclcCdsError                 500  anything of ours that went wrong
    ├── InputError               400  unusable input: not JSON, not FHIR, no Patient
    │   └── UnsupportedInput     400  a FHIR release or shape the engine does not read
    ├── Unauthorized             401  missing or invalid JWT where one is required
    ├── NotFound                 404  unknown service or resource
    ├── MethodNotAllowed         405  an HTTP method the endpoint does not answer
    ├── PayloadTooLarge          413  request body over the limit
    ├── PrefetchUnavailable      412  data missing and no usable FHIR server
    └── StoreUnavailable         503  the database is unreachable: try again later
        └── TokenStoreUnavailable  503  the JWT replay check could not reach it

The CLI turns `InputError` into exit code 2 with a one-line message; the HTTP layer
turns each class into its status with an OperationOutcome body (`code` is its
`issue.code`). The HTTP layer sends the message to the caller as `diagnostics`, so
messages raised there name fields and keys, never values from the record.
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "PrefetchUnavailable",
    "SclcCdsError",
    "StoreUnavailable",
    "TokenStoreUnavailable",
    "Unauthorized",
    "UnsupportedInput",
]


class SclcCdsError(Exception):
    """Base class; `status` is the HTTP status the error maps to."""

    status = 500
    code = "exception"  # OperationOutcome.issue.code


class InputError(SclcCdsError):
    status = 400
    code = "invalid"


class UnsupportedInput(InputError):
    code = "not-supported"


class Unauthorized(SclcCdsError):
    status = 401
    code = "login"


class NotFound(SclcCdsError):
    status = 404
    code = "not-found"


class MethodNotAllowed(SclcCdsError):
    status = 405
    code = "not-supported"


class PayloadTooLarge(SclcCdsError):
    status = 413
    code = "too-costly"


class PrefetchUnavailable(SclcCdsError):
    status = 412
    code = "incomplete"


class StoreUnavailable(SclcCdsError):
    """The feedback database does not answer (down, restarting, locked too long);
    nothing was acknowledged, so the client may send the same request again."""

    status = 503
    code = "transient"


class TokenStoreUnavailable(StoreUnavailable):
    """`remember_token` could not reach the database: the JWT can be neither accepted
    nor refused as a replay."""
