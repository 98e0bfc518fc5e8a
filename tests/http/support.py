"""Helpers of the HTTP tests: fixture patients as CDS Hooks requests, response checks."""

from __future__ import annotations

import copy
import json
import re
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any, cast
from urllib.parse import parse_qsl

from flask import Flask
from flask.testing import FlaskClient

from service.hooks import PREFETCH
from tests.cds_conformance import assert_conforms
from tests.conftest import FIXTURES
from tests.http.fhir_server import FhirServer, search

AppFactory = Callable[..., Flask]  # the `make_app` fixture: keyword arguments override

TODAY = "2026-11-21"  # the golden files' evaluation date
SERVICE_IDS = {
    "patient-view": "sclc-relapse-patient-view",
    "order-select": "sclc-relapse-order-select",
    "order-sign": "sclc-relapse-order-sign",
}
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCENARIO = "sensitive-late-relapse"  # SCLC at a line-2 decision point
SCENARIOS = sorted(p.stem for p in FIXTURES.glob("*.json"))
_SERVICE_PATH = re.compile(r"^/cds-services/[^/]+$")


@cache
def _fixture(name: str) -> str:
    return (FIXTURES / f"{name}.json").read_text(encoding="utf-8")


def fixture_bundle(name: str = SCENARIO) -> dict[str, Any]:
    """A fresh copy of `fhir_fixtures/<name>.json`."""
    return dict(json.loads(_fixture(name)))


def patient_of(bundle: Mapping[str, Any]) -> dict[str, Any]:
    return next(
        dict(e["resource"]) for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"
    )


def prefetch_for(
    bundle: Mapping[str, Any], templates: Mapping[str, str] = PREFETCH
) -> dict[str, Any]:
    """Each template's answer over `bundle`, as a CDS client would prefetch it."""
    entries = [
        {k: v for k, v in e.items() if k in ("fullUrl", "resource")} for e in bundle["entry"]
    ]
    patient = patient_of(bundle)
    prefetch: dict[str, Any] = {}
    for key, template in templates.items():
        query = template.replace("{{context.patientId}}", patient["id"])
        kind, _, params = query.partition("?")
        if "/" in kind:  # a read
            prefetch[key] = copy.deepcopy(patient)
            continue
        prefetch[key] = {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": copy.deepcopy(search(entries, kind, parse_qsl(params))),
        }
    return prefetch


