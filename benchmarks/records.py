"""Real-shaped patient records for the benchmarks: a fixture padded with what charts hold.

A chart is mostly not about cancer: vital signs at every visit, routine panels (CBC,
metabolic, liver, lipids, urinalysis), chronic medications renewed again and again and a
problem list of other conditions. `padded_bundle` adds such visits to a fixture (shaped
like Synthea's R4 resources, dated before the fixture's own history so that the padding
never becomes the latest value of a measure) until the record holds about `size`
resources; `prefetch_of` turns a bundle into the `patient-view` prefetch a CDS client
sends. The observations key carries every lab and vital sign, as a server that ignores
the template's `code` parameter answers.

Padding mix (of the added resources): about 76% Observations (a quarter of them codes
the engine reads: CBC, creatinine, eGFR, bilirubin, albumin, blood pressure), 16%
MedicationRequests, 4% MedicationStatements, 4% Conditions.

`padded_chart` pads a fixture otherwise: one resource a day, every few weeks over six
years up to the evaluation date, of what the engine must look at and pass over: other
conditions, chronic prescriptions (MedicationRequests naming their drug by a reference
to a Medication resource, with its name as the reference's display, as Epic's API sends
them; MedicationStatements by code), and creatinine and haemoglobin results, the latest
of which it reads.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

__all__ = [
    "FIXTURES",
    "hook_body",
    "padded_bundle",
    "padded_chart",
    "prefetch_of",
    "resource_count",
]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fhir_fixtures"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
PADDING_START = date(2012, 1, 3)
PADDING_END = date(2024, 12, 31)
# `padded_chart`'s days: six years up to three weeks before the benchmarks' evaluation
# date (2026-11-21), so that its latest results are the ones the engine reads, fresh.
CHART_START = date(2020, 11, 2)
CHART_END = date(2026, 11, 2)

# (LOINC, display, unit, low, high): values drawn uniformly in [low, high].
VITALS = (
    ("8302-2", "Body Height", "cm", 160.0, 190.0),
    ("29463-7", "Body Weight", "kg", 55.0, 110.0),
    ("39156-5", "Body Mass Index", "kg/m2", 19.0, 34.0),
    ("8867-4", "Heart rate", "/min", 55.0, 100.0),
    ("9279-1", "Respiratory rate", "/min", 12.0, 20.0),
    ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported", "{score}", 0, 6),
)
PANELS: dict[str, tuple[tuple[str, str, str, float, float], ...]] = {
    "cbc": (
        ("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 3.5, 11.0),
        ("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 3.9, 5.6),
        ("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 10.5, 16.5),
        ("4544-3", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", 34.0, 48.0),
        ("787-2", "MCV [Entitic volume] by Automated count", "fL", 80.0, 98.0),
        ("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150.0, 400.0),
        ("751-8", "Neutrophils [#/volume] in Blood by Automated count", "10*3/uL", 1.8, 7.5),
    ),
    "metabolic": (
        ("2339-0", "Glucose", "mg/dL", 70.0, 140.0),
        ("6299-2", "Urea Nitrogen", "mg/dL", 7.0, 22.0),
        ("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3),
        ("49765-1", "Calcium", "mg/dL", 8.6, 10.3),
        ("2947-0", "Sodium", "mmol/L", 135.0, 145.0),
        ("6298-4", "Potassium", "mmol/L", 3.5, 5.1),
        ("2069-3", "Chloride", "mmol/L", 96.0, 106.0),
        ("20565-8", "Carbon Dioxide", "mmol/L", 22.0, 29.0),
        ("33914-3", "Glomerular filtration rate/1.73 sq M.predicted", "mL/min/{1.73_m2}", 60, 110),
    ),
    "liver": (
        ("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 3.4, 5.0),
        ("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", 0.2, 1.2),
        ("6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum", "U/L", 40, 130),
        ("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum", "U/L", 7, 56),
        ("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum", "U/L", 8, 48),
    ),
    "lipids": (
        ("2093-3", "Total Cholesterol", "mg/dL", 150.0, 260.0),
        ("2571-8", "Triglycerides", "mg/dL", 60.0, 250.0),
        ("18262-6", "Low Density Lipoprotein Cholesterol", "mg/dL", 70.0, 180.0),
        ("2085-9", "High Density Lipoprotein Cholesterol", "mg/dL", 35.0, 80.0),
        ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 5.0, 8.5),
    ),
    "urine": (
        ("5811-5", "Specific gravity of Urine by Test strip", "{SG}", 1.005, 1.030),
        ("5803-2", "pH of Urine by Test strip", "[pH]", 5.0, 8.0),
        ("5804-0", "Protein [Mass/volume] in Urine by Test strip", "mg/dL", 0.0, 30.0),
        ("5792-7", "Glucose [Mass/volume] in Urine by Test strip", "mg/dL", 0.0, 15.0),
    ),
}
# (RxNorm, display): chronic non-cancer medications (none is in the drug catalogue).
MEDICATIONS = (
    ("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    ("314076", "lisinopril 10 MG Oral Tablet"),
    ("259255", "atorvastatin 80 MG Oral Tablet"),
    ("197361", "amlodipine 5 MG Oral Tablet"),
    ("310798", "Hydrochlorothiazide 25 MG Oral Tablet"),
    ("966222", "Levothyroxine Sodium 0.075 MG Oral Tablet"),
    ("198211", "Simvastatin 40 MG Oral Tablet"),
    ("745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler"),
    ("313782", "Acetaminophen 325 MG Oral Tablet"),
    ("406022", "Fluoxetine 25MG"),
    ("849574", "Naproxen sodium 220 MG Oral Tablet"),
    ("308136", "amLODIPine 2.5 MG Oral Tablet"),
    ("200064", "Furosemide 40 MG Oral Tablet"),
    ("198405", "Omeprazole 20 MG Delayed Release Oral Capsule"),
)
# (SNOMED, display): conditions charts are full of, none a cancer.
CONDITIONS = (
    ("38341003", "Hypertension"),
    ("44054006", "Diabetes mellitus type 2"),
    ("55822004", "Hyperlipidemia"),
    ("13645005", "Chronic obstructive lung disease"),
    ("433144002", "Chronic kidney disease stage 3"),
    ("396275006", "Osteoarthritis"),
    ("235595009", "Gastroesophageal reflux disease"),
    ("35489007", "Depressive disorder"),
    ("49436004", "Atrial fibrillation"),
    ("40930008", "Hypothyroidism"),
    ("162864005", "Body mass index 30+ - obesity (finding)"),
    ("444814009", "Viral sinusitis (disorder)"),
    ("195662009", "Acute viral pharyngitis (disorder)"),
    ("10509002", "Acute bronchitis (disorder)"),
    ("271737000", "Anemia (disorder)"),
)


def _concept(system: str, code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code, "display": display}], "text": display}


def _category(code: str) -> list[dict[str, Any]]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return [{"coding": [{"system": system, "code": code, "display": code}]}]


class _Padding:
    """Visits of a patient's chart, resource by resource, with stable ids."""

    def __init__(self, patient_id: str, seed: int) -> None:
        self.random = random.Random(seed)  # noqa: S311  # test data, not secrets
        self.subject = {"reference": f"Patient/{patient_id}"}
        self.count = 0
        self.prefix = f"pad{seed}"

    def _id(self) -> str:
        self.count += 1
        return f"{self.prefix}-{self.count}"

    def _stamp(self, day: date) -> str:
        hour, minute = self.random.randrange(7, 18), self.random.randrange(60)
        return f"{day.isoformat()}T{hour:02d}:{minute:02d}:00+00:00"

    def observation(
        self, day: date, item: tuple[str, str, str, float, float], category: str
    ) -> dict[str, Any]:
        code, display, unit, low, high = item
        value = round(self.random.uniform(low, high), 2)
        stamp = self._stamp(day)
        resource: dict[str, Any] = {
            "resourceType": "Observation",
            "id": self._id(),
            "status": "final",
            "category": _category(category),
            "code": _concept(LOINC, code, display),
            "subject": self.subject,
            "effectiveDateTime": stamp,
            "issued": stamp.replace("+00:00", ".000+00:00"),
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
        }
        if category == "laboratory":
            resource["referenceRange"] = [
                {
                    "low": {"value": low, "unit": unit, "system": UCUM, "code": unit},
                    "high": {"value": high, "unit": unit, "system": UCUM, "code": unit},
                }
            ]
        return resource

    def blood_pressure(self, day: date) -> dict[str, Any]:
        def component(code: str, display: str, value: int) -> dict[str, Any]:
            quantity = {"value": value, "unit": "mm[Hg]", "system": UCUM, "code": "mm[Hg]"}
            return {"code": _concept(LOINC, code, display), "valueQuantity": quantity}

        return {
            "resourceType": "Observation",
            "id": self._id(),
            "status": "final",
            "category": _category("vital-signs"),
            "code": _concept(LOINC, "85354-9", "Blood Pressure"),
            "subject": self.subject,
            "effectiveDateTime": self._stamp(day),
            "component": [
                component("8462-4", "Diastolic Blood Pressure", self.random.randrange(65, 95)),
                component("8480-6", "Systolic Blood Pressure", self.random.randrange(105, 150)),
            ],
        }

    def medication(self, drug: tuple[str, str]) -> dict[str, Any]:
        """The Medication resource of a drug, for requests that name it by reference."""
        return {
            "resourceType": "Medication",
            "id": f"{self.prefix}-rx{drug[0]}",
            "code": _concept(RXNORM, *drug),
            "status": "active",
        }

    def medication_request(
        self, day: date, drug: tuple[str, str], *, by_reference: bool = False
    ) -> dict[str, Any]:
        reference = {"reference": f"Medication/{self.prefix}-rx{drug[0]}", "display": drug[1]}
        named: dict[str, Any] = (
            {"medicationReference": reference}
            if by_reference
            else {"medicationCodeableConcept": _concept(RXNORM, *drug)}
        )
        return {
            "resourceType": "MedicationRequest",
            "id": self._id(),
            "status": self.random.choice(("active", "completed", "stopped")),
            "intent": "order",
            **named,
            "subject": self.subject,
            "authoredOn": self._stamp(day),
            "dosageInstruction": [
                {
                    "sequence": 1,
                    "timing": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "d"}},
                    "asNeededBoolean": False,
                    "doseAndRate": [{"doseQuantity": {"value": 1}}],
                }
            ],
        }

    def medication_statement(
        self, day: date, drug: tuple[str, str], *, until: date = PADDING_END
    ) -> dict[str, Any]:
        end = day + timedelta(days=self.random.randrange(30, 365))
        return {
            "resourceType": "MedicationStatement",
            "id": self._id(),
            "status": "completed",
            "medicationCodeableConcept": _concept(RXNORM, *drug),
            "subject": self.subject,
            "effectivePeriod": {"start": day.isoformat(), "end": min(end, until).isoformat()},
        }

    def condition(self, day: date, problem: tuple[str, str]) -> dict[str, Any]:
        system = "http://terminology.hl7.org/CodeSystem/condition-"
        status = self.random.choice(("active", "active", "resolved"))
        return {
            "resourceType": "Condition",
            "id": self._id(),
            "clinicalStatus": {"coding": [{"system": f"{system}clinical", "code": status}]},
            "verificationStatus": {
                "coding": [{"system": f"{system}ver-status", "code": "confirmed"}]
            },
            "category": [
                {"coding": [{"system": f"{system}category", "code": "problem-list-item"}]}
            ],
            "code": _concept(SNOMED, *problem),
            "subject": self.subject,
            "onsetDateTime": self._stamp(day),
            "recordedDate": self._stamp(day),
        }

    def visit(self, day: date) -> list[dict[str, Any]]:
        """One visit: vital signs, often a panel or two, a renewal, now and then a problem."""
        found = [self.observation(day, v, "vital-signs") for v in VITALS]
        found.append(self.blood_pressure(day))
        for name, tests in PANELS.items():
            if self.random.random() < (0.7 if name in ("cbc", "metabolic") else 0.3):
                found.extend(self.observation(day, t, "laboratory") for t in tests)
        for _ in range(self.random.randrange(2, 6)):
            found.append(self.medication_request(day, self.random.choice(MEDICATIONS)))
        if self.random.random() < 0.5:
            found.append(self.medication_statement(day, self.random.choice(MEDICATIONS)))
        if self.random.random() < 0.5:
            found.append(self.condition(day, self.random.choice(CONDITIONS)))
        return found


