"""Decisions on raw NDJSON lines, before any FHIR validation: cheap, and never too strict.

The screen reads millions of lines and evaluates a few thousand patients. These
functions decide which lines matter without building FHIR models: a byte pattern
first (no JSON parsing for a line that cannot matter), then `json.loads` of the lines
that pass. Each test is looser than the engine's, never stricter, so that the engine
(`service.pipeline.assess`) still makes every clinical decision on the lines kept:

- `sclc_subject`: the patient of a Condition the engine's own `is_sclc_condition` calls
  SCLC, read from JSON leniently (a patient whose Condition later fails validation is
  evaluated and then found not to have SCLC);
- `owner`: the patient a resource belongs to (its `subject` or `patient`, as
  `service.fhir` reads it), or the Patient itself;
- `medication_references`: every `Medication/<id>` a resource names, so that the
  Medications of a patient's `medicationReference`s travel with the patient.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from service.engine import rules
from service.engine.diagnosis import is_sclc_condition
from service.fhir.lenient import canonical_ref, condition_probe, subject_reference

__all__ = [
    "candidate_ids",
    "load",
    "medication_references",
    "owner",
    "patient_refs",
    "resource_ids",
    "sclc_subject",
]

# Lower-case byte strings one of which every line `is_sclc_condition` accepts contains:
# its words (`small`/`oat`-cell, `sclc`), its SNOMED codes, the ICD-O-3 morphologies
# 8041/3-8045/3, and a backslash (a JSON escape could hide any of them).
_SCLC_HINTS = (
    b"small",
    b"oat",
    b"sclc",
    b"\\",
    *(code.encode() for code in rules.SCLC_SNOMED_CODES),
    *(code.split("/")[0].encode() for code in rules.SCLC_ICDO3_MORPHOLOGY),
)
# A patient reference, relative or absolute (`Patient/123`, `https://x/fhir/Patient/123`).
_PATIENT_ID = re.compile(rb"Patient/([A-Za-z0-9\-.]{1,64})")
# Any `"id": "..."` of a line: a Patient's own id is one of them.
_ANY_ID = re.compile(rb'"id"\s*:\s*"([A-Za-z0-9\-.]{1,64})"')


def load(line: bytes) -> dict[str, Any] | None:
    """The line as a JSON resource, or None when it is not one (not an object, or its
    resourceType no string: a list there would break every lookup by type)."""
    try:
        value = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("resourceType"), str):
        return None
    return value


def owner(resource: Mapping[str, Any]) -> str | None:
    """The id of the patient the resource belongs to (a Patient: its own id), else None.

    As `service.fhir` reads it: `subject`, else `patient`, as a literal reference
    (relative or absolute) to a Patient. A reference that names no Patient, or a
    `urn:uuid:` that only a Bundle could resolve, belongs to no patient of an export.
    """
    if resource.get("resourceType") == "Patient":
        ident = resource.get("id")
        return ident if isinstance(ident, str) and ident else None
    reference = subject_reference(resource)
    ref = canonical_ref(reference) if reference is not None else None
    return ref[len("Patient/") :] if ref and ref.startswith("Patient/") else None


def sclc_subject(line: bytes) -> str | None:
    """The patient id of a Condition line that may be SCLC, else None."""
    lowered = line.lower()
    if not any(hint in lowered for hint in _SCLC_HINTS):
        return None
    resource = load(line)
    if resource is None or resource.get("resourceType") != "Condition":
        return None
    # numbers=True: a number where FHIR wants a code is read as its text (never stricter)
    if not is_sclc_condition(condition_probe(resource, numbers=True)):
        return None
    return owner(resource)


def patient_refs(line: bytes) -> list[bytes]:
    """The id of every Patient the line references."""
    return _PATIENT_ID.findall(line)


def candidate_ids(line: bytes) -> list[bytes]:
    """Ids the line may belong to: every Patient it references and every `"id"` in it."""
    return [*_PATIENT_ID.findall(line), *_ANY_ID.findall(line)]


def resource_ids(line: bytes) -> list[bytes]:
    """Every `"id"` value of the line (the resource's own id is one of them)."""
    return _ANY_ID.findall(line)


def _references(value: Any) -> Iterator[str]:
    if isinstance(value, list):
        for item in value:
            yield from _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "reference" and isinstance(item, str):
                yield item
            else:
                yield from _references(item)


def medication_references(resource: Mapping[str, Any]) -> set[str]:
    """Every `Medication/<id>` the resource references (contained `#id`s are inside it)."""
    found = set()
    for reference in _references(resource):
        ref = canonical_ref(reference)
        if ref is not None and ref.startswith("Medication/"):
            found.add(ref)
    return found
