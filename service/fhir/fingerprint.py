"""What a read read, value for value, for the assessment cache to compare.

A cached assessment is reused only for a call whose reading would read exactly what the
cached call's did (`service.pipeline.AssessmentCache`): the kept resources in input
order, each as its ref, type, fullUrl, JSON and what its references resolve to; and per
measure the Observations read, latest first, with whether that was all of them. The JSON
itself is compared, never a hash. `reads_as` answers from a plan, validating nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.fhir.lenient import json_list, reference_of
from service.fhir.medication import ingredient_targets, medication_targets
from service.fhir.planner import Cuts, ListKey, Plan
from service.fhir.validation import Entry, Index

__all__ = ["Fingerprint", "fingerprint", "reads_as"]

# A kept resource as a cached reading compares it: ref, kind, fullUrl, JSON, and what
# its references resolve to.
View = tuple[str, str, str | None, dict[str, Any], tuple[str | None, ...]]
# The reading a cache compares: the kept resources in order, and per measure the
# Observations read (latest first) with whether that was all of them.
Fingerprint = tuple[tuple[View, ...], dict[ListKey, tuple[bool, tuple[View, ...]]]]


def _references(resource: dict[str, Any]) -> list[str]:
    """Every reference string the builder resolves for this resource."""
    named = (resource.get(n) for n in ("subject", "patient", "medicationReference"))
    found = [r for r in map(reference_of, named) if r is not None]
    found.extend(medication_targets(resource))
    found.extend(ingredient_targets(resource))  # a Medication's ingredients (§1 v3)
    named_in_lists = [
        *json_list(resource.get("reasonReference")),
        *json_list(resource.get("focus")),  # an Observation's (§6.1, §2 v3)
    ]
    stages = resource.get("stage")  # a Condition's; one object in STU3
    for stage in [stages] if isinstance(stages, dict) else json_list(stages):
        if isinstance(stage, dict):
            named_in_lists.extend(json_list(stage.get("assessment")))
    found.extend(r for r in map(reference_of, named_in_lists) if r is not None)
    return found


class _Views:
    """The views of a read's entries by position."""

    def __init__(self, entries: Sequence[Entry], index: Index) -> None:
        self.entries = entries
        self.index = index

    def __call__(self, position: int) -> View:
        entry = self.entries[position]
        resource = entry.raw.resource
        resolved = tuple(self.index.resolve(r) for r in _references(resource))
        return (entry.ref, entry.kind, entry.raw.full_url, resource, resolved)


def fingerprint(entries: Sequence[Entry], index: Index, *, plan: Plan, cuts: Cuts) -> Fingerprint:
    """What the reading of `plan` cut at `cuts` read."""
    view = _Views(entries, index)
    lists = {
        key: (everything, tuple(view(p) for p in plan.lists[key][:count]))
        for key, (count, everything) in cuts.items()
    }
    return tuple(view(p) for p in plan.kept(cuts)), lists


def reads_as(
    entries: Sequence[Entry], index: Index, *, plan: Plan, fingerprint: Fingerprint
) -> bool:
    """True when the reading of `plan` would read exactly what `fingerprint` records, value
    for value (so its record is that reading's): checked without validating anything."""
    kept, lists = fingerprint
    if lists.keys() != plan.lists.keys():
        return False
    view = _Views(entries, index)
    cuts: dict[ListKey, tuple[int, bool]] = {}
    for key, (everything, read) in lists.items():
        positions = plan.lists[key]
        if len(positions) < len(read) or (everything and len(positions) != len(read)):
            return False
        if tuple(view(p) for p in positions[: len(read)]) != read:
            return False
        cuts[key] = (len(read), everything)
    return tuple(view(p) for p in plan.kept(cuts)) == kept
