"""The HTTP floor: the least a Flask service on gunicorn does with a hook request.

`benchmarks/http_load.py --floor` serves this app with the service's gunicorn settings
(gthread workers and threads) and sends it the same bodies as the service: it reads the
body and answers an empty card list, nothing else. Its figures beside the service's say
what the HTTP stack costs on this machine, with the load generator beside it, and what
the service adds.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request

app = Flask(__name__)


@app.post("/cds-services/<service_id>")
def call_service(service_id: str) -> dict[str, Any]:
    """Read the whole body, answer no cards."""
    del service_id
    request.get_data()
    return {"cards": []}
