"""The padded 100-resource chart of `make bench`: the reader validates what the engine
uses and nothing else, and reads it as full validation does."""

from __future__ import annotations

import importlib.util
from datetime import date
from types import ModuleType
from typing import Any

import pytest

from service.cards import patient_view_cards
from service.engine import evaluate
from service.fhir import RawResource, build_record, resources_from_json, select
from tests.conftest import ROOT

TODAY = date(2026, 11, 21)  # the benchmarks' evaluation date
RECORDS = ROOT / "benchmarks" / "records.py"
# What the engine uses of the chart, counted by hand (15 of its 100 resources): of the
# third-line fixture, the Patient, the SCLC Condition, the 8 chemotherapy statements
# (carboplatin, etoposide and atezolizumab, then topotecan five times), the 2
# disease-status Observations and ECOG; of the padding, only the latest creatinine
# (pad0-83) and the latest haemoglobin (pad0-80), §10. Not its 17 other Conditions, 17
# prescriptions and 16 statements of chronic drugs, the 4 Medications those
# prescriptions name, or its 31 older results.
USED = [
    "Condition/c1",
    "MedicationStatement/ms1",
    "MedicationStatement/ms2",
    "MedicationStatement/ms3",
    "MedicationStatement/ms4",
    "MedicationStatement/ms5",
    "MedicationStatement/ms6",
    "MedicationStatement/ms7",
    "MedicationStatement/ms8",
    "Observation/ecog1",
    "Observation/obs1",
    "Observation/obs2",
    "Observation/pad0-80",
    "Observation/pad0-83",
    "Patient/third-line",
]
# The chart's Medications (metformin, atorvastatin, amlodipine, simvastatin): read only
# when a prescription names one without a display, to tell which drug it is.
MEDICATIONS = [f"Medication/pad0-rx{code}" for code in ("197361", "198211", "259255", "860975")]


def _records() -> ModuleType:
    """benchmarks/records.py, where the chart is made."""
    spec = importlib.util.spec_from_file_location(
        "bench_records", ROOT / "benchmarks" / "records.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _chart(*, displayed: bool) -> list[RawResource]:
    bundle: dict[str, Any] = _records().padded_chart("third-line", 100)
    if not displayed:
        for entry in bundle["entry"]:
            entry["resource"].get("medicationReference", {}).pop("display", None)
    resources, _ = resources_from_json(bundle)
    return resources


def _validated(resources: list[RawResource]) -> list[str]:
    selection = select(resources, patient_id="third-line", today=TODAY)
    selection.record()
    return sorted(f"{r.resource['resourceType']}/{r.resource['id']}" for r in selection.validated())


def test_the_chart_is_a_hundred_resources() -> None:
    """The chart holds 100 resources, 4 of them Medications."""
    resources = _chart(displayed=True)
    assert len(resources) == 100
    assert sum(r.resource["resourceType"] == "Medication" for r in resources) == 4


def test_the_padded_chart_validates_only_what_the_engine_uses() -> None:
    """Prescriptions naming their Medication with a display: the 15 resources above."""
    assert _validated(_chart(displayed=True)) == USED


def test_prescriptions_without_a_display_validate_their_medications_alone() -> None:
    """Without a display, a prescription's drug is its Medication's: the 4 Medications are
    validated to tell it, the prescriptions are not."""
    assert _validated(_chart(displayed=False)) == sorted([*USED, *MEDICATIONS])


@pytest.mark.parametrize("displayed", [True, False])
def test_the_padded_chart_reads_as_full_validation_reads_it(displayed: bool) -> None:
    """The same evaluation and cards as when every resource is validated."""
    resources = _chart(displayed=displayed)
    fast, full = (
        evaluate(
            build_record(resources, patient_id="third-line", today=TODAY, full_validation=full),
            today=TODAY,
        )
        for full in (False, True)
    )
    assert fast.to_json(cards=patient_view_cards(fast, base_url="http://localhost")) == (
        full.to_json(cards=patient_view_cards(full, base_url="http://localhost"))
    )
