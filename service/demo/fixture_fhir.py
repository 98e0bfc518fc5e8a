"""`/fhir`: a read-only FHIR R4 endpoint over the scenario fixtures.

Lets the public CDS Hooks sandbox (run locally with `?fhirServiceUrl=…/fhir`) and the
demo page fill prefetch from the fixtures: `metadata`, read, search by `_id`,
`patient`/`subject` and `code` with `_count`/`_offset` paging, `POST …/_search` with a
form body (as the sandbox sends it), and a plain `GET /fhir/Patient` listing. Answers
are `application/fhir+json`; errors are OperationOutcomes; CORS comes from the app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, json, request
from werkzeug.datastructures import MultiDict

from service.demo.fixture_store import SEARCHABLE, FixtureStore
from service.errors import InputError, NotFound

__all__ = ["STORE_KEY", "blueprint", "fixture_store"]

STORE_KEY = "sclc_fixture_store"
FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT = 50
MAX_COUNT = 500
# Search parameters answered; any other is ignored, as FHIR lets a server do (and says so
# in the CapabilityStatement).
SEARCH_PARAMS = ("_id", "patient", "subject", "code")
# `_include=<Type>:medication` (the service's own prefetch templates ask for it) adds the
# Medications that `medicationReference` names; other _include values are ignored.
MEDICATION_INCLUDE = ":medication"

blueprint = Blueprint("fhir", __name__, url_prefix="/fhir")


def fixture_store() -> FixtureStore:
    store: FixtureStore = current_app.extensions[STORE_KEY]
    return store


def _fhir(body: Mapping[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)


def _base() -> str:
    return request.url_root.rstrip("/") + "/fhir"


@blueprint.get("/metadata")
def metadata() -> Response:
    """The CapabilityStatement: R4, JSON, read and search-type on the fixture types."""
    resource = [
        {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [
                {"name": name, "type": "token" if name in ("_id", "code") else "reference"}
                for name in SEARCH_PARAMS
                if kind != "Patient" or name == "_id"
            ],
        }
        for kind in SEARCHABLE
    ]
    return _fhir(
        {
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-11-21",
            "kind": "instance",
            "fhirVersion": "4.0.1",
            "format": ["json"],
            "software": {"name": "sclc-relapse-cds fixture endpoint"},
            "implementation": {"description": "Read-only synthetic fixtures", "url": _base()},
            "rest": [{"mode": "server", "resource": resource}],
        }
    )


def _known(kind: str) -> None:
    if kind not in SEARCHABLE:
        raise NotFound(f"this endpoint serves {', '.join(SEARCHABLE)}; not {kind}")


def _int(params: Mapping[str, Sequence[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    try:
        number = int(values[0])
    except ValueError:
        raise InputError(f"{name} must be a whole number") from None
    if number < 0:
        raise InputError(f"{name} must not be negative")
    return number


def _search(kind: str, params: Mapping[str, Sequence[str]]) -> Response:
    _known(kind)
    count = min(_int(params, "_count", DEFAULT_COUNT), MAX_COUNT)
    offset = _int(params, "_offset", 0)
    criteria = {k: v for k, v in params.items() if k in SEARCH_PARAMS}
    page = fixture_store().search(kind, criteria, offset=offset, count=count)
    query = [(k, v) for k, values in criteria.items() for v in values]

    def page_url(start: int) -> str:
        return f"{_base()}/{kind}?{urlencode([*query, ('_count', count), ('_offset', start)])}"

    link = [{"relation": "self", "url": page_url(offset)}]
    if page.has_next and count > 0:
        link.append({"relation": "next", "url": page_url(offset + count)})
    entries = [
        {"fullUrl": f"{_base()}/{kind}/{r['id']}", "resource": r, "search": {"mode": "match"}}
        for r in page.matches
    ]
    if any(v.endswith(MEDICATION_INCLUDE) for v in params.get("_include", [])):
        entries.extend(
            {
                "fullUrl": f"{_base()}/Medication/{m['id']}",
                "resource": m,
                "search": {"mode": "include"},
            }
            for m in _medications_of(page.matches)
        )
    return _fhir(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": page.total,
            "link": link,
            "entry": entries,
        }
    )


def _medications_of(resources: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stored Medications the resources' `medicationReference`s name, each once."""
    found: dict[str, dict[str, Any]] = {}
    for resource in resources:
        reference = (resource.get("medicationReference") or {}).get("reference", "")
        kind, _, ident = str(reference).partition("/")
        medication = fixture_store().read("Medication", ident) if kind == "Medication" else None
        if medication is not None:
            found.setdefault(ident, medication)
    return list(found.values())


def _params(*sources: MultiDict[str, str]) -> dict[str, list[str]]:
    """Query string and form parameters together, every value of a repeated name kept."""
    merged: dict[str, list[str]] = {}
    for source in sources:
        for key in source:
            merged.setdefault(key, []).extend(source.getlist(key))
    return merged


@blueprint.get("/<kind>")
def search_get(kind: str) -> Response:
    return _search(kind, _params(request.args))


@blueprint.post("/<kind>/_search")
def search_post(kind: str) -> Response:
    """FHIR search by POST: parameters in a form body (and/or the query string)."""
    return _search(kind, _params(request.args, request.form))


@blueprint.get("/<kind>/<ident>")
def read(kind: str, ident: str) -> Response:
    _known(kind)
    resource = fixture_store().read(kind, ident)
    if resource is None:
        raise NotFound(f"no {kind} with that id")
    return _fhir(resource)
