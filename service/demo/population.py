"""Write a synthetic population as a FHIR Bulk Data export, for tests and benchmarks.

    sclc-cds fixtures population 10000 --out /tmp/population-10k

The export is what a server's `$export` leaves behind: a `manifest.json` (its `output`
URLs are the file names beside it) and NDJSON files per resource type, split every
`block` patients as servers split large exports (`Observation.003.ndjson.gz`). Most
patients are ordinary: chronic conditions, encounters, vital signs and laboratory
results, non-cancer medications, and for some another cancer with its own
chemotherapy (non-small-cell lung cancer on carboplatin and pemetrexed among them).
An even share of the patients (`sclc_share`) are copies of the scenarios of
`fhir_fixtures/`, taken in turn, each with its own ids and its own noise: conditions,
encounters, vital signs and laboratory results the engine does not read, and
non-cancer medications, so that each copy evaluates like its scenario.

The same `PopulationSpec` always writes the same bytes, whatever `jobs`.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import IO, Any

from service.demo.synth import CLINICAL, LOINC, RXNORM, SNOMED, UCUM, VERIFICATION
from service.engine.catalogue import load_catalogue
from service.fhir.parse import canonical_ref

__all__ = [
    "DEFAULT_TODAY",
    "PopulationSpec",
    "Scenario",
    "WrittenFile",
    "is_scenario_patient",
    "load_scenarios",
    "patient_id",
    "write_population",
]

# The evaluation date of the fixtures' expected files (tests/expected/README.md); the
# export is dated that day so that each scenario copy evaluates like its fixture.
DEFAULT_TODAY = date(2026, 11, 21)
# A cancer centre's export: SCLC is about 13-15% of lung cancers and lung cancer about a
# tenth of cancer patients, so ~1.5% of cancer patients; with patients seen for other
# reasons in the export too, 1% (every scenario of the 60 present from 6,000 patients).
SCLC_SHARE = 0.01
# Another cancer (with its own chemotherapy for half of them): the SCLC filter's traps.
OTHER_CANCER_SHARE = 0.06
# Patients per file of each type: servers split large exports; about 160,000
# Observations (70 MB of NDJSON) a file, so that even 10,000 patients give each worker
# of a small cluster files of its own (a gzip file is read by one task).
BLOCK_PATIENTS = 2_000
PLACEHOLDER = "@pid@"  # stands for the patient id in a scenario's resources
_PPM = 1_000_000
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


@dataclass(frozen=True, slots=True)
class Scenario:
    """A fixture as a patient template: each resource's type and compact JSON, with
    `PLACEHOLDER` where the patient id goes."""

    name: str
    resources: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class PopulationSpec:
    """What to write: `patients` patients, `sclc_share` of them scenario copies."""

    patients: int
    seed: int = 1
    sclc_share: float = SCLC_SHARE
    today: date = DEFAULT_TODAY
    compress: bool = True
    block: int = BLOCK_PATIENTS

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise ValueError("a population needs at least one patient")
        if not 0.0 <= self.sclc_share <= 1.0:
            raise ValueError("the SCLC share is a fraction between 0 and 1")
        if self.block < 1:
            raise ValueError("a block needs at least one patient")


@dataclass(frozen=True, slots=True)
class WrittenFile:
    """One NDJSON file of the export and how many resources it holds."""

    type: str
    name: str
    count: int


def patient_id(spec: PopulationSpec, number: int) -> str:
    """The id of patient `number` (0-based): `p0000042`."""
    width = max(7, len(str(spec.patients - 1)))
    return f"p{number:0{width}d}"


def _ppm(spec: PopulationSpec) -> int:
    return round(spec.sclc_share * _PPM)


def is_scenario_patient(spec: PopulationSpec, number: int) -> bool:
    """True when patient `number` is a scenario copy (evenly spread through the export)."""
    share = _ppm(spec)
    return (number + 1) * share // _PPM > number * share // _PPM


def _scenario_number(spec: PopulationSpec, number: int) -> int:
    return number * _ppm(spec) // _PPM


# -- scenarios -----------------------------------------------------------------------


def _rewritten(value: Any, aliases: Mapping[str, str], rename: Callable[[str], str]) -> Any:
    if isinstance(value, list):
        return [_rewritten(v, aliases, rename) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: _rewritten(v, aliases, rename) for k, v in value.items()}
    reference = value.get("reference")
    if isinstance(reference, str) and not reference.startswith("#"):
        if reference in aliases:
            out["reference"] = aliases[reference]
        elif (ref := canonical_ref(reference)) is not None:
            out["reference"] = rename(ref)
    return out


def _ref(number: int, resource: Mapping[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource.get('id') or f'r{number}'}"


def scenario_from_bundle(name: str, bundle: Mapping[str, Any]) -> Scenario:
    """A fixture Bundle as a scenario: ids made unique per copy, references rewritten.

    The fixture's Patient becomes `Patient/<pid>`; every other resource `Type/<pid>-<id>`;
    a reference to a patient outside the bundle names a patient of its own
    (`Patient/<pid>-<id>`), absent from the export as it was from the bundle.
    """
    entries = [e for e in bundle.get("entry") or [] if isinstance(e.get("resource"), dict)]
    patients = [e["resource"] for e in entries if e["resource"].get("resourceType") == "Patient"]
    own = f"Patient/{patients[0]['id']}" if patients else None

    def rename(ref: str) -> str:
        kind, _, ident = ref.partition("/")
        return f"Patient/{PLACEHOLDER}" if ref == own else f"{kind}/{PLACEHOLDER}-{ident}"

    aliases: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        ref = _ref(number, entry["resource"])
        aliases[ref] = rename(ref)
        if entry.get("fullUrl"):
            aliases[entry["fullUrl"]] = rename(ref)
    resources = []
    for number, entry in enumerate(entries, start=1):
        resource = _rewritten(entry["resource"], aliases, rename)
        resource["id"] = aliases[_ref(number, entry["resource"])].partition("/")[2]
        resources.append((resource["resourceType"], _compact(resource)))
    return Scenario(name, tuple(resources))


@cache
def load_scenarios(folder: Path) -> tuple[Scenario, ...]:
    """Every `*.json` fixture Bundle of `folder`, by name."""
    found = []
    for path in sorted(folder.glob("*.json")):
        bundle = json.loads(path.read_text(encoding="utf-8"))
        if bundle.get("resourceType") == "Bundle":
            found.append(scenario_from_bundle(path.stem, bundle))
    if not found:
        raise ValueError(f"{folder} holds no fixture Bundles")
    return tuple(found)


# -- ordinary patients and noise -----------------------------------------------------


def _compact(resource: JSONValue) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


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


def _ordinary(spec: PopulationSpec, pid: str, rng: random.Random) -> list[tuple[str, str]]:
    person = _Patient(pid, rng, spec.today)
    person.patient()
    person.chronic(rng.randrange(0, 6))
    if rng.random() < OTHER_CANCER_SHARE:
        person.other_cancer()
    person.visits(rng.randrange(5, 22), (*ENGINE_MEASURES, *OTHER_MEASURES))
    person.everyday_drugs(rng.randrange(2, 22))
    return [(kind, _compact(body)) for kind, body in person.resources]


def _scenario_copy(
    spec: PopulationSpec, pid: str, rng: random.Random, scenario: Scenario
) -> list[tuple[str, str]]:
    """The scenario's resources for `pid`, then noise the engine does not read."""
    own = [(kind, text.replace(PLACEHOLDER, pid)) for kind, text in scenario.resources]
    # Noise ids (`<pid>-n-…`) never meet the scenario's (`<pid>-<fixture id>`).
    person = _Patient(pid, rng, spec.today, prefix=f"{pid}-n")
    person.chronic(rng.randrange(0, 4))
    person.visits(rng.randrange(4, 16), OTHER_MEASURES)
    person.everyday_drugs(rng.randrange(2, 16))
    noise = [(kind, _compact(body)) for kind, body in person.resources]
    return own + noise


