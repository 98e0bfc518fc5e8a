"""A Bulk Data server's error answers, as the `$export` client (`service.screen.bulk`)
reads them: `BulkExportError`, which failures are worth asking again, and how long the
server asks to be left alone.

A 429, or a 5xx that is transient (502, 503, 504, or an OperationOutcome whose issue
code is `transient`), is asked again; any other error status ends the run with
`BulkExportError` (an `InputError`: the CLI's exit 2) and the server's diagnostics.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime

import requests

from service.errors import InputError

__all__ = ["BulkExportError", "failure", "retry_after", "transient"]

TRANSIENT_STATUSES = frozenset({502, 503, 504})


class BulkExportError(InputError):
    """The export could not be run: refused, failed on the server, or not downloadable."""


def retry_after(response: requests.Response) -> float | None:
    """The seconds the answer's `Retry-After` asks for (a number or an HTTP date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _outcome(response: requests.Response) -> tuple[str, set[str]]:
    """The OperationOutcome diagnostics of an error answer, and its issue codes."""
    try:
        body = response.json()
    except ValueError:
        return "", set()
    issues = body.get("issue") if isinstance(body, dict) else None
    if not isinstance(issues, list):
        return "", set()
    texts = [
        str(i.get("diagnostics") or (i.get("details") or {}).get("text") or "")
        for i in issues
        if isinstance(i, dict)
    ]
    codes = {str(i.get("code")) for i in issues if isinstance(i, dict)}
    return "; ".join(t for t in texts if t)[:300], codes


def transient(response: requests.Response) -> bool:
    """Whether the answer is a failure that asking again may cure."""
    if response.status_code == 429 or response.status_code in TRANSIENT_STATUSES:
        return True
    return response.status_code >= 500 and "transient" in _outcome(response)[1]


def failure(what: str, response: requests.Response) -> BulkExportError:
    """The error that ends the run: what failed, the status and the server's diagnostics."""
    diagnostics, _ = _outcome(response)
    reason = f": {diagnostics}" if diagnostics else ""
    return BulkExportError(f"{what} failed with HTTP {response.status_code}{reason}")
