"""Write a synthetic SCLC patient as a FHIR R4 Bundle from a short description.

For developers who need a test case in one line:

    sclc-cds fixtures new late-relapse --regimen carboplatin+etoposide@2025-01-06x4 \\
        --progression 2025-10-15 --ecog 1

A regimen is `AGENT[+AGENT…]@YYYY-MM-DD[xCYCLES][qDAYS]` (default one cycle, every 21
days); each agent of each cycle becomes one completed single-day MedicationStatement,
coded with the catalogue's RxNorm ingredient where it has one, by name otherwise.
Progression dates become mCODE disease-status Observations ("worsened"); relapse dates
become SCLC Conditions with clinicalStatus `recurrence`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from service.engine import rules
from service.engine.catalogue import load_catalogue

__all__ = ["LABS", "PatientSpec", "Regimen", "bundle_for", "parse_labs", "parse_regimen"]

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_REGIMEN = re.compile(
    r"^(?P<agents>[a-z][a-z\-]*(?:\+[a-z][a-z\-]*)*)@(?P<start>\d{4}-\d{2}-\d{2})"
    r"(?:x(?P<cycles>\d{1,3}))?(?:q(?P<every>\d{1,3}))?$"
)
# name -> (LOINC, display, UCUM unit)
LABS: Mapping[str, tuple[str, str, str]] = {
    "anc": ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*9/L"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*9/L"),
    "hemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/L"),
    "egfr": ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted", "mL/min/{1.73_m2}"),
    "inr": ("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}"),
}
_STAGE_TEXT = {"extensive": "Extensive stage (VALSG)", "limited": "Limited stage (VALSG)"}


@dataclass(frozen=True, slots=True)
class Regimen:
    agents: tuple[str, ...]
    start: date
    cycles: int = 1
    every: int = 21

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i * self.every) for i in range(self.cycles)]


DEFAULT_BORN = date(1962, 5, 14)


@dataclass(frozen=True, slots=True)
class PatientSpec:
    id: str
    regimens: tuple[Regimen, ...] = ()
    progressions: tuple[date, ...] = ()
    relapses: tuple[date, ...] = ()
    stage: str = "extensive"
    born: date = DEFAULT_BORN
    diagnosed: date | None = None
    deceased: date | None = None
    ecog: int | None = None
    labs: Mapping[str, float] = field(default_factory=dict)


def parse_regimen(text: str) -> Regimen:
    """`carboplatin+etoposide@2025-01-06x4q21` -> Regimen; ValueError with the reason."""
    hit = _REGIMEN.match(text.strip().lower())
    if not hit:
        raise ValueError(f"not a regimen (AGENT[+AGENT]@YYYY-MM-DD[xN][qD]): {text!r}")
    catalogue = load_catalogue()
    agents = tuple(hit.group("agents").split("+"))
    unknown = [a for a in agents if a not in catalogue]
    if unknown:
        raise ValueError(f"not in the drug catalogue: {', '.join(unknown)}")
    return Regimen(
        agents=agents,
        start=date.fromisoformat(hit.group("start")),
        cycles=int(hit.group("cycles") or 1),
        every=int(hit.group("every") or 21),
    )


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _drug(agent: str) -> dict[str, Any]:
    codes = load_catalogue().rxnorm(agent)
    if codes:
        return _concept(RXNORM, codes[0], agent)
    return {"text": agent}


def _observation(ident: str, patient: str, loinc: str, display: str, day: date) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": ident,
        "status": "final",
        "code": _concept(LOINC, loinc, display),
        "subject": {"reference": patient},
        "effectiveDateTime": day.isoformat(),
    }


def _condition(
    ident: str, patient: str, spec: PatientSpec, onset: date, status: str
) -> dict[str, Any]:
    condition: dict[str, Any] = {
        "resourceType": "Condition",
        "id": ident,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": status}]},
        "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
        "code": _concept(SNOMED, rules.SCLC_SNOMED, "Small cell carcinoma of lung"),
        "subject": {"reference": patient},
        "onsetDateTime": onset.isoformat(),
    }
    if spec.stage in _STAGE_TEXT:
        condition["stage"] = [{"summary": {"text": _STAGE_TEXT[spec.stage]}}]
    return condition


def _key(spec: PatientSpec, resource: Mapping[str, Any]) -> str:
    return f"sclc-relapse-cds:{spec.id}/{resource['resourceType']}/{resource['id']}"


def bundle_for(spec: PatientSpec) -> dict[str, Any]:
    """The FHIR R4 collection Bundle of a synthetic patient."""
    patient_ref = f"Patient/{spec.id}"
    first_dose = min((r.start for r in spec.regimens), default=None)
    diagnosed = spec.diagnosed or (first_dose - timedelta(days=7) if first_dose else spec.born)
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": spec.id,
        "name": [{"family": "Synthetic", "given": [spec.id.replace("-", " ").title()]}],
        "gender": "unknown",
        "birthDate": spec.born.isoformat(),
    }
    if spec.deceased:
        patient["deceasedDateTime"] = spec.deceased.isoformat()
    resources: list[dict[str, Any]] = [
        patient,
        _condition("c1", patient_ref, spec, diagnosed, "active"),
    ]
    resources.extend(
        _condition(f"c{i}", patient_ref, spec, day, "recurrence")
        for i, day in enumerate(spec.relapses, start=2)
    )
    count = 0
    for regimen in spec.regimens:
        for day in regimen.days():
            for agent in regimen.agents:
                count += 1
                resources.append(
                    {
                        "resourceType": "MedicationStatement",
                        "id": f"ms{count}",
                        "status": "completed",
                        "medicationCodeableConcept": _drug(agent),
                        "subject": {"reference": patient_ref},
                        "effectiveDateTime": day.isoformat(),
                    }
                )
    for i, day in enumerate(spec.progressions, start=1):
        status = _observation(
            f"ds{i}", patient_ref, rules.DISEASE_STATUS_LOINC, "Cancer disease status", day
        )
        status["valueCodeableConcept"] = _concept(
            SNOMED, rules.WORSENED_SNOMED, "Patient's condition worsened"
        )
        resources.append(status)
    last = max(
        [*spec.progressions, *(d for r in spec.regimens for d in r.days())], default=diagnosed
    )
    if spec.ecog is not None:
        ecog = _observation("ecog", patient_ref, rules.ECOG_LOINC, "ECOG performance status", last)
        ecog["valueInteger"] = spec.ecog
        resources.append(ecog)
    for name, value in sorted(spec.labs.items()):
        loinc, display, unit = LABS[name]
        lab = _observation(f"lab-{name}", patient_ref, loinc, display, last)
        lab["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        resources.append(lab)
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, _key(spec, r))}", "resource": r}
            for r in resources
        ],
    }


def parse_labs(items: Sequence[str]) -> dict[str, float]:
    """`["anc=2.1", "inr=1.1"]` -> {"anc": 2.1, "inr": 1.1}; ValueError with the reason."""
    labs: dict[str, float] = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in LABS:
            raise ValueError(f"unknown lab {name!r} (known: {', '.join(LABS)})")
        try:
            labs[name] = float(value)
        except ValueError:
            raise ValueError(f"lab {name} needs a number: {item!r}") from None
    return labs
