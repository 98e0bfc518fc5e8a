"""Helpers of the reading tests: bundles of resources, read as a hook reads them."""

from __future__ import annotations

from datetime import date
from typing import Any

from service.engine.record import Record
from service.fhir import build_record, resources_from_json


def transaction(*entries: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A transaction Bundle of (fullUrl, resource) entries."""
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"fullUrl": url, "resource": r} for url, r in entries],
    }


def read_bundle(doc: dict[str, Any], *, today: date, full: bool = False) -> Record:
    """`Patient/p1`'s record of a bundle, on the fast path (or the full one)."""
    raw, warnings = resources_from_json(doc)
    return build_record(raw, patient_id="p1", warnings=warnings, today=today, full_validation=full)


def read_resources(*resources: dict[str, Any], today: date, full: bool = False) -> Record:
    """`Patient/p1`'s record of these resources, in a collection Bundle."""
    doc = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in resources],
    }
    return read_bundle(doc, today=today, full=full)
