"""`sclc-cds fixtures population`: a deterministic export, scenarios in turn, safe noise."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

import pytest

from service.cli import main
from service.demo.noise import OTHER_MEASURES
from service.demo.population import (
    PopulationSpec,
    is_scenario_patient,
    load_scenarios,
    population_resources,
    write_population,
)
from service.engine.catalogue import load_catalogue
from service.fhir import OBSERVATION_LOINCS
from tests.conftest import FIXTURES
from tests.screen.conftest import SPEC, read_lines


def digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file of a folder, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_the_same_spec_writes_the_same_bytes_whatever_the_jobs(
    population: Path, tmp_path: Path
) -> None:
    """Two writes of one spec, with one process or two, are byte-identical."""
    write_population(SPEC, tmp_path / "two", fixtures=FIXTURES, jobs=2)
    assert digests(tmp_path / "two") == digests(population)


def test_the_manifest_lists_every_file_with_its_count(population: Path) -> None:
    """Bulk Data manifest: each output's url is a file beside it holding `count` lines."""
    manifest = json.loads((population / "manifest.json").read_text())
    assert manifest["transactionTime"] == "2026-11-21T00:00:00Z"
    assert manifest["requiresAccessToken"] is False
    names = {o["url"] for o in manifest["output"]}
    assert names == {p.name for p in population.iterdir()} - {"manifest.json"}
    for output in manifest["output"]:
        lines = read_lines(population / output["url"])
        assert len(lines) == output["count"]
        assert {json.loads(line)["resourceType"] for line in lines} == {output["type"]}


def test_ids_are_unique_and_every_reference_resolves_or_names_a_patient(population: Path) -> None:
    """No two resources of a type share an id; references point into the export (a
    fixture's record of another patient names a patient absent from it, as it was)."""
    ids: Counter[str] = Counter()
    references: set[str] = set()
    for path in population.glob("*.ndjson.gz"):
        for line in read_lines(path):
            resource = json.loads(line)
            ids[f"{resource['resourceType']}/{resource['id']}"] += 1
            references.update(r for r in line.split('"reference":"')[1:] for r in [r.split('"')[0]])
    assert max(ids.values()) == 1
    dangling = {r for r in references if r not in ids and not r.startswith("#")}
    assert all(r.startswith("Patient/") for r in dangling), dangling


def test_scenario_copies_are_evenly_spread_and_take_every_scenario_in_turn() -> None:
    """A quarter of the patients are copies, one of each fixture, in name order."""
    copies = [n for n in range(SPEC.patients) if is_scenario_patient(SPEC, n)]
    assert len(copies) == SPEC.patients // 4 == len(load_scenarios(FIXTURES))
    assert max(b - a for a, b in zip(copies, copies[1:], strict=False)) == 4
    spec = PopulationSpec(patients=10_000)
    assert sum(is_scenario_patient(spec, n) for n in range(spec.patients)) == 100


def test_noise_in_scenario_copies_is_nothing_the_engine_reads() -> None:
    """Noise labs use no LOINC the engine reads and noise drugs are not in the catalogue,
    so a copy evaluates like its fixture."""
    assert not {m.loinc for m in OTHER_MEASURES} & OBSERVATION_LOINCS
    scenarios = load_scenarios(FIXTURES)
    catalogue = load_catalogue()
    for number in range(SPEC.patients):
        if not is_scenario_patient(SPEC, number):
            continue
        for kind, line in population_resources(SPEC, number, scenarios):
            resource = json.loads(line)
            if "-n-" not in resource["id"]:
                continue  # the scenario's own resources
            if kind == "Observation":
                assert resource["code"]["coding"][0]["code"] not in OBSERVATION_LOINCS
            if kind == "MedicationRequest":
                name = resource["medicationCodeableConcept"]["text"]
                assert not catalogue.match((), (name,)), name


def test_a_population_is_mostly_ordinary_patients_with_about_a_hundred_resources(
    population: Path,
) -> None:
    """Ordinary patients carry encounters, labs, drugs and conditions (other cancers too)."""
    manifest = json.loads((population / "manifest.json").read_text())
    counts: Counter[str] = Counter()
    for output in manifest["output"]:
        counts[output["type"]] += output["count"]
    assert counts["Patient"] == SPEC.patients
    assert 80 <= sum(counts.values()) / SPEC.patients <= 130
    assert counts["Observation"] > counts["Encounter"] > counts["Patient"]
    conditions = "".join(read_lines(next(population.glob("Condition.000.*"))))
    assert "Non-small cell lung cancer" in conditions


def test_the_cli_writes_a_population_and_refuses_to_overwrite_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sclc-cds fixtures population 30` writes an export; a second time, exit 2."""
    out = tmp_path / "pop"
    args = ["fixtures", "population", "30", "--out", str(out), "--plain", "--jobs", "1"]
    assert main(args) == 0
    assert "30 patients" in capsys.readouterr().err
    assert (out / "Patient.000.ndjson").is_file()
    assert main(args) == 2
    assert "already holds an export" in capsys.readouterr().err
