"""Reading FHIR JSON before (or instead of) validation, without ever failing.

One set of readers for every place that looks at a resource's JSON without its
fhir.resources model: the reader's plan (`service.fhir.relevance`, what to validate),
the facts of a drug record that failed validation (`service.fhir.medication`) and the
population screen's triage of NDJSON lines (`service.screen.triage`). They read in one
of two manners:

- **lenient** (`json_list`, `text_of`, `codings`, `codes_of`, `condition_probe`,
  `reference_of`, `subject_reference`): whatever is not shaped as FHIR says is read as
  absent; texts are stripped, and `numbers=True` reads a number as its text (a triage
  that must never be stricter than validation);
- **plain** (`plain_codings`, `plain_condition_probe`, `plain_day`): the value as the
  fhir.resources models read it, or None when it is not plainly shaped, so that a
  planner validates what it cannot read for sure.

A JSON object is a `dict` here (what `json` and orjson make): the readers ask
`isinstance(value, dict)`, several times cheaper than asking for any Mapping.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from service.engine.record import Code, ConditionFact

__all__ = [
    "canonical_ref",
    "codes_of",
    "codings",
    "condition_probe",
    "json_list",
    "plain_codings",
    "plain_condition_probe",
    "plain_day",
    "reference_of",
    "status_of",
    "string_of",
    "subject_reference",
    "text_of",
]

_REFERENCE = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")
_FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})\Z")


def json_list(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (malformed input) as []."""
    return value if isinstance(value, list) else []


def string_of(value: Any) -> str | None:
    """A JSON string as it is written; anything else as None."""
    return value if isinstance(value, str) else None


def status_of(resource: Mapping[str, Any]) -> str | None:
    """A resource's `status` as the engine compares it (lower case), if it has one."""
    status = string_of(resource.get("status"))
    return status.lower() if status is not None else None


def text_of(value: Any, *, numbers: bool = False) -> str | None:
    """A JSON string stripped (None when blank); with `numbers`, a number as its text."""
    if numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value.strip() or None if isinstance(value, str) else None


def canonical_ref(reference: str) -> str | None:
    """`Type/id` of a relative or absolute literal reference, else None."""
    hit = _REFERENCE.search(reference)
    return f"{hit.group(1)}/{hit.group(2)}" if hit else None


def reference_of(value: Any) -> str | None:
    """The `reference` string of a Reference in JSON form, else None."""
    return string_of(value.get("reference")) if isinstance(value, dict) else None


def subject_reference(resource: Mapping[str, Any]) -> str | None:
    """The reference naming whom a resource is about: its `subject`, else its `patient`."""
    for name in ("subject", "patient"):
        reference = reference_of(resource.get(name))
        if reference is not None:
            return reference
    return None


def plain_day(value: object) -> date | None:
    """The day of a full FHIR date or dateTime written plainly (`2024-03-04`,
    `2024-03-04T10:00:00+01:00`), as the models read it; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        if _FULL_DATE.match(value):
            return date.fromisoformat(value)
        if _DATE_TIME.match(value):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        return None
    return None


class _NotPlain(Exception):
    """A value is not plainly shaped (raised and caught inside the plain readers)."""


@dataclass(frozen=True, slots=True)
class _Manner:
    """How a reader takes what is not shaped as FHIR says: `plain` raises `_NotPlain`,
    lenient reads it as absent (and, with `numbers`, a number as its text)."""

    plain: bool
    numbers: bool = False

    def text(self, value: Any) -> str | None:
        if not self.plain:
            return text_of(value, numbers=self.numbers)
        if value is None or isinstance(value, str):
            return value
        raise _NotPlain

    def items(self, value: Any) -> list[Any]:
        """A JSON array (absent: empty)."""
        if isinstance(value, list):
            return value
        if self.plain and value is not None:
            raise _NotPlain
        return []

    def mapping(self, value: Any) -> Mapping[str, Any] | None:
        """A JSON object (absent: None)."""
        if isinstance(value, dict):
            return value
        if self.plain and value is not None:
            raise _NotPlain
        return None

    def element(self, value: Any) -> Mapping[str, Any] | None:
        """An object of an array (plain: nothing else may stand there)."""
        if isinstance(value, dict):
            return value
        if self.plain:
            raise _NotPlain
        return None


_LENIENT = _Manner(plain=False)
_NUMBERS = _Manner(plain=False, numbers=True)
_PLAIN = _Manner(plain=True)


def _codings(concept: Any, manner: _Manner) -> tuple[Code, ...]:
    found = []
    read = manner.mapping(concept)
    for item in manner.items(read.get("coding")) if read is not None else ():
        coding = manner.element(item)
        if coding is None:
            continue
        system, code = manner.text(coding.get("system")), manner.text(coding.get("code"))
        display = manner.text(coding.get("display"))
        if code:
            found.append(Code(system=system or "", code=code, display=display))
    return tuple(found)


def codings(concept: Any, *, numbers: bool = False) -> tuple[Code, ...]:
    """The codings (with a code) of a CodeableConcept in JSON form, read leniently."""
    return _codings(concept, _NUMBERS if numbers else _LENIENT)


def plain_codings(concept: Any) -> tuple[Code, ...] | None:
    """The codings of a CodeableConcept as the models read them; None when malformed."""
    try:
        return _codings(concept, _PLAIN)
    except _NotPlain:
        return None


def codes_of(concept: Any) -> tuple[tuple[Code, ...], tuple[str, ...]]:
    """Codings (with a code) and text of a CodeableConcept in JSON form."""
    if not isinstance(concept, dict):
        return (), ()
    text = text_of(concept.get("text"))
    return codings(concept), (text,) if text else ()


def _all_codings(concepts: Iterable[Any], manner: _Manner) -> list[Code]:
    return [code for concept in concepts for code in _codings(concept, manner)]


def _condition_probe(resource: Mapping[str, Any], manner: _Manner) -> ConditionFact:
    concept = manner.mapping(resource.get("code"))
    extensions = [manner.element(e) for e in manner.items(resource.get("extension"))]
    notes = [manner.element(n) for n in manner.items(resource.get("note"))]
    return ConditionFact(
        ref="",
        codes=(
            *_codings(concept, manner),
            # mCODE histology morphology behaviour
            *_all_codings((e.get("valueCodeableConcept") for e in extensions if e), manner),
        ),
        text=manner.text(concept.get("text")) if concept is not None else None,
        clinical_status=None,
        verification_status=None,
        onset=None,
        recorded=None,
        body_site_codes=tuple(_all_codings(manner.items(resource.get("bodySite")), manner)),
        notes=tuple(text for n in notes if n and (text := manner.text(n.get("text")))),
    )


def condition_probe(resource: Mapping[str, Any], *, numbers: bool = False) -> ConditionFact:
    """What the engine's cancer tests (`is_cancer`, `is_sclc_condition`) read of a
    Condition: its codes (and mCODE histology), text, body sites and notes, leniently."""
    return _condition_probe(resource, _NUMBERS if numbers else _LENIENT)


def plain_condition_probe(resource: Mapping[str, Any]) -> ConditionFact | None:
    """`condition_probe` as the models read it; None when a part of it is malformed."""
    try:
        return _condition_probe(resource, _PLAIN)
    except _NotPlain:
        return None
