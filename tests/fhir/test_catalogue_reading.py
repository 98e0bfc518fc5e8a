"""Real records naming their drugs the v3 ways (CLINICAL_RULES §3): the cisplatin and
etoposide orders of an outside Synthea patient, recoded by NDC, ATC, foreign spelling or
abbreviation, read as the RxNorm originals; and records that look like chemotherapy read
(and withheld from) alike on the reader's fast and full paths."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from service.engine import evaluate
from service.fhir import RawResource, build_records, load_path
from service.fhir.relevance import drug_record_matters
from tests.conftest import FIXTURES
from tests.perf.test_medication_references import _json

TODAY = date(2026, 11, 21)
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
NDC = "http://hl7.org/fhir/sid/ndc"
ATC = "http://www.whocc.no/atc"
CISPLATIN, ETOPOSIDE = "1736854", "1734340"  # the RxNorm codes of the Synthea orders
# Per RxNorm code: NDCs of the catalogue in the forms records write (CMS ASP crosswalk).
NDCS = {
    CISPLATIN: ["0703-5747-11", "00703574711", "16729-288-11", "63323-103-51"],
    ETOPOSIDE: ["63323-104-05", "00143951001", "16729-114-08", "68001-265-25"],
}
ATCS = {CISPLATIN: ("L01XA01", "Cisplatin"), ETOPOSIDE: ("L01CB01", "Etoposid")}
SPELLINGS = {CISPLATIN: ["Cisplatino 50 mg", "Cisplatine"], ETOPOSIDE: ["Etopósido", "Étoposide"]}
ABBREVIATIONS = {CISPLATIN: ["CDDP", "cis 75 mg/m2"], ETOPOSIDE: ["VP-16", "etop 100"]}


def _sherman(external_fhir: Path) -> list[RawResource]:
    (path,) = (external_fhir / "synthea-r4").glob("Sherman_McGlynn_*.json")
    resources, _ = load_path(path)
    return resources


def _recoded(
    resources: list[RawResource], concept: Callable[[str, int], dict[str, Any]]
) -> list[RawResource]:
    """The resources with each cisplatin / etoposide order's concept replaced by
    `concept(rxnorm code, how many such orders came before)`: no RxNorm code is left."""
    seen: dict[str, itertools.count[int]] = {}
    found = []
    for raw in resources:
        resource = raw.resource
        codings = resource.get("medicationCodeableConcept", {}).get("coding", [])
        code = next((c["code"] for c in codings if c["code"] in NDCS), None)
        if code is not None:
            resource = copy.deepcopy(resource)
            number = next(seen.setdefault(code, itertools.count()))
            resource["medicationCodeableConcept"] = concept(code, number)
        found.append(RawResource(resource, full_url=raw.full_url))
    assert set(seen) == set(NDCS)
    return found


def _ndc(code: str, number: int) -> dict[str, Any]:
    return {"coding": [{"system": NDC, "code": NDCS[code][number % 4]}]}


def _atc(code: str, number: int) -> dict[str, Any]:
    atc, display = ATCS[code]
    return {"coding": [{"system": ATC, "code": atc, "display": display}]}


def _spelling(code: str, number: int) -> dict[str, Any]:
    return {"text": SPELLINGS[code][number % 2]}


def _abbreviation(code: str, number: int) -> dict[str, Any]:
    return {"text": ABBREVIATIONS[code][number % 2]}


def _lines(resources: list[RawResource], *, full: bool = False) -> list[Any]:
    (record,) = build_records(resources, today=TODAY, full_validation=full)
    result = evaluate(record, today=TODAY)
    return [(line.agents, line.start, line.end, len(line.sources)) for line in result.lines]


@pytest.mark.parametrize(
    "concept", [_ndc, _atc, _spelling, _abbreviation], ids=lambda f: f.__name__
)
def test_recoded_outside_orders_give_the_same_line(
    external_fhir: Path, concept: Callable[[str, int], dict[str, Any]]
) -> None:
    """Sherman McGlynn's 45 + 45 orders, recoded: the one cisplatin + etoposide line of the
    RxNorm originals, on both reading paths."""
    original = _sherman(external_fhir)
    expected = [(("cisplatin", "etoposide"), date(2009, 8, 1), date(2012, 7, 15), 90)]
    assert _lines(original) == expected
    recoded = _recoded(original, concept)
    assert _lines(recoded) == expected
    assert _lines(recoded, full=True) == expected


def test_no_outside_record_carries_an_ndc(external_fhir: Path) -> None:
    """Why the NDCs come from a public listing: the outside data has none (§3 v3)."""
    text = "".join(p.read_text("utf-8") for p in external_fhir.rglob("*.json"))
    assert NDC not in text and "2.16.840.1.113883.6.69" not in text


# --- records that look like chemotherapy, through the reader --------------------------

LOOKS_LIKE = [
    {"text": "Chemotherapy order set"},
    {"text": "Investigational agent 100 mg/m2 IV"},
    {"text": "Study drug C1D1"},
    {"text": "FOLFOX"},
    {"coding": [{"system": ATC, "code": "L01EA01", "display": "Imatinib"}]},
]
SILENT = [{"text": "ondansetron 8 mg before chemo"}, {"text": "metformin"}]


def _request(concept: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "rx9",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/third-line"},
        "medicationCodeableConcept": concept,
        "authoredOn": "2026-10-01",
    }


@pytest.mark.parametrize("concept", LOOKS_LIKE + SILENT, ids=str)
def test_fast_and_full_paths_agree_on_records_that_look_like_chemotherapy(
    concept: dict[str, Any],
) -> None:
    """The fast path reads such a record (it matters) and evaluates as the full path."""
    raw, _ = load_path(FIXTURES / "third-line.json")
    resources = [*raw, RawResource(_request(concept))]
    matters = drug_record_matters(
        "MedicationRequest", _request(concept), readings=[lambda reference: None]
    )
    assert matters is (concept in LOOKS_LIKE)
    fast, full = (_json(resources, "third-line", full_validation=f) for f in (False, True))
    assert fast == full
    named = any(w.startswith("MedicationRequest/rx9:") for w in fast["warnings"])
    assert named is (concept in LOOKS_LIKE)
