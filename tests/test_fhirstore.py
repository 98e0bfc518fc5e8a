"""The read-only fixture store behind /fhir: unique ids, rewritten references, search."""

from __future__ import annotations

from datetime import date

import pytest

from service.demo.fixture_store import FixtureStore
from service.engine import evaluate
from service.fhir import build_records, load_path, resources_from_json
from tests.conftest import FIXTURES

TODAY = date(2026, 11, 21)


@pytest.fixture(scope="module")
def store() -> FixtureStore:
    return FixtureStore.from_dir(FIXTURES)


def test_every_fixture_patient_is_listed_once(store: FixtureStore) -> None:
    """A Patient search lists each fixture's patient exactly once."""
    page = store.search("Patient", {}, count=1000)
    assert sorted(p["id"] for p in page.matches) == store.scenarios()


def test_ids_are_prefixed_and_references_follow(store: FixtureStore) -> None:
    """Ids are prefixed with the scenario and references follow; the bare id is not found."""
    statement = store.read("MedicationStatement", "third-line-ms1")
    assert statement is not None
    assert statement["subject"] == {"reference": "Patient/third-line"}
    assert store.read("MedicationStatement", "ms1") is None


def test_urn_uuid_and_medication_references_are_rewritten(store: FixtureStore) -> None:
    """urn:uuid references are rewritten to Type/id references to the scenario's patient."""
    requests = store.search(
        "MedicationRequest", {"patient": ["medication-request-and-administration"]}
    )
    assert requests.total > 0
    for resource in requests.matches:
        assert resource["subject"]["reference"] == "Patient/medication-request-and-administration"
        assert "urn:uuid" not in str(resource)


@pytest.mark.parametrize(
    "scenario",
    [
        "third-line",
        "medication-reference",
        "medication-request-and-administration",
        "other-cancer-drug",
    ],
)
def test_store_resources_evaluate_like_the_fixture(store: FixtureStore, scenario: str) -> None:
    """Served through the store, a patient gives the same lines, platinum and options."""
    resources, warnings = load_path(FIXTURES / f"{scenario}.json")
    (direct,) = build_records(resources, warnings=warnings)
    served_resources, _ = resources_from_json(list(store.resources_of(scenario)))
    (served,) = build_records(served_resources)
    a, b = evaluate(direct, today=TODAY), evaluate(served, today=TODAY)
    assert [(x.agents, x.start, x.end) for x in a.lines] == [
        (x.agents, x.start, x.end) for x in b.lines
    ]
    assert (a.platinum, a.next_line, a.options, a.trials) == (
        b.platinum,
        b.next_line,
        b.options,
        b.trials,
    )


def test_search_by_subject_code_and_id_with_paging(store: FixtureStore) -> None:
    """Search by subject and code, by `_id`, and in pages that add up to the total."""
    found = store.search(
        "Observation", {"subject": ["Patient/third-line"], "code": ["http://loinc.org|97509-4"]}
    )
    assert found.total == 2
    first = store.search("MedicationStatement", {"patient": ["third-line"]}, offset=0, count=3)
    rest = store.search("MedicationStatement", {"patient": ["third-line"]}, offset=3, count=100)
    assert first.has_next and not rest.has_next
    assert len(first.matches) + len(rest.matches) == first.total
    one = store.search("Condition", {"_id": ["third-line-c1"]})
    assert [c["id"] for c in one.matches] == ["third-line-c1"]
