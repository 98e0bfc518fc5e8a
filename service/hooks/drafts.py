"""Drafted medication orders of order-select / order-sign, read into `DraftMedication`s.

R4/STU3 `MedicationRequest`, DSTU2 `MedicationOrder` (the CDS Hooks sandbox's default
server; hooks library "A Note Concerning FHIR Versions") and R5's `medication`
CodeableReference; the drug is read by `service.fhir.medication.drug_of`, the same
resolver the patient's own records go through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from service.engine.catalogue import load_catalogue
from service.engine.record import Code
from service.fhir import canonical_ref
from service.fhir.medication import drug_of

__all__ = ["MEDICATION_ORDERS", "DraftMedication", "drafted_agents", "read_drafts"]

MEDICATION_ORDERS = frozenset({"MedicationRequest", "MedicationOrder"})


@dataclass(frozen=True, slots=True)
class DraftMedication:
    """A drafted medication order: its `Type/id`, the drug's codings and texts."""

    ref: str
    codes: tuple[Code, ...]
    texts: tuple[str, ...]
    selected: bool = False


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def read_drafts(
    bundle: Mapping[str, Any], *, selections: Sequence[str] = ()
) -> tuple[DraftMedication, ...]:
    """The medication orders of a draftOrders Bundle; `selected` marks `selections`."""
    resources: list[tuple[str | None, Mapping[str, Any]]] = [
        (entry.get("fullUrl") if isinstance(entry.get("fullUrl"), str) else None, resource)
        for entry in bundle.get("entry") or []
        if isinstance(entry, dict) and isinstance(resource := entry.get("resource"), dict)
    ]
    in_bundle: dict[str, Mapping[str, Any]] = {}
    for full_url, resource in resources:
        if resource.get("resourceType") == "Medication":
            if _text(resource.get("id")):
                in_bundle[f"Medication/{resource['id']}"] = resource
            if full_url:
                in_bundle[full_url] = resource
    chosen = set(selections)
    drafts = []
    for number, (full_url, resource) in enumerate(resources, start=1):
        kind = resource.get("resourceType")
        if kind not in MEDICATION_ORDERS:
            continue
        ident = _text(resource.get("id"))
        ref = f"{kind}/{ident}" if ident else (full_url or f"{kind}/#{number}")
        drug = drug_of(
            resource,
            lambda target: in_bundle.get(target) or in_bundle.get(canonical_ref(target) or ""),
        )
        selected = ref in chosen or (full_url is not None and full_url in chosen)
        drafts.append(
            DraftMedication(ref=ref, codes=drug.codes, texts=drug.texts, selected=selected)
        )
    return tuple(drafts)


def drafted_agents(drafts: Sequence[DraftMedication]) -> tuple[str, ...]:
    """The catalogue agents the drafted orders name, sorted, each once."""
    catalogue = load_catalogue()
    return tuple(
        sorted({agent.name for d in drafts for agent in catalogue.match(d.codes, d.texts)})
    )
