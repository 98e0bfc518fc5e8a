"""The reader's fast path against full validation: the same evaluations, the same cards.

The fast path (`service.fhir.planner`) models only the resources the engine can read; the
full path validates every resource of the types the engine uses. Over every fixture,
every file of ../shared/external_fhir/ and generated records (hypothesis), both must
give the same evaluation and the same cards; and what the fast path leaves unread must
not matter to the full path either (removing it changes nothing but a warning about
that very resource).
"""

from __future__ import annotations

import copy
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.cards import patient_view_cards
from service.engine import evaluate
from service.engine.model import Evaluation
from service.engine.record import Record
from service.fhir import RawResource, build_record, build_records, load_path, select
from tests.conftest import FIXTURES, SHARED
from tests.fhir.test_hostile_fhir import resources as hostile_resources

TODAY = date(2026, 11, 21)
BASE_URL = "http://localhost:8080"
EXTERNAL = SHARED / "external_fhir"
# One input per file (the NDJSON export and the loose mCODE resources: one per folder).
INPUTS = sorted(
    [*FIXTURES.glob("*.json")]
    + [p for p in EXTERNAL.glob("*/*.json") if p.parent.name != "mcode-stu1-examples"]
    + [EXTERNAL / "synthea-bulk-ndjson", EXTERNAL / "mcode-stu1-examples"]
)
# A warning the full path alone may give: a resource it validated and skipped.
SKIPPED = re.compile(r"^(?P<ref>[^ ]+): .*; skipped$")


