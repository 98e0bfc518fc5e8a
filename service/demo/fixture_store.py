"""An in-memory, read-only FHIR R4 store over the scenario fixtures.

Backs the `/fhir` endpoint (so the public CDS Hooks sandbox and the demo page can
fetch prefetch data) and the demo's patient list. Each fixture is a Bundle of one
patient whose resources reuse short ids (`c1`, `ms1` …); the store prefixes every
non-Patient id with the patient id and rewrites references (relative, absolute and
`urn:uuid:` alike) so that ids are unique across fixtures.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.fhir import canonical_ref

__all__ = ["FixtureStore", "SearchPage"]

SEARCHABLE = (
    "Patient",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Observation",
    "Procedure",
)
PATIENT_PARAMS = ("patient", "subject")


@dataclass(frozen=True, slots=True)
class SearchPage:
    matches: tuple[dict[str, Any], ...]
    total: int
    offset: int
    count: int

    @property
    def has_next(self) -> bool:
        return self.offset + self.count < self.total


def _rewrite(value: Any, mapping: Mapping[str, str]) -> Any:
    """A copy with every `reference` the mapping knows replaced."""
    if isinstance(value, dict):
        out = {k: _rewrite(v, mapping) for k, v in value.items()}
        ref = value.get("reference")
        if isinstance(ref, str) and not ref.startswith("#"):
            target = mapping.get(ref) or mapping.get(canonical_ref(ref) or "")
            if target:
                out["reference"] = target
        return out
    if isinstance(value, list):
        return [_rewrite(v, mapping) for v in value]
    return value


def _tokens(concept: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(concept, dict):
        for coding in concept.get("coding") or []:
            code = coding.get("code")
            if code:
                found.add(str(code))
                found.add(f"{coding.get('system', '')}|{code}")
    return found


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    if resource.get("resourceType") == "Patient":
        return f"Patient/{resource.get('id')}"
    for name in PATIENT_PARAMS:
        ref = (resource.get(name) or {}).get("reference")
        if isinstance(ref, str):
            return canonical_ref(ref) or ref
    return None


class FixtureStore:
    """Fixture bundles by scenario name, and their resources by type and id."""

    def __init__(self, bundles: Mapping[str, Mapping[str, Any]]) -> None:
        self._bundles = {name: copy.deepcopy(dict(b)) for name, b in bundles.items()}
        self._by_type: dict[str, dict[str, dict[str, Any]]] = {}
        self._scenario_of_patient: dict[str, str] = {}
        for name, bundle in sorted(self._bundles.items()):
            self._add(name, bundle)

    @classmethod
    def from_dir(cls, folder: Path) -> FixtureStore:
        """Every `*.json` Bundle of a folder; an absent folder gives an empty store."""
        bundles: dict[str, Mapping[str, Any]] = {}
        if folder.is_dir():
            for path in sorted(folder.glob("*.json")):
                doc = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(doc, dict) and doc.get("resourceType") == "Bundle":
                    bundles[path.stem] = doc
        return cls(bundles)

    def _add(self, name: str, bundle: Mapping[str, Any]) -> None:
        entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
        patients = [
            e["resource"] for e in entries if e["resource"].get("resourceType") == "Patient"
        ]
        prefix = str(patients[0].get("id")) if patients else name
        mapping: dict[str, str] = {}
        renamed: list[tuple[dict[str, Any], str]] = []
        for entry in entries:
            resource = entry["resource"]
            kind, ident = resource.get("resourceType"), resource.get("id")
            if not isinstance(kind, str) or not isinstance(ident, str):
                continue
            new_id = ident if kind == "Patient" else f"{prefix}-{ident}"[:64]
            new_ref = f"{kind}/{new_id}"
            mapping[f"{kind}/{ident}"] = new_ref
            if entry.get("fullUrl"):
                mapping[entry["fullUrl"]] = new_ref
            renamed.append((resource, new_id))
        for resource, new_id in renamed:
            stored = _rewrite(resource, mapping)
            stored["id"] = new_id
            self._by_type.setdefault(stored["resourceType"], {})[new_id] = stored
            if stored["resourceType"] == "Patient":
                self._scenario_of_patient[new_id] = name

    # --- queries ----------------------------------------------------------------------

    def scenarios(self) -> list[str]:
        return sorted(self._bundles)

    def bundle(self, scenario: str) -> dict[str, Any] | None:
        """The fixture Bundle as written (for the demo page)."""
        bundle = self._bundles.get(scenario)
        return copy.deepcopy(bundle) if bundle is not None else None

    def scenario_of(self, patient_id: str) -> str | None:
        return self._scenario_of_patient.get(patient_id)

    def read(self, kind: str, ident: str) -> dict[str, Any] | None:
        return self._by_type.get(kind, {}).get(ident)

    def compartment_of(self, kind: str, ident: str) -> str | None:
        """The `Patient/<id>` a stored resource belongs to; None when there is no such
        resource or it names no patient."""
        resource = self.read(kind, ident)
        return _patient_of(resource) if resource is not None else None

    def resources_of(self, patient_id: str) -> Iterator[dict[str, Any]]:
        """Every resource of a patient (the Patient first), and the Medications they use."""
        ref = f"Patient/{patient_id}"
        for kind in SEARCHABLE:
            for resource in self._by_type.get(kind, {}).values():
                if _patient_of(resource) == ref or (
                    kind == "Medication" and resource["id"].startswith(f"{patient_id}-")
                ):
                    yield resource

    def search(
        self, kind: str, params: Mapping[str, Sequence[str]], *, offset: int = 0, count: int = 50
    ) -> SearchPage:
        """FHIR search over one type: `_id`, `patient`/`subject`, `code`; others ignored."""
        matches = list(self._by_type.get(kind, {}).values())
        for name, values in params.items():
            wanted = {v.strip() for value in values for v in value.split(",") if v.strip()}
            if not wanted:
                continue
            if name == "_id":
                matches = [r for r in matches if r["id"] in wanted]
            elif name in PATIENT_PARAMS:
                refs = {w if "/" in w else f"Patient/{w}" for w in wanted}
                matches = [r for r in matches if _patient_of(r) in refs]
            elif name == "code":
                matches = [r for r in matches if _tokens(r.get("code")) & wanted]
        matches.sort(key=lambda r: str(r["id"]))
        window = matches[offset : offset + count]
        return SearchPage(tuple(window), len(matches), offset, count)
