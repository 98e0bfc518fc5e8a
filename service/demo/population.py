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
non-cancer medications, so that each copy evaluates like its scenario. Those resources,
an ordinary patient's and a copy's noise, are built by `service.demo.noise`; this module
turns fixtures into scenarios, picks each patient's kind and writes the files.

The same `PopulationSpec` always writes the same bytes, whatever `jobs`.
"""

from __future__ import annotations

import gzip
import io
import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import IO, Any

from service.demo.noise import noise, ordinary_patient
from service.fhir import canonical_ref

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
# Patients per file of each type: servers split large exports; about 160,000
# Observations (70 MB of NDJSON) a file, so that even 10,000 patients give each worker
# of a small cluster files of its own (a gzip file is read by one task).
BLOCK_PATIENTS = 2_000
PLACEHOLDER = "@pid@"  # stands for the patient id in a scenario's resources
_PPM = 1_000_000


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


def _compact(resource: dict[str, Any]) -> str:
    return json.dumps(resource, ensure_ascii=False, separators=(",", ":"))


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


# -- one patient -----------------------------------------------------------------------


def _scenario_copy(
    spec: PopulationSpec, pid: str, rng: random.Random, scenario: Scenario
) -> list[tuple[str, str]]:
    """The scenario's resources for `pid`, then noise the engine does not read."""
    own = [(kind, text.replace(PLACEHOLDER, pid)) for kind, text in scenario.resources]
    made = noise(pid, rng=rng, today=spec.today)
    return own + [(kind, _compact(body)) for kind, body in made]


def population_resources(
    spec: PopulationSpec, number: int, scenarios: Sequence[Scenario]
) -> list[tuple[str, str]]:
    """Patient `number`'s resources as (type, compact JSON), the same for every run."""
    pid = patient_id(spec, number)
    rng = random.Random(f"{spec.seed}:{number}")  # noqa: S311 (test data, not secrets)
    if scenarios and is_scenario_patient(spec, number):
        scenario = scenarios[_scenario_number(spec, number) % len(scenarios)]
        return _scenario_copy(spec, pid, rng, scenario)
    return [
        (kind, _compact(body)) for kind, body in ordinary_patient(pid, rng=rng, today=spec.today)
    ]


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