def hook_request(
    hook: str = "patient-view",
    bundle: Mapping[str, Any] | None = None,
    *,
    prefetch: Mapping[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A CDS Hooks request for the patient of `bundle`; `fields` add or replace fields.

    `prefetch` defaults to every template answered from `bundle`.
    """
    bundle = bundle if bundle is not None else fixture_bundle()
    context: dict[str, Any] = {
        "userId": "Practitioner/example",
        "patientId": patient_of(bundle)["id"],
    }
    if hook in ("order-select", "order-sign"):
        order = medication_request("carboplatin", ident="draft-1")
        context["draftOrders"] = draft_bundle(order)
        if hook == "order-select":
            context["selections"] = ["MedicationRequest/draft-1"]
    request: dict[str, Any] = {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": dict(prefetch) if prefetch is not None else prefetch_for(bundle),
    }
    request.update(fields)
    return request


def medication_request(
    drug: str, *, ident: str, kind: str = "MedicationRequest", rxnorm: str | None = None
) -> dict[str, Any]:
    """A drafted order of `drug` (a name); `kind` MedicationOrder gives the DSTU2 form."""
    concept: dict[str, Any] = {"text": drug}
    if rxnorm is not None:
        concept["coding"] = [{"system": RXNORM, "code": rxnorm, "display": drug}]
    order: dict[str, Any] = {
        "resourceType": kind,
        "id": ident,
        "status": "draft",
        "medicationCodeableConcept": concept,
    }
    if kind == "MedicationOrder":  # DSTU2: `patient`, no `intent`
        order["patient"] = {"reference": "Patient/p"}
    else:
        order.update(intent="order", subject={"reference": "Patient/p"})
    return order


def draft_bundle(*resources: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": dict(r)} for r in resources],
    }


def without_uuids(cards: Any) -> Any:
    """`cards` with every `uuid` removed (cards of two calls compared by content)."""
    if isinstance(cards, dict):
        return {k: without_uuids(v) for k, v in cards.items() if k != "uuid"}
    if isinstance(cards, list):
        return [without_uuids(v) for v in cards]
    return cards


def free_port() -> int:
    """A loopback port nothing listens on (bound and released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def check_exchange(method: str, path: str, status: int, content_type: str, body: bytes) -> None:
    """Every response's contract: JSON errors as OperationOutcome, CDS bodies conforming;
    /fhir answers FHIR JSON, /demo serves its page; the SMART app's pages (/app, and the
    demo EHR's authorization page) are HTML whatever their status, never blank; the OAuth
    endpoints answer RFC 6749 JSON errors."""
    if method in ("OPTIONS", "HEAD"):
        assert status == 200 or status >= 400, status
        return
    if status < 400 and (path in ("/demo", "/demo/") or path.startswith("/demo/static/")):
        return  # the demo page and its assets
    if 300 <= status < 400:
        return  # a redirect (the OAuth flow): its Location is the contract
    if status < 400 and path.startswith(("/evidence", "/sources")):
        assert content_type.split(";")[0] == "text/html", (path, status, content_type)
        assert body.lstrip().lower().startswith(b"<!doctype html>"), body[:80]
        return  # the evidence and source pages the cards link to
    if path.startswith("/app/static/"):
        assert status < 400 or content_type.split(";")[0] == "application/json", path
        return
    if (
        path.startswith("/app")
        and not path.startswith("/app/api/")
        or (path == "/fhir/auth/authorize" and status < 400)
    ):
        assert content_type.split(";")[0] == "text/html", (path, status, content_type)
        assert body.lstrip().lower().startswith(b"<!doctype html>"), body[:80]
        return
    if path.startswith("/fhir/auth/") and status >= 400:
        assert content_type.split(";")[0] == "application/json", (path, status, content_type)
        assert isinstance(json.loads(body).get("error"), str), body[:200]  # RFC 6749 §5.2
        return
    json_types = (
        ("application/json", "application/fhir+json")
        if path.startswith("/fhir/")
        else ("application/json",)
    )
    assert content_type.split(";")[0] in json_types, (path, status, content_type)
    assert not body.lstrip().startswith(b"<"), body[:80]
    document = json.loads(body)
    if status >= 400:
        assert_conforms("OperationOutcome", document)
    elif path == "/cds-services":
        assert_conforms("DiscoveryResponse", document)
    elif method == "POST" and _SERVICE_PATH.match(path):
        assert_conforms("ServiceResponse", document)
    elif method == "POST" and path.endswith("/feedback"):
        assert set(document) == {"received", "stored"}


class CheckedClient(FlaskClient):
    """The Flask test client, checking every response with `check_exchange`."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        check_exchange(
            request.method,
            request.path,
            response.status_code,
            response.content_type or "",
            response.get_data(),
        )
        return response


@contextmanager
def serving(
    make_app: AppFactory,
    bundle: Mapping[str, Any] | None = None,
    *,
    config: Mapping[str, Any] | None = None,
    **behaviour: Any,
) -> Iterator[tuple[FhirServer, CheckedClient]]:
    """A `FhirServer` over `bundle` (the scenario by default; `behaviour` its options),
    and a client of an app that may query it: built once the server has its port, with
    `FHIR_SERVERS` naming it (issue 9: no other server is queried) and `config` added."""
    with FhirServer(bundle if bundle is not None else fixture_bundle(), **behaviour) as server:
        app = make_app(**{"FHIR_SERVERS": server.base_url, **(config or {})})
        yield server, cast(CheckedClient, app.test_client())
