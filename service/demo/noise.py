"""The resources of ordinary patients, and the noise around scenario copies, for the
synthetic population (`service.demo.population`).

An ordinary patient has chronic conditions, encounters with vital signs and laboratory
results, non-cancer medications, and for some (`OTHER_CANCER_SHARE`) another cancer
with its own chemotherapy (non-small-cell lung cancer on carboplatin and pemetrexed
among them): the SCLC filter's traps. A scenario copy's noise is only what the engine
does not read (`OTHER_MEASURES`, never `ENGINE_MEASURES`), so that the copy evaluates
like its scenario. Every value is drawn from the `random.Random` given, in a fixed
order, so the same seed builds the same resources.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from service.demo.synth import CLINICAL, LOINC, RXNORM, SNOMED, UCUM, VERIFICATION
from service.engine.catalogue import load_catalogue

__all__ = [
    "ENGINE_MEASURES",
    "OTHER_CANCERS",
    "OTHER_MEASURES",
    "Measure",
    "OtherCancer",
    "noise",
    "ordinary_patient",
]

# Another cancer (with its own chemotherapy for half of them): the SCLC filter's traps.
OTHER_CANCER_SHARE = 0.06
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ENCOUNTER_CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
JSONValue = dict[str, Any]

# (SNOMED code, display): chronic conditions of a general adult population.
CHRONIC_CONDITIONS = (
    ("38341003", "Hypertensive disorder"),
    ("44054006", "Diabetes mellitus type 2"),
    ("55822004", "Hyperlipidemia"),
    ("13645005", "Chronic obstructive lung disease"),
    ("195967001", "Asthma"),
    ("35489007", "Depressive disorder"),
    ("69896004", "Rheumatoid arthritis"),
    ("396275006", "Osteoarthritis"),
    ("49436004", "Atrial fibrillation"),
    ("709044004", "Chronic kidney disease"),
    ("40930008", "Hypothyroidism"),
    ("235595009", "Gastroesophageal reflux disease"),
)
# (RxNorm ingredient, display): common non-cancer drugs; none is in the drug catalogue
# and none ends like an anticancer name (-mab, -tinib, -platin, ...), so the engine
# ignores them as it should.
EVERYDAY_DRUGS = (
    ("6809", "metformin"),
    ("29046", "lisinopril"),
    ("83367", "atorvastatin"),
    ("17767", "amlodipine"),
    ("7646", "omeprazole"),
    ("10582", "levothyroxine"),
    ("6918", "metoprolol"),
    ("435", "albuterol"),
    ("36437", "sertraline"),
    ("36567", "simvastatin"),
    ("5487", "hydrochlorothiazide"),
    ("25480", "gabapentin"),
    ("52175", "losartan"),
    ("161", "acetaminophen"),
    ("274783", "insulin glargine"),
    ("1191", "aspirin"),
)


@dataclass(frozen=True, slots=True)
class Measure:
    """A vital sign or laboratory test: LOINC, display, UCUM unit, mean and spread."""

    loinc: str
    display: str
    unit: str
    mean: float
    spread: float
    category: str = "laboratory"


# Read by the engine (CLINICAL_RULES §9-§10), so never added to a scenario copy.
ENGINE_MEASURES = (
    Measure("85354-9", "Blood pressure panel", "mm[Hg]", 128.0, 14.0, "vital-signs"),
    Measure("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 13.6, 1.4),
    Measure("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 250, 55),
    Measure("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 7, 1.8),
    Measure("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.95, 0.2),
)
# Not read by the engine: safe noise for everyone.
OTHER_MEASURES = (
    Measure("8867-4", "Heart rate", "/min", 74.0, 9.0, "vital-signs"),
    Measure("29463-7", "Body weight", "kg", 79.0, 15.0, "vital-signs"),
    Measure("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 27.5, 4.5, "vital-signs"),
    Measure("8310-5", "Body temperature", "Cel", 36.8, 0.3, "vital-signs"),
    Measure("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 102.0, 18.0),
    Measure("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 140.0, 2.5),
    Measure("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 4.2, 0.35),
    Measure("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 190.0, 35.0),
    Measure("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.9, 0.8),
    Measure("1742-6", "Alanine aminotransferase [Enzymatic activity/volume]", "U/L", 24, 9),
)


@dataclass(frozen=True, slots=True)
class OtherCancer:
    """A cancer that is not SCLC, as coded, with the agents of its usual chemotherapy."""

    system: str
    code: str
    display: str
    agents: tuple[str, ...]


OTHER_CANCERS = (
    OtherCancer(SNOMED, "254637007", "Non-small cell lung cancer", ("carboplatin", "pemetrexed")),
    OtherCancer(ICD10, "C34.90", "Non-small cell carcinoma of lung", ("cisplatin", "gemcitabine")),
    OtherCancer(SNOMED, "254837009", "Malignant neoplasm of breast", ("doxorubicin", "paclitaxel")),
    OtherCancer(SNOMED, "363406005", "Malignant tumor of colon", ("oxaliplatin", "capecitabine")),
    OtherCancer(SNOMED, "399068003", "Malignant tumor of prostate", ("docetaxel",)),
    OtherCancer(SNOMED, "372244006", "Malignant melanoma", ()),
)


# -- building a patient --------------------------------------------------------------


def _concept(system: str, code: str, display: str) -> JSONValue:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


@dataclass(slots=True)
class _Patient:
    """Builds one patient's resources (type, dict) with numbered ids."""

    pid: str
    rng: random.Random
    today: date
    prefix: str = ""  # of the ids of its resources (default: the patient id)
    resources: list[tuple[str, JSONValue]] = field(default_factory=list)
    counter: int = 0

    @property
    def ref(self) -> str:
        return f"Patient/{self.pid}"

    def add(self, kind: str, body: JSONValue) -> str:
        self.counter += 1
        ident = f"{self.prefix or self.pid}-{kind[0].lower()}{self.counter}"
        self.resources.append((kind, {"resourceType": kind, "id": ident, **body}))
        return f"{kind}/{ident}"

    def day(self, *, within: int = 3000, after: date | None = None) -> date:
        start = after or self.today - timedelta(days=within)
        span = max(1, (self.today - start).days)
        return start + timedelta(days=self.rng.randrange(span))

    def patient(self) -> None:
        born = self.today - timedelta(days=self.rng.randrange(18 * 365, 92 * 365))
        self.resources.append(
            (
                "Patient",
                {
                    "resourceType": "Patient",
                    "id": self.pid,
                    "identifier": [{"system": "urn:example:mrn", "value": self.pid.upper()}],
                    "name": [{"family": "Synthetic", "given": [f"Person {self.pid[1:]}"]}],
                    "gender": self.rng.choice(("female", "male")),
                    "birthDate": born.isoformat(),
                },
            )
        )

    def condition(self, system: str, code: str, display: str, onset: date) -> str:
        return self.add(
            "Condition",
            {
                "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
                "verificationStatus": {"coding": [{"system": VERIFICATION, "code": "confirmed"}]},
                "code": _concept(system, code, display),
                "subject": {"reference": self.ref},
                "onsetDateTime": onset.isoformat(),
            },
        )

    def chronic(self, count: int) -> None:
        for code, display in self.rng.sample(CHRONIC_CONDITIONS, count):
            self.condition(SNOMED, code, display, self.day())

    def encounters(self, count: int) -> list[tuple[str, date]]:
        found = []
        for _ in range(count):
            day = self.day()
            ref = self.add(
                "Encounter",
                {
                    "status": "finished",
                    "class": {"system": ENCOUNTER_CLASS, "code": "AMB", "display": "ambulatory"},
                    "type": [_concept(SNOMED, "185349003", "Encounter for check up")],
                    "subject": {"reference": self.ref},
                    "period": {"start": f"{day.isoformat()}T09:00:00Z"},
                },
            )
            found.append((ref, day))
        return found

    def observation(self, measure: Measure, encounter: str, day: date) -> None:
        value = round(self.rng.gauss(measure.mean, measure.spread), 1)
        body: JSONValue = {
            "status": "final",
            "category": [{"coding": [{"system": CATEGORY, "code": measure.category}]}],
            "code": _concept(LOINC, measure.loinc, measure.display),
            "subject": {"reference": self.ref},
            "encounter": {"reference": encounter},
            "effectiveDateTime": day.isoformat(),
        }
        if measure.loinc == "85354-9":
            body["component"] = [
                {
                    "code": _concept(LOINC, "8480-6", "Systolic blood pressure"),
                    "valueQuantity": _quantity(value, measure.unit),
                },
                {
                    "code": _concept(LOINC, "8462-4", "Diastolic blood pressure"),
                    "valueQuantity": _quantity(round(value * 0.62, 1), measure.unit),
                },
            ]
        else:
            body["valueQuantity"] = _quantity(value, measure.unit)
        self.add("Observation", body)

    def visits(self, count: int, measures: Sequence[Measure]) -> None:
        for encounter, day in self.encounters(count):
            for measure in self.rng.sample(measures, self.rng.randrange(3, 10)):
                self.observation(measure, encounter, day)

    def prescription(
        self, concept: JSONValue, day: date, *, reason: str | None = None, status: str = "active"
    ) -> None:
        body: JSONValue = {
            "status": status,
            "intent": "order",
            "medicationCodeableConcept": concept,
            "subject": {"reference": self.ref},
            "authoredOn": day.isoformat(),
        }
        if reason:
            body["reasonReference"] = [{"reference": reason}]
        self.add("MedicationRequest", body)

    def everyday_drugs(self, count: int) -> None:
        for _ in range(count):
            code, name = self.rng.choice(EVERYDAY_DRUGS)
            self.prescription(_concept(RXNORM, code, name), self.day())

    def other_cancer(self) -> None:
        cancer = self.rng.choice(OTHER_CANCERS)
        onset = self.day(within=2500)
        reason = self.condition(cancer.system, cancer.code, cancer.display, onset)
        if not cancer.agents or self.rng.random() < 0.5:
            return
        start = onset + timedelta(days=self.rng.randrange(7, 40))
        for cycle in range(self.rng.randrange(2, 7)):
            day = start + timedelta(days=21 * cycle)
            if day >= self.today:
                break
            for agent in cancer.agents:
                self.prescription(_agent_concept(agent), day, reason=reason, status="completed")


