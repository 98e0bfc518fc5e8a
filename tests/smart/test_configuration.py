"""What the app asks an EHR for: the configuration it accepts and the scopes it requests."""

from __future__ import annotations

from typing import Any

import pytest

from service.hooks import PREFETCH
from service.smart import READ_RESOURCES, SmartConfiguration, requested_scopes, resources_read
from service.smart.configuration import granting_scopes

ENDPOINTS = {
    "authorization_endpoint": "https://ehr.example.org/auth/authorize",
    "token_endpoint": "https://ehr.example.org/auth/token",
}


def configuration(**fields: Any) -> SmartConfiguration:
    return SmartConfiguration.from_json({**ENDPOINTS, **fields})


def test_the_resources_read_are_exactly_the_prefetch_types() -> None:
    """The eight types the hook's prefetch reads or includes, derived from PREFETCH."""
    assert READ_RESOURCES == resources_read(PREFETCH)
    assert set(READ_RESOURCES) == {
        "Patient",
        "Condition",
        "MedicationStatement",
        "MedicationRequest",
        "MedicationAdministration",
        "Medication",
        "Observation",
        "Procedure",
    }


def test_v2_scopes_when_the_server_has_permission_v2() -> None:
    """permission-v2: patient/X.rs for each type, the EHR launch's `launch` first."""
    scopes = requested_scopes(configuration(capabilities=["permission-v2"]), ehr_launch=True)
    assert scopes.split() == [
        "launch",
        "openid",
        "fhirUser",
        *(f"patient/{kind}.rs" for kind in READ_RESOURCES),
    ]


def test_v2_scopes_when_scopes_supported_lists_v2_ones() -> None:
    """No capability named, but a v2 scope among scopes_supported: v2."""
    found = configuration(scopes_supported=["launch/patient", "patient/*.rs"])
    assert found.v2_scopes
    assert "patient/Observation.rs" in requested_scopes(found, ehr_launch=False).split()


@pytest.mark.parametrize(
    "fields",
    [
        {"capabilities": ["launch-ehr", "permission-v1"]},
        {"capabilities": ["launch-ehr"], "scopes_supported": ["launch", "patient/*.read"]},
        {},
    ],
    ids=["v1-capability", "v1-scopes", "nothing-said"],
)
def test_v1_fallback_without_permission_v2(fields: dict[str, Any]) -> None:
    """Without permission-v2 or a v2 scope: patient/X.read (SMART v1)."""
    scopes = requested_scopes(configuration(**fields), ehr_launch=False).split()
    assert scopes[0] == "launch/patient"
    assert [s for s in scopes if s.startswith("patient/")] == [
        f"patient/{kind}.read" for kind in READ_RESOURCES
    ]


def test_identity_scopes_only_where_offered() -> None:
    """openid and fhirUser are asked for only when scopes_supported lists them (or lists
    nothing)."""
    listed = configuration(scopes_supported=["launch", "patient/*.rs"])
    assert "openid" not in requested_scopes(listed, ehr_launch=True).split()


@pytest.mark.parametrize(
    "document",
    [
        [],
        {"token_endpoint": ENDPOINTS["token_endpoint"]},
        {**ENDPOINTS, "authorization_endpoint": "javascript:alert(1)"},
        {**ENDPOINTS, "token_endpoint": "https://user:pw@ehr.example.org/token"},
        {**ENDPOINTS, "code_challenge_methods_supported": ["plain"]},
        {**ENDPOINTS, "capabilities": "permission-v2"},
    ],
    ids=["not-object", "no-authorize", "not-http", "userinfo", "no-s256", "bad-capabilities"],
)
def test_unusable_configurations_are_refused(document: Any) -> None:
    """No endpoints, endpoints that are not plain http(s) URLs, or no S256: ValueError."""
    with pytest.raises(ValueError):
        SmartConfiguration.from_json(document)


def test_granting_scopes_for_reads_and_searches() -> None:
    """A read is granted by .r, .rs, .read or .* (and patient/*); a search by .s too."""
    assert "patient/Observation.r" in granting_scopes("Observation", search=False)
    assert "patient/Observation.s" not in granting_scopes("Observation", search=False)
    assert "patient/Observation.s" in granting_scopes("Observation", search=True)
    assert "patient/*.read" in granting_scopes("Observation", search=True)