def _patient_id(bundle: dict[str, Any]) -> str:
    return next(
        str(e["resource"]["id"])
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "Patient"
    )


def _renamed(bundle: dict[str, Any], patient_id: str) -> dict[str, Any]:
    """The bundle with its Patient's id (and every reference to it) replaced."""
    old = _patient_id(bundle)
    text = json.dumps(bundle)
    text = text.replace(f'"id": "{old}"', f'"id": "{patient_id}"')
    text = text.replace(f'"Patient/{old}"', f'"Patient/{patient_id}"')
    renamed: dict[str, Any] = json.loads(text)
    return renamed


def padded_bundle(
    fixture: str, size: int, *, seed: int = 0, patient_id: str | None = None
) -> dict[str, Any]:
    """The fixture's bundle with visits added until it holds about `size` resources."""
    bundle: dict[str, Any] = json.loads((FIXTURES / f"{fixture}.json").read_text())
    if patient_id is not None:
        bundle = _renamed(bundle, patient_id)
    padding = _Padding(_patient_id(bundle), seed)
    added: list[dict[str, Any]] = []
    room = size - len(bundle["entry"])
    if room > 0:
        visits = max(1, room // 25)
        span = (PADDING_END - PADDING_START).days
        days = sorted(
            PADDING_START + timedelta(days=padding.random.randrange(span)) for _ in range(visits)
        )
        for day in days:
            added.extend(padding.visit(day))
        while len(added) < room:  # top up with another visit's worth, cut to size
            added.extend(padding.visit(PADDING_END))
        del added[room:]
    bundle["entry"] = [*bundle["entry"], *({"resource": r} for r in added)]
    return bundle


# `padded_chart`'s padding: chronic conditions and prescriptions (none a cancer or an
# anticancer drug) and the two results of each visit's labs the engine reads.
CHART_CONDITIONS = CONDITIONS[:4]  # hypertension, diabetes, hyperlipidemia, COPD
CHART_DRUGS = (MEDICATIONS[0], MEDICATIONS[2], MEDICATIONS[3], MEDICATIONS[6])
CHART_LABS = (PANELS["metabolic"][2], PANELS["cbc"][2])  # creatinine, haemoglobin


def padded_chart(fixture: str, size: int = 100) -> dict[str, Any]:
    """The fixture's bundle with a chart's other business, one resource a day spread over
    six years, until it holds `size` resources (see the module's docstring)."""
    bundle: dict[str, Any] = json.loads((FIXTURES / f"{fixture}.json").read_text())
    padding = _Padding(_patient_id(bundle), seed=0)
    medications = [padding.medication(drug) for drug in CHART_DRUGS]
    room = size - len(bundle["entry"]) - len(medications)
    step = (CHART_END - CHART_START).days / max(room - 1, 1)
    added = []
    for number in range(max(room, 0)):
        day = CHART_START + timedelta(days=round(number * step))
        kind, turn = number % 5, number // 5
        if kind == 0:
            added.append(padding.condition(day, CHART_CONDITIONS[turn % len(CHART_CONDITIONS)]))
        elif kind == 1:
            drug = CHART_DRUGS[turn % len(CHART_DRUGS)]
            added.append(padding.medication_request(day, drug, by_reference=True))
        elif kind == 3:
            drug = CHART_DRUGS[turn % len(CHART_DRUGS)]
            added.append(padding.medication_statement(day, drug, until=CHART_END))
        else:
            added.append(padding.observation(day, CHART_LABS[kind == 4], "laboratory"))
    bundle["entry"] = [*bundle["entry"], *({"resource": r} for r in (*medications, *added))]
    return bundle


def resource_count(prefetch: dict[str, Any]) -> int:
    """How many resources a prefetch carries (a Medication repeated per key counts once)."""
    seen = set()
    for value in prefetch.values():
        entries = value.get("entry", []) if value.get("resourceType") == "Bundle" else [value]
        for entry in entries:
            resource = entry.get("resource", entry)
            seen.add((resource["resourceType"], resource.get("id")))
    return len(seen)


def prefetch_of(
    bundle: dict[str, Any], *, templates: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(patient id, prefetch) a CDS client sends for this record: each resource in the key
    of its type, Medications in every medication key (`_include`)."""
    from service.hooks import PREFETCH  # the service's own templates

    entries = [e["resource"] for e in bundle["entry"]]
    patient = next(r for r in entries if r["resourceType"] == "Patient")
    prefetch: dict[str, Any] = {}
    for key, template in (templates or dict(PREFETCH)).items():
        kind = template.split("/")[0].split("?")[0]
        if kind == "Patient":
            prefetch[key] = patient
            continue
        wanted: Sequence[str] = (kind, "Medication") if kind.startswith("Medication") else (kind,)
        found = [{"resource": r} for r in entries if r["resourceType"] in wanted]
        prefetch[key] = {"resourceType": "Bundle", "type": "searchset", "entry": found}
    return str(patient["id"]), prefetch


def hook_body(patient_id: str, prefetch: dict[str, Any], number: int = 0) -> dict[str, Any]:
    """A patient-view request with this prefetch."""
    return {
        "hook": "patient-view",
        "hookInstance": f"00000000-0000-4000-8000-{number:012d}",
        "context": {"userId": "Practitioner/bench", "patientId": patient_id},
        "prefetch": prefetch,
    }