def _name(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


def _evaluations(records: Sequence[Record]) -> list[Evaluation]:
    return [evaluate(r, today=TODAY) for r in records]


def _json(evaluation: Evaluation) -> dict[str, Any]:
    return evaluation.to_json(cards=patient_view_cards(evaluation, base_url=BASE_URL))


def _both(resources: list[RawResource], warnings: list[str]) -> tuple[list[Any], list[Any]]:
    """Every patient's evaluation JSON (with cards), fast path and full path."""
    fast = build_records(resources, warnings=warnings, today=TODAY)
    full = build_records(resources, warnings=warnings, today=TODAY, full_validation=True)
    return [_json(e) for e in _evaluations(fast)], [_json(e) for e in _evaluations(full)]


def _read(path: Path) -> tuple[list[RawResource], list[str]]:
    if not path.exists():
        pytest.skip(f"{path} is absent: the outside FHIR data lives beside the project root")
    return load_path(path)


@pytest.mark.parametrize("path", INPUTS, ids=_name)
def test_fast_and_full_paths_give_the_same_evaluations_and_cards(path: Path) -> None:
    """Each fixture and outside file: identical evaluation JSON and cards on both paths."""
    resources, warnings = _read(path)
    fast, full = _both(resources, warnings)
    assert fast == full


@pytest.mark.parametrize("path", INPUTS, ids=_name)
def test_the_hook_reading_of_each_patient_is_the_full_reading(path: Path) -> None:
    """Per patient, as a hook reads it (`build_record` with the date): the full path's."""
    resources, warnings = _read(path)
    for patient in _patients(resources):
        records = [
            build_record(
                resources, patient_id=patient, warnings=warnings, today=TODAY, full_validation=full
            )
            for full in (False, True)
        ]
        fast, full = (_json(e) for e in _evaluations(records))
        assert fast == full, patient


def _patients(resources: list[RawResource]) -> list[str]:
    found = (r.resource.get("id") for r in resources if r.resource.get("resourceType") == "Patient")
    return list(dict.fromkeys(i for i in found if isinstance(i, str)))[:3]


def _without_warnings_about(found: dict[str, Any], refs: set[str]) -> dict[str, Any]:
    found = copy.deepcopy(found)
    found["warnings"] = [
        w for w in found["warnings"] if not any(w.startswith(f"{ref}:") for ref in refs)
    ]
    found.pop("cards")
    return found


@pytest.mark.parametrize("path", INPUTS, ids=_name)
def test_what_the_fast_path_leaves_unread_changes_nothing_on_the_full_path(path: Path) -> None:
    """The full path without the resources the fast path skips: the same evaluation, but
    for warnings about those very resources (invalid ones the engine does not use)."""
    resources, warnings = _read(path)
    for patient in _patients(resources):
        selection = select(resources, patient_id=patient, today=TODAY)
        selection.record(warnings)
        unread = {id(r) for r in selection.unread()}
        kept = [r for r in resources if id(r) not in unread]
        gone = {
            f"{r.resource.get('resourceType')}/{r.resource.get('id')}"
            for r in resources
            if id(r) in unread
        }
        whole, reduced = (
            build_record(found, patient_id=patient, warnings=warnings, full_validation=True)
            for found in (resources, kept)
        )
        before, after = (
            _without_warnings_about(_json(e), gone) for e in _evaluations([whole, reduced])
        )
        assert after == before, patient


# --- generated records --------------------------------------------------------------------

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
dates = st.sampled_from(
    [
        "2026-11-20",
        "2026-11-22",
        "2026-10-01T10:00:00+02:00",
        "2026-11-21T23:30:00-05:00",
        "2026-11-21T00:10:00Z",
        "2026-09",
        "2025",
        "2026-02-30",
        "2026-11-21T23:59:60Z",
        "2025-06-01",
        "2024-01-15T08:00:00.123+00:00",
        "not a date",
    ]
)
drugs = st.sampled_from(
    [
        {"coding": [{"system": RXNORM, "code": "40048", "display": "carboplatin"}]},
        {"coding": [{"system": RXNORM, "code": "4179"}]},
        {"coding": [{"system": RXNORM, "code": "314076", "display": "lisinopril 10 MG"}]},
        {"coding": [{"system": RXNORM, "code": "99999999"}]},
        {"text": "tarlatamab-dlle infusion"},
        {"text": "fakeimab 10 mg"},
        {"text": "ondansetron 8 mg"},
        {"text": "pegfilgrastim"},
        {"text": "metformin"},
        {"coding": [{"system": "urn:other", "code": "x", "display": "Topotecan"}]},
    ]
)
conditions = st.sampled_from(
    [
        {"coding": [{"system": SNOMED, "code": "254632001"}]},
        {"coding": [{"system": SNOMED, "code": "38341003", "display": "Hypertension"}]},
        {"coding": [{"system": ICD10, "code": "C34.90"}], "text": "Lung cancer"},
        {"coding": [{"system": ICD10, "code": "C34.90"}], "text": "oat cell carcinoma of lung"},
        {"coding": [{"system": ICD10, "code": "C18.9"}]},
        {"text": "Benign polyp of colon"},
        {"text": "Small cell lung cancer, relapsed"},
        {"coding": [{"system": SNOMED, "code": "94391008"}], "text": "Malignant neoplasm to lung"},
        {"coding": [{"system": SNOMED, "code": "13645005"}], "text": "COPD"},
    ]
)
measures = st.sampled_from(
    ["751-8", "777-3", "718-7", "2160-0", "33914-3", "6301-6", "89247-1", "8867-4", "2339-0"]
    + ["21908-9", "21907-1"]  # TNM stage group and M category (v3 §2)
)
procedure_concepts = st.sampled_from(
    [
        {"coding": [{"system": SNOMED, "code": "367336001"}]},
        {"coding": [{"system": SNOMED, "code": "703423002"}]},
        {"coding": [{"system": SNOMED, "code": "73761001", "display": "Colonoscopy"}]},
        {"coding": [{"system": SNOMED, "code": "180256009"}], "text": "Subcutaneous immunotherapy"},
        {"text": "Prophylactic cranial irradiation"},
        {"text": "PCI with stent"},
        {"text": "chemo"},
        {"coding": "not a list"},
    ]
)


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    code = draw(measures)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": draw(st.sampled_from(["final", "amended", "entered-in-error", "preliminary"])),
        "code": {"coding": [{"system": draw(st.sampled_from([LOINC, "urn:x"])), "code": code}]},
        draw(st.sampled_from(["effectiveDateTime", "effectiveInstant"])): draw(dates),
    }
    if code == "89247-1":
        resource["valueCodeableConcept"] = {"coding": [{"system": LOINC, "code": "LA9623-5"}]}
    elif code in ("21908-9", "21907-1"):
        resource["valueCodeableConcept"] = {
            "text": draw(st.sampled_from(["Stage IVA", "stage IIIB", "cM1c", "M0", "T2N1M1b"]))
        }
        if draw(st.booleans()):
            resource["focus"] = [{"reference": draw(st.sampled_from(["Condition/g0", "urn:x"]))}]
    elif draw(st.booleans()):
        resource["valueQuantity"] = {
            "value": draw(st.sampled_from([0.5, 1.2, 150, 3.4])),
            "unit": draw(st.sampled_from(["mg/dL", "10*3/uL", "g/dL", "%"])),
        }
    if draw(st.booleans()):
        resource["referenceRange"] = [{"high": {"value": 1.3, "unit": "mg/dL"}}]
    return resource