def population_resources(
    spec: PopulationSpec, number: int, scenarios: Sequence[Scenario]
) -> list[tuple[str, str]]:
    """Patient `number`'s resources as (type, compact JSON), the same for every run."""
    pid = patient_id(spec, number)
    rng = random.Random(f"{spec.seed}:{number}")  # noqa: S311 (test data, not secrets)
    if scenarios and is_scenario_patient(spec, number):
        scenario = scenarios[_scenario_number(spec, number) % len(scenarios)]
        return _scenario_copy(spec, pid, rng, scenario)
    return _ordinary(spec, pid, rng)


# -- writing ---------------------------------------------------------------------------


class _Writers:
    """One open NDJSON file per resource type of a block, opened on first use."""

    def __init__(self, out: Path, block: int, compress: bool) -> None:
        self.out = out
        self.block = block
        self.compress = compress
        self.files: dict[str, tuple[IO[bytes], io.BufferedIOBase]] = {}
        self.counts: dict[str, int] = {}

    def name(self, kind: str) -> str:
        suffix = ".ndjson.gz" if self.compress else ".ndjson"
        return f"{kind}.{self.block:03d}{suffix}"

    def write(self, kind: str, line: str) -> None:
        if kind not in self.files:
            raw = (self.out / self.name(kind)).open("wb")
            # mtime 0 and no file name in the header: the same bytes on every run.
            binary: io.BufferedIOBase = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=3, mtime=0)
                if self.compress
                else raw
            )
            self.files[kind] = (raw, binary)
            self.counts[kind] = 0
        self.files[kind][1].write(line.encode("utf-8") + b"\n")
        self.counts[kind] += 1

    def close(self) -> list[WrittenFile]:
        for raw, binary in self.files.values():
            binary.close()
            raw.close()
        return [WrittenFile(k, self.name(k), self.counts[k]) for k in sorted(self.files)]


