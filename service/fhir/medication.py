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

__all__ = ["Drug", "codes_of", "drug_of", "json_list"]

Resolver = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Drug:
    """The codings and texts that name a drug; `missing_reference` when a
    `medicationReference` resolved to nothing."""

    codes: tuple[Code, ...] = ()
    texts: tuple[str, ...] = ()
    missing_reference: str | None = None


def json_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (malformed input) as []."""
    return value if isinstance(value, list) else []


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def codes_of(concept: Any) -> tuple[tuple[Code, ...], tuple[str, ...]]:
    """Codings (with a code) and text of a CodeableConcept in JSON form."""
    if not isinstance(concept, Mapping):
        return (), ()
    codes = tuple(
        Code(system=_text(c.get("system")) or "", code=code, display=_text(c.get("display")))
        for c in json_list(concept.get("coding"))
        if isinstance(c, Mapping) and (code := _text(c.get("code")))
    )
    text = _text(concept.get("text"))
    return codes, (text,) if text else ()


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
    target = _text(reference.get("reference")) or ""
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
    display = _text(reference.get("display"))
    texts: tuple[str, ...] = (display,) if display else ()
    if not isinstance(found, Mapping):
        return Drug((), texts, missing_reference=None if display or not target else target)
    codes, own = codes_of(found.get("code"))
    return Drug(codes, own + texts)