@st.composite
def medications(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["MedicationStatement", "MedicationRequest"]))
    resource: dict[str, Any] = {
        "resourceType": kind,
        "status": draw(st.sampled_from(["completed", "active", "entered-in-error", "stopped"])),
        "medicationCodeableConcept": draw(drugs),
    }
    if kind == "MedicationRequest":
        resource["intent"] = draw(st.sampled_from(["order", "plan"]))
        resource["authoredOn"] = draw(dates)
    else:
        resource["effectivePeriod"] = {"start": draw(dates), "end": draw(dates)}
    if draw(st.integers(0, 4)) == 0:
        resource["reasonReference"] = [{"reference": "Condition/g0"}]
    return resource


@st.composite
def procedures(draw: st.DrawFn) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "status": draw(
            st.sampled_from(["completed", "in-progress", "not-done", "entered-in-error"])
        ),
        "code": draw(procedure_concepts),
    }
    if draw(st.booleans()):
        resource["performedDateTime"] = draw(dates)
    else:
        resource["performedPeriod"] = {"start": draw(dates), "end": draw(dates)}
    return resource


@st.composite
def condition_resources(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"code": draw(st.sampled_from(["active", "relapse"]))}]},
        "code": draw(conditions),
        draw(st.sampled_from(["onsetDateTime", "recordedDate"])): draw(dates),
    }


# Fixtures at a decision point, where every measure and drug record counts.
BASES = ("third-line", "trial-eligible", "stale-observations", "sensitive-late-relapse")
records = st.tuples(
    st.sampled_from(BASES),
    st.lists(
        st.one_of(
            observations(), medications(), condition_resources(), procedures(), hostile_resources
        ),
        max_size=14,
    ),
)


def _record_resources(base: str, found: list[dict[str, Any]]) -> tuple[str, list[RawResource]]:
    """The fixture's resources with `found` added (ids `gN`, mostly the fixture patient's)."""
    raw, _ = load_path(FIXTURES / f"{base}.json")
    added = []
    for number, resource in enumerate(found):
        resource = dict(resource)
        if resource.get("resourceType") in (
            "Observation",
            "Condition",
            "Procedure",
        ) or "Medication" in str(resource.get("resourceType", "")):
            resource.setdefault("id", f"g{number}")
            other = number % 7 == 6
            resource.setdefault("subject", {"reference": f"Patient/{'other' if other else base}"})
        added.append(RawResource(resource))
    return base, [*raw, *added]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records)
def test_generated_records_read_the_same_on_both_paths(
    record: tuple[str, list[dict[str, Any]]],
) -> None:
    """Fast and full paths agree; the full path may only add 'skipped' warnings about
    resources the fast path never read (invalid records the engine does not use). The
    facts no rule uses yet (Procedures, stage Observations and their focus) agree too."""
    patient, raw = _record_resources(*record)
    fast_record, full_record = (
        build_record(raw, patient_id=patient, today=TODAY, full_validation=f) for f in (False, True)
    )
    assert fast_record.procedures == full_record.procedures
    staged = {"21908-9", "21907-1"}
    assert [o for o in fast_record.observations if o.codes and o.codes[0].code in staged] == [
        o for o in full_record.observations if o.codes and o.codes[0].code in staged
    ]
    fast, full = (evaluate(r, today=TODAY) for r in (fast_record, full_record))
    extra = Counter(full.warnings) - Counter(fast.warnings)
    assert not Counter(fast.warnings) - Counter(full.warnings)
    assert all(SKIPPED.match(w) for w in extra), extra
    read_by_fast = {w.split(":")[0] for w in fast.warnings}
    assert not {w.split(":")[0] for w in extra} & read_by_fast
    left = Counter(extra)
    kept = []
    for warning in reversed(full.warnings):  # drop the full path's own, keep the order
        if left[warning]:
            left[warning] -= 1
        else:
            kept.append(warning)
    trimmed = replace(full, warnings=tuple(reversed(kept)))
    assert _json(fast) == _json(trimmed)


@pytest.mark.parametrize("first", [True, False])
def test_a_lab_sent_twice_is_read_as_the_full_path_reads_it(first: bool) -> None:
    """Two copies of the latest lab (same id and date, other values): both paths take the
    one the engine takes among equals, the first in the input."""
    resources, warnings = load_path(FIXTURES / "trial-eligible.json")
    labs = [r for r in resources if "valueQuantity" in r.resource]
    assert labs, "the fixture has labs"
    copies = []
    for lab in labs:
        twin = copy.deepcopy(lab.resource)
        twin["valueQuantity"]["value"] = twin["valueQuantity"]["value"] * 3
        copies.append(RawResource(twin))
    both = [*copies, *resources] if first else [*resources, *copies]
    fast, full = (
        _json(
            evaluate(
                build_record(
                    both,
                    patient_id="trial-eligible",
                    warnings=warnings,
                    today=TODAY,
                    full_validation=f,
                ),
                today=TODAY,
            )
        )
        for f in (False, True)
    )
    assert fast == full
