"""Fuzzing the HTTP API from its own /openapi.json (schemathesis, bounded in time).

Every operation the document describes is called with generated requests (valid ones
and broken ones); each answer must not be a server error, must have a status and
content type the document lists, and must match the documented schema. The app runs
in process (WSGI); nothing leaves this machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from service.http.factory import create_app

TODAY = "2026-11-21"


def _app(folder: Path):  # type: ignore[no-untyped-def]
    return create_app({"TESTING": True, "TODAY": TODAY, "FEEDBACK_DB": folder / "fuzz.sqlite3"})


schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", _app(Path(__import__("tempfile").mkdtemp(prefix="sclc-fuzz-")))
)
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_a_server_error_or_off_the_document(case: schemathesis.Case) -> None:
    """Generated requests to every documented operation: no 5xx, answers as documented."""
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    assert response.status_code < 500


def test_the_fuzz_covers_the_cds_endpoints() -> None:
    """The document the fuzzer reads holds the CDS Hooks operations."""
    paths = {operation.ok().path for operation in schema.get_all_operations()}
    assert {
        "/cds-services",
        "/cds-services/{service_id}",
        "/cds-services/{service_id}/feedback",
    } <= paths
    pytest.importorskip("schemathesis")
