"""From files and JSON documents to raw FHIR resources (the only I/O of FHIR reading).

Accepted: a Bundle of any type (nested bundles too), a single resource, a JSON list of
resources, NDJSON, a folder of such files, and a CDS Hooks request (its `prefetch`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.errors import InputError

__all__ = ["RawResource", "load_path", "resources_from_json"]

FILE_SUFFIXES = (".json", ".ndjson", ".jsonl")


@dataclass(frozen=True, slots=True)
class RawResource:
    """A resource as JSON, with the `fullUrl` its bundle entry gave it (if any)."""

    resource: dict[str, Any]
    full_url: str | None = None


def _walk(doc: Any, origin: str, warnings: list[str], found: list[RawResource]) -> None:
    """Append the resources of `doc` to `found` (a list, not a generator: a prefetch of
    20,000 resources passes through here, and each `yield` would cost as much as the
    rest of the visit)."""
    if isinstance(doc, list):
        for item in doc:
            _walk(item, origin, warnings, found)
        return
    if not isinstance(doc, dict):
        warnings.append(f"{origin}: a value that is not a FHIR resource; skipped")
        return
    if "resourceType" not in doc and ("prefetch" in doc or "hook" in doc):
        for key, value in (doc.get("prefetch") or {}).items():
            if value is not None:
                _walk(value, f"{origin} prefetch '{key}'", warnings, found)
        return
    kind = doc.get("resourceType")
    if not isinstance(kind, str):
        warnings.append(f"{origin}: JSON without a resourceType; skipped")
        return
    if kind != "Bundle":
        found.append(RawResource(doc))
        return
    entries = doc.get("entry") or []
    if not isinstance(entries, list):
        warnings.append(f"{origin}: Bundle entry is not a list; skipped")
        return
    add = found.append
    for number, entry in enumerate(entries, start=1):
        resource = entry.get("resource") if entry.__class__ is dict else None
        if resource.__class__ is not dict:
            warnings.append(f"{origin}: Bundle entry {number} has no resource; skipped")
            continue
        kind = resource.get("resourceType")
        if kind.__class__ is not str:  # a list or an object would break every lookup by type
            warnings.append(f"{origin}: Bundle entry {number} has no resourceType; skipped")
        elif kind == "Bundle":
            _walk(resource, origin, warnings, found)
        else:
            add(RawResource(resource, entry.get("fullUrl")))


def resources_from_json(doc: Any, *, origin: str = "input") -> tuple[list[RawResource], list[str]]:
    """The resources of one parsed JSON document, and warnings about what was skipped."""
    warnings: list[str] = []
    found: list[RawResource] = []
    _walk(doc, origin, warnings, found)
    return found, warnings


def _read_file(path: Path, warnings: list[str]) -> list[RawResource]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error.__class__.__name__}") from None
    if path.suffix in (".ndjson", ".jsonl"):
        found: list[RawResource] = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except json.JSONDecodeError:
                warnings.append(f"{path.name} line {number}: not JSON; skipped")
                continue
            resources, more = resources_from_json(doc, origin=f"{path.name} line {number}")
            found.extend(resources)
            warnings.extend(more)
        return found
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{path} is not JSON (line {error.lineno}: {error.msg})") from None
    resources, more = resources_from_json(doc, origin=path.name)
    warnings.extend(more)
    return resources


def load_path(path: Path) -> tuple[list[RawResource], list[str]]:
    """Every resource in a file or a folder of files (merged), with reader warnings."""
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    warnings: list[str] = []
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
        if not files:
            raise InputError(f"{path} holds no .json or .ndjson files")
        resources = [r for f in files for r in _read_file(f, warnings)]
    else:
        resources = _read_file(path, warnings)
    return resources, warnings
