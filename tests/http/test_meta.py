"""`/healthz` and `/openapi.json`, which must describe every endpoint the app has."""

from __future__ import annotations

from typing import Any

from flask import Flask

from service.hooks import SERVICES
from service.http.openapi import openapi_path
from tests.http.conftest import AppFactory
from tests.http.support import CheckedClient

IGNORED_METHODS = {"HEAD", "OPTIONS"}


def test_healthz_says_ok(client: CheckedClient) -> None:
    """200 {"status": "ok"} as JSON."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json == {"status": "ok"}


def test_openapi_describes_every_route_of_the_app(app: Flask, client: CheckedClient) -> None:
    """Each URL rule and method of the app is a path and operation of the document."""
    paths = client.get("/openapi.json").json["paths"]
    routes = {
        (openapi_path(rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        for method in (rule.methods or set()) - IGNORED_METHODS
    }
    described = {(path, method) for path, operations in paths.items() for method in operations}
    assert routes == described


def test_openapi_names_the_cds_endpoints_and_their_errors(client: CheckedClient) -> None:
    """OpenAPI 3.1; the service ids of the registry; 412 and OperationOutcome errors."""
    document = client.get("/openapi.json").json
    assert document["openapi"] == "3.1.0"
    call = document["paths"]["/cds-services/{service_id}"]["post"]
    (parameter,) = call["parameters"]
    assert parameter["schema"]["enum"] == [s.id for s in SERVICES]
    assert {"200", "400", "401", "404", "405", "412", "413", "500"} <= set(call["responses"])
    assert call["responses"]["412"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OperationOutcome"
    }


def test_every_reference_of_the_document_resolves(client: CheckedClient) -> None:
    """No `$ref` points at a schema the document lacks."""
    document = client.get("/openapi.json").json

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if "$ref" in node else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    schemas = document["components"]["schemas"]
    for ref in refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def test_a_route_added_later_is_described_from_its_view(make_app: AppFactory) -> None:
    """A new endpoint appears in the document without editing it, summarised by its docstring."""
    app = make_app()

    def report(ident: str) -> dict[str, str]:
        """One report, by id."""
        return {"id": ident}

    app.add_url_rule("/reports/<ident>", view_func=report)
    operation = app.test_client().get("/openapi.json").json["paths"]["/reports/{ident}"]["get"]
    assert operation["summary"] == "One report, by id."
    assert operation["parameters"][0]["name"] == "ident"