def _quantity(value: float, unit: str) -> JSONValue:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


@cache
def _agent_concept(agent: str) -> JSONValue:
    codes = load_catalogue().rxnorm(agent)
    return _concept(RXNORM, codes[0], agent) if codes else {"text": agent}


def ordinary_patient(pid: str, *, rng: random.Random, today: date) -> list[tuple[str, JSONValue]]:
    """An ordinary patient's resources (type, resource), the Patient first."""
    person = _Patient(pid, rng, today)
    person.patient()
    person.chronic(rng.randrange(0, 6))
    if rng.random() < OTHER_CANCER_SHARE:
        person.other_cancer()
    person.visits(rng.randrange(5, 22), (*ENGINE_MEASURES, *OTHER_MEASURES))
    person.everyday_drugs(rng.randrange(2, 22))
    return person.resources


def noise(pid: str, *, rng: random.Random, today: date) -> list[tuple[str, JSONValue]]:
    """Resources the engine does not read, for the scenario copy that is patient `pid`."""
    # Noise ids (`<pid>-n-…`) never meet the scenario's (`<pid>-<fixture id>`).
    person = _Patient(pid, rng, today, prefix=f"{pid}-n")
    person.chronic(rng.randrange(0, 4))
    person.visits(rng.randrange(4, 16), OTHER_MEASURES)
    person.everyday_drugs(rng.randrange(2, 16))
    return person.resources
