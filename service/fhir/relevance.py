"""Which resources the engine can read, decided on their JSON before any validation.

The reader's fast path (`service.fhir.planner`) models with fhir.resources only the
resources that can change an evaluation; these predicates say which, from the raw JSON,
and each answers "matters" whenever the JSON is not plainly shaped (a malformed record is
then validated, and warned about, as on the full path). What never matters:

- a Condition that is not a cancer by any reading of the engine (`is_cancer`,
  `is_sclc_condition`): the engine reads Conditions for SCLC, other cancers and the
  reasons of drug records, nothing else;
- a drug record the engine drops (entered in error, not taken, planned …) or whose drug
  is named and is not an anticancer agent (not in the catalogue, or supportive only, and
  no name that looks antineoplastic, and nothing that looks like chemotherapy: §1 v3), by
  its concept or by the Medication it names;
- a Procedure the record does not keep (`service.fhir.procedure`: neither systemic
  anticancer therapy nor radiotherapy, or entered in error or not done);
- an Observation of a measure that is not the latest the engine can use (see
  `service.fhir.planner`): only the latest value of each measure counts (§10); every
  disease status and TNM stage is read.

Records with partial dates are always read: they carry a warning on every path.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from service.engine import observations as measures
from service.engine import rules
from service.engine.catalogue import load_catalogue
from service.engine.diagnosis import is_cancer, is_sclc_condition
from service.engine.exposures import excluded
from service.engine.observations import Measure
from service.engine.record import Code, ConditionFact, MedicationKind
from service.fhir.dates import bounds_periods
from service.fhir.lenient import plain_condition_probe, plain_day, status_of, string_of
from service.fhir.medication import Drug, Resolver, drug_of
from service.fhir.procedure import EXCLUDED_STATUSES, plain_procedure, procedure_kind

__all__ = [
    "MEASURES",
    "NO_DATE",
    "UNCLEAR",
    "condition_matters",
    "effective_day",
    "drug_record_matters",
    "observation_measures",
    "procedure_matters",
]

# Every measure the engine reads from Observations (taken from the engine's own module,
# so a measure added there is read here too).
MEASURES: tuple[Measure, ...] = tuple(
    value for value in vars(measures).values() if isinstance(value, Measure)
)
_MEASURES_OF_CODE: dict[str, tuple[Measure, ...]] = {}
for _measure in MEASURES:
    for _code in _measure.loincs:
        if _measure not in _MEASURES_OF_CODE.get(_code, ()):
            _MEASURES_OF_CODE[_code] = (*_MEASURES_OF_CODE.get(_code, ()), _measure)

_EFFECTIVE = ("effectiveDateTime", "effectiveInstant", "effectivePeriod")
# Observations every one of which is read, whatever its date: disease status (§6.1) and
# TNM stage (§2 v3).
_READ_EVERY = frozenset({rules.DISEASE_STATUS_LOINC, *rules.STAGE_OBSERVATION_CODES})


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_DATE = _Marker("NO_DATE")  # the resource names no date the reader reads
UNCLEAR = _Marker("UNCLEAR")  # a date that is partial or not plainly written: validate


def _dates_plain(resource: Mapping[str, Any], names: Iterable[str]) -> bool:
    """True when each of these date fields is absent or a plain full date."""
    for name in names:
        if name in resource and plain_day(resource[name]) is None:
            return False
    return True


def effective_day(resource: Mapping[str, Any]) -> date | _Marker:
    """An Observation's effective day as the reader takes it (effectiveDateTime, else
    effectiveInstant, else effectivePeriod.start), NO_DATE, or UNCLEAR."""
    present = [n for n in _EFFECTIVE if n in resource]
    if not present:
        return NO_DATE
    if len(present) > 1:
        return UNCLEAR
    value = resource[present[0]]
    if present[0] == "effectivePeriod":
        if not isinstance(value, dict):
            return UNCLEAR
        if "start" not in value:
            return NO_DATE
        value = value["start"]
    day = plain_day(value)
    return UNCLEAR if day is None else day


@lru_cache(maxsize=4096)
def _is_cancer_reading(probe: ConditionFact) -> bool:
    return is_cancer(probe) or is_sclc_condition(probe)


def condition_matters(resource: Mapping[str, Any]) -> bool:
    """False only for a plainly written Condition that no reading makes a cancer."""
    onset = resource.get("onsetPeriod")
    if onset is not None and not (isinstance(onset, dict) and _dates_plain(onset, ("start",))):
        return True
    if not _dates_plain(resource, ("onsetDateTime", "recordedDate")):
        return True
    probe = plain_condition_probe(resource)
    return probe is None or _is_cancer_reading(probe)


@lru_cache(maxsize=4096)
def _drug_matters(codes: tuple[Code, ...], texts: tuple[str, ...]) -> bool:
    catalogue = load_catalogue()
    agents = catalogue.match(codes, texts)
    if agents:
        return any(not a.supportive for a in agents)
    named = bool(texts) or any(c.display for c in codes)
    if not named or catalogue.looks_like_chemotherapy(codes, texts) is not None:
        return True  # an unidentified drug: possibly received (§1)
    words = [*texts, *(c.display for c in codes if c.display)]
    return catalogue.looks_antineoplastic(words) is not None


def _plain_period(period: Mapping[str, Any]) -> bool:
    """A Period the builder reads without a word: no start, or plain dates in order."""
    start, end = period.get("start"), period.get("end")
    if start is None:
        return True
    first = plain_day(start)
    if first is None:
        return False
    if end is None:
        return True
    last = plain_day(end)
    return last is not None and last >= first


def _plain_exposure(kind: MedicationKind, resource: Mapping[str, Any]) -> bool:
    """Whether the builder (`service.fhir.facts`) reads this record's dates without a
    warning (no partial date, no period ending before it starts); False for anything not
    plainly shaped."""
    if kind == "MedicationRequest":
        dispense = resource.get("dispenseRequest")
        if dispense is not None and not isinstance(dispense, dict):
            return False
        validity = (dispense or {}).get("validityPeriod")
        if validity is not None and not isinstance(validity, dict):
            return False
        if validity and validity.get("start") is not None:
            return _plain_period(validity)
        bounds = bounds_periods(resource)
        if bounds is None:
            return False
        if bounds:  # each in order, so their earliest start is before their latest end
            return all(_plain_period(period) for period in bounds)
        authored = resource.get("authoredOn")
        return authored is None or plain_day(authored) is not None
    if resource.get("effectiveDateTime") is not None:
        return plain_day(resource["effectiveDateTime"]) is not None
    period = resource.get("effectivePeriod")
    return _plain_period(period) if isinstance(period, dict) else True


# Charts name the same few drugs again and again: each concept is read once (per process,
# up to this many concepts).
_DRUGS: dict[Hashable, Drug] = {}
_DRUGS_KEPT = 4096


def _drug(resource: Mapping[str, Any], resolve: Resolver) -> Drug:
    """`drug_of(resource, resolve)`, read once per distinct concept (a record naming its
    drug by a concept never asks `resolve`)."""
    concept = resource.get("medicationCodeableConcept")
    key: Hashable | None = None
    if isinstance(concept, dict) and concept:
        coding = concept.get("coding")
        if coding is None or isinstance(coding, list):
            key = (
                tuple(
                    (c.get("system"), c.get("code"), c.get("display")) if isinstance(c, dict) else c
                    for c in coding or ()
                ),
                concept.get("text"),
            )
    try:
        found = _DRUGS.get(key) if key is not None else None
    except TypeError:  # a value that is not a string: no key, read it
        key = found = None
    if found is None:
        found = drug_of(resource, resolve)
        if key is not None:
            if len(_DRUGS) >= _DRUGS_KEPT:
                _DRUGS.clear()
            _DRUGS[key] = found
    return found


def drug_record_matters(
    kind: MedicationKind, resource: Mapping[str, Any], *, readings: Iterable[Resolver]
) -> bool:
    """Whether the engine does anything with this drug record, read as valid, on any of
    `readings`: each finds the Medication the record names (if it names one elsewhere)
    as the builder may find it (§1, §3).

    Mirrors the builder and `collect_exposures`: a record whose dates would be warned
    about (a partial date, a period ending before it starts) is read; dropped records
    (`excluded`) and named drugs that are not anticancer agents are passed over without a
    word; everything else is read. It reads the fields, not a `MedicationFact`: the
    reader asks this of every drug record of a chart, thousands in a large one, before
    building any fact.
    """
    if not _plain_exposure(kind, resource):
        return True
    if excluded(
        kind,
        status_of(resource),
        intent=string_of(resource.get("intent")),
        do_not_perform=resource.get("doNotPerform") is True,
    ):
        return False
    for resolve in readings:
        drug = _drug(resource, resolve)
        # An ingredient this reading could not find may be found by the builder's (§1 v3).
        if drug.unresolved or _drug_matters(drug.codes, drug.texts):
            return True
    return False


def observation_measures(resource: Mapping[str, Any]) -> tuple[Measure, ...] | None:
    """The measures an Observation may hold (its code or a component's, any system);
    None for an mCODE disease-status (§6.1) or TNM stage (§2 v3) Observation, every one
    of which is read."""
    concept = resource.get("code")
    if "component" not in resource and concept.__class__ is dict:
        coding = concept.get("coding")
        if coding.__class__ is list and len(coding) == 1 and coding[0].__class__ is dict:
            code = coding[0].get("code")  # one coding, no components: most results
            if code.__class__ is str:
                return None if code in _READ_EVERY else _MEASURES_OF_CODE.get(code, ())
    return _measures_of_every_code(resource)


def _measures_of_every_code(resource: Mapping[str, Any]) -> tuple[Measure, ...] | None:
    """`observation_measures` read the long way: every coding of the code and of each
    component."""
    found: list[Measure] = []
    concepts = [resource.get("code")]
    components = resource.get("component")
    if isinstance(components, list):
        concepts.extend(c.get("code") for c in components if isinstance(c, dict))
    for number, concept in enumerate(concepts):
        coding = concept.get("coding") if isinstance(concept, dict) else None
        for item in coding if isinstance(coding, list) else ():
            code = item.get("code") if isinstance(item, dict) else None
            if not isinstance(code, str):
                continue
            if number == 0 and code in _READ_EVERY:
                return None
            found.extend(m for m in _MEASURES_OF_CODE.get(code, ()) if m not in found)
    return tuple(found)


def procedure_matters(resource: Mapping[str, Any]) -> bool:
    """False only for a plainly written Procedure the record does not keep (§1 v3)."""
    status = resource.get("status")
    if status is not None and not isinstance(status, str):
        return True
    if isinstance(status, str) and status.lower() in EXCLUDED_STATUSES:
        return False
    read = plain_procedure(resource)
    return read is None or procedure_kind(*read) is not None
