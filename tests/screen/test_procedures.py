"""The population screen reads Procedures (CLINICAL_RULES v3 §1) as it reads the other
types the engine uses: exported by default, opened, kept with their patient."""

from __future__ import annotations

import json
from pathlib import Path

from distributed import Client

from service.demo.population import PopulationSpec, write_population
from service.fhir import USED_TYPES
from service.screen.bulk import DEFAULT_TYPES
from service.screen.export import read_export
from service.screen.plan import screen
from tests.conftest import FIXTURES
from tests.screen.conftest import OPTIONS


def test_the_bulk_export_asks_for_every_type_the_engine_reads() -> None:
    """The default `_type` list is the reader's types, Procedure among them."""
    assert set(DEFAULT_TYPES) == USED_TYPES
    assert "Procedure" in DEFAULT_TYPES


def test_procedure_files_are_opened_and_read(client: Client, tmp_path: Path) -> None:
    """A Procedure file beside the others: its lines are read (counted), the type is not
    skipped, and the worklist is what it was (no rule uses a Procedure yet)."""
    export = tmp_path / "export"
    write_population(
        PopulationSpec(patients=10, sclc_share=1.0, compress=False), export, fixtures=FIXTURES
    )
    (export / "manifest.json").unlink(missing_ok=True)
    before = screen(read_export(export), client=client, options=OPTIONS, workdir=tmp_path)
    patient = before.rows[0].patient_id
    procedures = [
        {
            "resourceType": "Procedure",
            "id": f"pr{n}",
            "status": "completed",
            "subject": {"reference": f"Patient/{patient}"},
            "code": {"text": "Prophylactic cranial irradiation"},
            "performedDateTime": f"2025-03-1{n}",
        }
        for n in range(3)
    ]
    lines = "".join(json.dumps(p) + "\n" for p in procedures)
    (export / "Procedure.ndjson").write_text(lines, encoding="utf-8")
    after = screen(read_export(export), client=client, options=OPTIONS, workdir=tmp_path)
    assert "Procedure" not in after.stats.skipped_types
    assert after.stats.lines == before.stats.lines + 3
    assert after.rows == before.rows
