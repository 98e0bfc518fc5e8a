"""Which drug a medication resource names, read from its JSON (records and draft orders).

One resolver for every medication resource the service reads: MedicationStatement,
MedicationRequest and MedicationAdministration of a patient's record, and the drafted
orders of `order-select` / `order-sign` (R4, and R5's `medication` CodeableReference).
It works on JSON so that a record which fails validation can still be read for its drug
(CLINICAL_RULES §1: read as far as is safe).

A Medication names its drug by its `code` and (v3) by its `ingredient[]`: each an
`itemCodeableConcept`, or an `itemReference` to another Medication (contained, or found by
the same resolver), whose code is read in turn; one level deep, the Medication itself never
read twice. So an order set whose own code says only "Chemotherapy" but whose ingredients
are carboplatin and etoposide names both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from service.engine.record import Code
from service.fhir.lenient import codes_of, json_list, reference_of, text_of

__all__ = ["Drug", "Resolver", "drug_of", "ingredient_targets", "medication_targets"]

Resolver = Callable[[str], Mapping[str, Any] | None]


@dataclass(frozen=True, slots=True)
class Drug:
    """The codings and texts that name a drug; `missing_reference` when a
    `medicationReference` (or, for a Medication naming nothing else, an ingredient's
    reference) resolved to nothing; `unresolved` the ingredient references that did."""

    codes: tuple[Code, ...] = ()
    texts: tuple[str, ...] = ()
    missing_reference: str | None = None
    unresolved: tuple[str, ...] = ()


def _found(container: Mapping[str, Any], target: str, resolve: Resolver) -> Any:
    """What a reference names: a `#id` among the `contained` of `container`, anything
    else as `resolve` finds it; None for no reference."""
    if not target.startswith("#"):
        return resolve(target) if target else None
    return next(
        (
            c
            for c in json_list(container.get("contained"))
            if isinstance(c, Mapping) and c.get("id") == target[1:]
        ),
        None,
    )


def _items(medication: Mapping[str, Any]) -> Iterator[tuple[Any, Any]]:
    """(concept, reference) of each ingredient: R4 `itemCodeableConcept` /
    `itemReference`, R5 `item` (a CodeableReference)."""
    for ingredient in json_list(medication.get("ingredient")):
        if not isinstance(ingredient, Mapping):
            continue
        item = ingredient.get("item")
        if isinstance(item, Mapping):
            yield item.get("concept"), item.get("reference")
        else:
            yield ingredient.get("itemCodeableConcept"), ingredient.get("itemReference")


def _ingredients(
    medication: Mapping[str, Any], container: Mapping[str, Any], resolve: Resolver
) -> Drug:
    """What the ingredients of `medication` name; a `#id` is looked up in `container`
    (the drug record for a contained Medication, else the Medication itself)."""
    codes: list[Code] = []
    texts: list[str] = []
    unresolved: list[str] = []
    for concept, reference in _items(medication):
        found_codes, found_texts = codes_of(concept)
        codes.extend(found_codes)
        texts.extend(found_texts)
        if not isinstance(reference, Mapping):
            continue
        display = text_of(reference.get("display"))
        texts.extend([display] if display else [])
        target = text_of(reference.get("reference")) or ""
        found = _found(container, target, resolve)
        if isinstance(found, Mapping) and found is not medication:  # never itself again
            found_codes, found_texts = codes_of(found.get("code"))
            codes.extend(found_codes)
            texts.extend(found_texts)
        elif target and not isinstance(found, Mapping):
            unresolved.append(target)
    return Drug(tuple(codes), tuple(texts), unresolved=tuple(unresolved))


def drug_of(resource: Mapping[str, Any], resolve: Resolver) -> Drug:
    """The drug of one medication resource: its concept, else the Medication its
    reference names (`contained` for `#id`, else `resolve(reference)`) with its
    ingredients."""
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
    found = _found(resource, target, resolve)
    display = text_of(reference.get("display"))
    texts: tuple[str, ...] = (display,) if display else ()
    if not isinstance(found, Mapping):
        return Drug((), texts, missing_reference=None if display or not target else target)
    codes, own = codes_of(found.get("code"))
    parts = _ingredients(found, resource if target.startswith("#") else found, resolve)
    drug = Drug(codes + parts.codes, own + parts.texts + texts, unresolved=parts.unresolved)
    if drug.unresolved and not drug.texts and not any(c.display for c in drug.codes):
        # It names nothing but an ingredient that is not there: say which.
        return Drug(drug.codes, (), drug.unresolved[0], drug.unresolved)
    return drug


def _outside(reference: Any) -> str | None:
    target = (reference_of(reference) or "").strip()
    return target if target and not target.startswith("#") else None


def ingredient_targets(medication: Mapping[str, Any]) -> list[str]:
    """The Medications a Medication's ingredients name by a reference outside it."""
    return [t for _, reference in _items(medication) if (t := _outside(reference))]


def medication_targets(resource: Mapping[str, Any]) -> list[str]:
    """The Medications a drug record may name by a reference outside itself (not a
    contained `#id`), whichever of R4's and R5's fields names them, and those the
    ingredients of its contained Medications name."""
    medication = resource.get("medication")  # R5: CodeableReference
    found = []
    for reference in (
        resource.get("medicationReference"),
        medication.get("reference") if isinstance(medication, Mapping) else None,
    ):
        target = _outside(reference)
        if target:
            found.append(target)
    for contained in json_list(resource.get("contained")):
        if isinstance(contained, Mapping):
            found.extend(ingredient_targets(contained))
    return found
