"""Shared fixtures of the screen tests: small generated exports and a Dask cluster.

The populations are small (a few hundred patients) and made once per session; the
cluster runs its workers as threads of the test process and is closed at the end.
"""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from distributed import Client

from service.demo.population import PopulationSpec, write_population
from service.engine.rules import DEFAULT_THRESHOLDS
from service.screen.dask_cluster import dask_client
from service.screen.plan import ScreenOptions
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)  # the fixtures' evaluation date (tests/expected/README.md)
# A quarter of the patients are scenario copies: each fixture once (four patients a
# fixture), in blocks of 100.
SPEC = PopulationSpec(patients=4 * len(list(FIXTURES.glob("*.json"))), sclc_share=0.25, block=100)
OPTIONS = ScreenOptions(today=TODAY, thresholds=DEFAULT_THRESHOLDS)


@pytest.fixture(scope="session")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The gzip export of SPEC (three blocks of files and a manifest)."""
    out = tmp_path_factory.mktemp("population")
    write_population(SPEC, out, fixtures=FIXTURES)
    return out


@pytest.fixture(scope="session")
def plain_population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same patients as plain NDJSON, one file per type, and no manifest."""
    out = tmp_path_factory.mktemp("plain")
    spec = PopulationSpec(
        patients=SPEC.patients, sclc_share=SPEC.sclc_share, compress=False, block=1000
    )
    write_population(spec, out, fixtures=FIXTURES)
    (out / "manifest.json").unlink()
    return out


@pytest.fixture(scope="session")
def client() -> Iterator[Client]:
    """A local cluster of two worker threads, closed after the session."""
    with dask_client(workers=2, processes=False) as client:
        yield client


def read_lines(path: Path) -> list[str]:
    """The lines of an NDJSON file, compressed or not."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [line.rstrip("\n") for line in stream if line.strip()]


def records_by_patient(export: Path) -> dict[str, list[str]]:
    """Each patient's lines, in export order (files by path), by the plainest reading:
    a resource belongs to the Patient its `subject`/`patient` names; Medications go with
    the patients whose records reference them."""
    owned: dict[str, list[str]] = defaultdict(list)
    medications: dict[str, str] = {}
    order: dict[str, int] = {}
    for path in sorted(p for p in export.iterdir() if ".ndjson" in p.name):
        for line in read_lines(path):
            resource = json.loads(line)
            kind = resource["resourceType"]
            order[line] = len(order)
            if kind == "Patient":
                owned[resource["id"]].append(line)
            elif kind == "Medication":
                medications[f"Medication/{resource['id']}"] = line
            else:
                reference = (resource.get("subject") or resource.get("patient") or {}).get(
                    "reference", ""
                )
                if reference.startswith("Patient/"):
                    owned[reference.removeprefix("Patient/")].append(line)
    for lines in owned.values():
        text = "\n".join(lines)
        lines.extend(m for ref, m in medications.items() if f'"{ref}"' in text)
        lines.sort(key=order.__getitem__)
    return dict(owned)
