"""A `requests` transport into this very app: the service reads its own fixture `/fhir`
without a network request.

When a hook call names the service's own `/fhir` as its `fhirServer` (the demo and the
CDS Hooks sandbox against `make run`), the FHIR client's session mounts this adapter, so
the request runs through the Flask app in process: no socket is opened, so nothing a
caller puts in `fhirServer` or in the Host header can make the service call another
address.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3
from flask import Flask
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

__all__ = ["InProcessAdapter", "in_process_session"]


class InProcessAdapter(BaseAdapter):
    """Answers every request with `app`'s own response (through its WSGI interface)."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self._app = app

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        del stream, timeout, verify, cert, proxies
        parts = urlsplit(request.url or "")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        body = request.body.encode() if isinstance(request.body, str) else request.body
        answer = self._app.test_client().open(
            parts.path,
            # The URL as the caller named it, so the answer's own links (next pages, the
            # SMART endpoints) point where the caller reads: not at `localhost`.
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method or "GET",
            data=body,
            headers=headers,
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response.headers = CaseInsensitiveDict(dict(answer.headers))
        # A urllib3 response, as a real transport gives: the FHIR client streams it.
        response.raw = urllib3.HTTPResponse(
            body=io.BytesIO(answer.get_data()),
            headers=dict(answer.headers),
            status=answer.status_code,
            preload_content=False,
        )
        response.url = request.url or ""
        response.request = request
        response.encoding = answer.mimetype_params.get("charset", "utf-8")
        response.reason = answer.status.partition(" ")[2]
        return response

    def close(self) -> None:
        """Nothing to release."""


class _Nowhere(BaseAdapter):
    """Refuses every request: the in-process session reaches no other address."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        del request, args, kwargs
        raise requests.ConnectionError("only the service's own /fhir is read in process")

    def close(self) -> None:
        """Nothing to release."""


def in_process_session(app: Flask, base_url: str) -> requests.Session:
    """A session whose requests under `base_url` go to `app` itself, and nowhere else."""
    session = requests.Session()
    session.mount("http://", _Nowhere())
    session.mount("https://", _Nowhere())
    session.mount(base_url.rstrip("/") + "/", InProcessAdapter(app))
    return session
