"""Which drug a medication resource names, read from its JSON (records and draft orders).

One resolver for every medication resource the service reads: MedicationStatement,
MedicationRequest and MedicationAdministration of a patient's record, and the drafted
orders of `order-select` / `order-sign` (R4, and R5's `medication` CodeableReference).
It works on JSON so that a record which fails validation can still be read for its drug
(CLINICAL_RULES §1: read as far as is safe).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from service.engine.record import Code
from service.fhir.lenient import codes_of, json_list, reference_of, text_of

__all__ = ["Drug", "Resolver", "drug_of", "medication_targets"]

Resolver = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Drug:
    """The codings and texts that name a drug; `missing_reference` when a
    `medicationReference` resolved to nothing."""

    codes: tuple[Code, ...] = ()
    texts: tuple[str, ...] = ()
    missing_reference: str | None = None


def drug_of(resource: Mapping[str, Any], resolve: Resolver) -> Drug:
    """The drug of one medication resource: its concept, else the Medication its
    reference names (`contained` for `#id`, else `resolve(reference)`)."""
    medication = resource.get("medication")  # R5: CodeableReference
    concept = resource.get("medicationCodeableConcept")
    reference = resource.get("medicationReference")
    if isinstance(medication, Mapping):
        concept = concept or medication.get("concept")
        reference = reference or medication.get("reference")
    if isinstance(concept, Mapping):
        return Drug(*codes_of(concept))
    if not isinstance(reference, Mapping):
        return Drug()
    target = text_of(reference.get("reference")) or ""
    found: Any = None
    if target.startswith("#"):
        found = next(
            (
                c
                for c in json_list(resource.get("contained"))
                if isinstance(c, Mapping) and c.get("id") == target[1:]
            ),
            None,
        )
    elif target:
        found = resolve(target)
    display = text_of(reference.get("display"))
    texts: tuple[str, ...] = (display,) if display else ()
    if not isinstance(found, Mapping):
        return Drug((), texts, missing_reference=None if display or not target else target)
    codes, own = codes_of(found.get("code"))
    return Drug(codes, own + texts)


def medication_targets(resource: Mapping[str, Any]) -> list[str]:
    """The Medications a drug record may name by a reference outside itself (not a
    contained `#id`), whichever of R4's and R5's fields names them."""
    medication = resource.get("medication")  # R5: CodeableReference
    found = []
    for reference in (
        resource.get("medicationReference"),
        medication.get("reference") if isinstance(medication, Mapping) else None,
    ):
        target = (reference_of(reference) or "").strip()
        if target and not target.startswith("#"):
            found.append(target)
    return found