def _write_block(
    spec: PopulationSpec, out: Path, block: int, scenarios: tuple[Scenario, ...]
) -> list[WrittenFile]:
    writers = _Writers(out, block, spec.compress)
    try:
        first = block * spec.block
        for number in range(first, min(spec.patients, first + spec.block)):
            for kind, line in population_resources(spec, number, scenarios):
                writers.write(kind, line)
    finally:
        written = writers.close()
    return written


def _blocks(spec: PopulationSpec) -> Iterator[int]:
    return iter(range((spec.patients + spec.block - 1) // spec.block))


def write_population(
    spec: PopulationSpec, out: Path, *, fixtures: Path, jobs: int = 1
) -> list[WrittenFile]:
    """Write the export of `spec` into `out` (created; must hold no export yet)."""
    out.mkdir(parents=True, exist_ok=True)
    if (out / "manifest.json").exists():
        raise ValueError(f"{out} already holds an export (manifest.json)")
    scenarios = load_scenarios(fixtures.resolve()) if spec.sclc_share > 0 else ()
    blocks = list(_blocks(spec))
    if jobs > 1 and len(blocks) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = list(
                pool.map(
                    _write_block,
                    [spec] * len(blocks),
                    [out] * len(blocks),
                    blocks,
                    [scenarios] * len(blocks),
                )
            )
    else:
        parts = [_write_block(spec, out, b, scenarios) for b in blocks]
    written = [f for part in parts for f in part]
    manifest = {
        "transactionTime": f"{spec.today.isoformat()}T00:00:00Z",
        "request": f"sclc-cds fixtures population {spec.patients} (seed {spec.seed})",
        "requiresAccessToken": False,
        "output": [{"type": f.type, "url": f.name, "count": f.count} for f in written],
        "error": [],
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return written
