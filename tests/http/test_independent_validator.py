"""A second opinion: the kit's independent validator on every kind of response we give.

`../shared/cds-hooks/validate_cds_json.py` checks JSON against a schema derived from
the 2.0.1 text by someone else. Two of the spec's own examples fail it (see the kit's
README); our responses must not. The requests the tests send are checked too, so the
suite exercises the service with spec-valid input.
"""

from __future__ import annotations

import importlib.util
import json
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import SHARED
from tests.http.support import (
    SCENARIOS,
    SERVICE_IDS,
    CheckedClient,
    draft_bundle,
    fixture_bundle,
    hook_request,
    medication_request,
)

VALIDATOR = SHARED / "cds-hooks" / "validate_cds_json.py"


def load_validator() -> ModuleType:
    if not VALIDATOR.is_file():
        pytest.skip(f"{VALIDATOR} is absent: the CDS Hooks kit lives in ../shared/cds-hooks")
    spec = importlib.util.spec_from_file_location("validate_cds_json", VALIDATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _requests() -> list[tuple[str, dict[str, Any]]]:
    """(service id, request) for every fixture and hook, DSTU2 drafts included."""
    calls = []
    for scenario in SCENARIOS:
        bundle = fixture_bundle(scenario)
        calls.append((SERVICE_IDS["patient-view"], hook_request(bundle=bundle)))
    for kind in ("MedicationRequest", "MedicationOrder"):
        for drug in ("carboplatin", "topotecan", "lurbinectedin", "tarlatamab", "anlotinib"):
            order = medication_request(drug, ident="d1", kind=kind)
            for hook in ("order-select", "order-sign"):
                request = hook_request(hook)
                request["context"]["draftOrders"] = draft_bundle(order)
                if hook == "order-select":
                    request["context"]["selections"] = [f"{kind}/d1"]
                calls.append((SERVICE_IDS[hook], request))
    return calls


def test_every_response_passes_the_independent_validator(client: CheckedClient) -> None:
    """Discovery, all services on every fixture, and the requests sent: no schema error."""
    validator = load_validator()
    checked: list[tuple[str, str, Any]] = []
    discovery = client.get("/cds-services")
    checked.append(("DiscoveryResponse", "GET /cds-services", discovery.json))
    for service_id, request in _requests():
        checked.append(("ServiceRequest", f"request to {service_id}", request))
        response = client.post(f"/cds-services/{service_id}", json=request)
        assert response.status_code == 200
        checked.append(("ServiceResponse", f"POST {service_id}", response.json))
        for card in response.json["cards"]:
            if "uuid" in card:
                feedback = {
                    "feedback": [
                        {
                            "card": card["uuid"],
                            "outcome": "overridden",
                            "outcomeTimestamp": "2026-11-21T10:00:00Z",
                        }
                    ]
                }
                checked.append(("FeedbackRequest", f"feedback to {service_id}", feedback))
                assert (
                    client.post(f"/cds-services/{service_id}/feedback", json=feedback).status_code
                    == 200
                )
    failures = [
        f"{where}: {'/'.join(map(str, e.path)) or '<root>'} - {e.message}"
        for kind, where, document in checked
        for e in validator.errors(kind, json.loads(json.dumps(document)))
    ]
    assert not failures, "\n".join(failures[:20])
    assert len(checked) > 100
