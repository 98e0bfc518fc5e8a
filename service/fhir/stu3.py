"""Upgrade the few FHIR STU3 fields the engine reads to their R4 form.

Synthea's older exports are STU3: Condition statuses are plain strings, `assertedDate`
became `recordedDate`, a single `stage`, `context` became `encounter`, and
MedicationRequest `requester.agent` became `requester`, a Procedure's `notDone` became
its status `not-done` (and Synthea writes its `reasonReference` as one object, not a
list). Everything else the engine reads has the same shape in both releases.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["looks_stu3", "upgrade_stu3"]

CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"


def looks_stu3(resource: dict[str, Any]) -> bool:
    """True when the resource has a field whose STU3 form differs from R4's."""
    kind = resource.get("resourceType")
    if kind == "Condition":
        return (
            isinstance(resource.get("clinicalStatus"), str)
            or isinstance(resource.get("verificationStatus"), str)
            or "assertedDate" in resource
            or isinstance(resource.get("stage"), dict)
            or "context" in resource
        )
    if kind in ("MedicationRequest", "Observation"):
        requester = resource.get("requester")
        return "context" in resource or (isinstance(requester, dict) and "agent" in requester)
    if kind == "MedicationStatement":
        return "taken" in resource or "reasonNotTaken" in resource
    if kind == "Procedure":
        return (
            "context" in resource
            or "notDone" in resource
            or "notDoneReason" in resource
            or isinstance(resource.get("reasonReference"), dict)
            or isinstance(resource.get("reasonCode"), dict)
        )
    return False


def _concept(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def upgrade_stu3(resource: dict[str, Any]) -> dict[str, Any]:
    """A copy of an STU3 resource with its engine-relevant fields in R4 form."""
    upgraded = copy.deepcopy(resource)
    kind = upgraded.get("resourceType")
    if "context" in upgraded and kind != "MedicationStatement":
        upgraded["encounter"] = upgraded.pop("context")
    if kind == "Condition":
        status = upgraded.get("clinicalStatus")
        if isinstance(status, str):
            upgraded["clinicalStatus"] = _concept(CLINICAL, status)
        verification = upgraded.get("verificationStatus")
        if isinstance(verification, str):
            code = verification
            upgraded["verificationStatus"] = _concept(VERIFICATION, code)
        if "assertedDate" in upgraded:
            upgraded["recordedDate"] = upgraded.pop("assertedDate")
        if isinstance(upgraded.get("stage"), dict):
            upgraded["stage"] = [upgraded["stage"]]
    if kind == "MedicationRequest":
        requester = upgraded.get("requester")
        if isinstance(requester, dict) and "agent" in requester:
            upgraded["requester"] = requester["agent"]
    if kind == "Procedure":
        for name in ("reasonReference", "reasonCode"):  # Synthea writes one object
            if isinstance(upgraded.get(name), dict):
                upgraded[name] = [upgraded[name]]
        if upgraded.pop("notDone", None) is True:
            upgraded["status"] = "not-done"
        if "notDoneReason" in upgraded:
            upgraded["statusReason"] = upgraded.pop("notDoneReason")
    if kind == "MedicationStatement":
        taken = upgraded.pop("taken", None)
        if taken == "n":
            upgraded["status"] = "not-taken"
        if "reasonNotTaken" in upgraded:
            upgraded["statusReason"] = upgraded.pop("reasonNotTaken")
    return upgraded
