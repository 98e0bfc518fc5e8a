"""Records that name no agent but look like chemotherapy (CLINICAL_RULES §1 v3): they are
unidentified, counted as possibly received for every drug option and named; named
non-cancer and supportive drugs stay ignored without a word."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from service.engine import evaluate
from service.engine.catalogue import load_catalogue
from service.engine.model import Evaluation
from service.engine.record import Code, MedicationFact
from tests.builders import cycles, given, record, worsened

TODAY = date(2026, 11, 21)
ATC = "http://www.whocc.no/atc"
LOCAL = "http://hospital.example.org/orders"
# Only these two options contain no drug: what an unidentified record leaves (decisions.md).
DRUG_FREE = ["palliative-radiotherapy", "clinical-trial"]


def _evaluate(*extra: MedicationFact) -> Evaluation:
    """Carboplatin + etoposide x4 from 2025-01-06, progression 2025-09-01, and `extra`."""
    first = [*cycles("carboplatin", "2025-01-06", 4), *cycles("etoposide", "2025-01-06", 4)]
    return evaluate(record(*first, *extra, observations=(worsened("2025-09-01"),)), today=TODAY)


def _record(text: str | None = None, *codes: Code) -> MedicationFact:
    drug = given(text or "", "2025-06-02", kind="MedicationRequest", ref="MedicationRequest/rx9")
    return replace(drug, codes=codes, texts=(text,) if text else (), status="active")


def test_the_first_line_alone_offers_drug_options() -> None:
    """The base record: second line, with drug options (so withholding them shows)."""
    result = _evaluate()
    assert "topotecan" in [o.id for o in result.options]
    assert result.warnings == ()


@pytest.mark.parametrize(
    ("medication", "sign"),
    [
        (_record(None, Code(ATC, "L01EA01")), "ATC L01EA01, an antineoplastic agent"),
        (_record("Study drug", Code(ATC, "L01XX99", "Study drug")), "ATC L01XX99"),
        (_record("Chemotherapy order set"), "the word chemo"),
        (_record("chemo per protocol", Code(LOCAL, "4711")), "the word chemo"),
        (_record("Concurrent chemoradiation"), "the word chemo"),
        (_record("Study drug AUC5 day 1"), "AUC dosing"),
        (_record("Investigational agent 100 mg/m2 IV"), "mg/m2 dosing"),
        (_record("Investigational agent 100 mg/m² IV"), "mg/m2 dosing"),
        (_record("Study drug C1D1"), "a cycle day (C1D1)"),
        (_record("Study drug cycle 1 day 8"), "a numbered cycle"),
        (_record("FOLFOX"), "the regimen FOLFOX"),
        (_record("mFOLFOX6 q2w"), "the regimen mFOLFOX6"),
        (_record("CAV for relapse"), "the regimen CAV"),
        (_record("R-CHOP"), "the regimen R-CHOP"),
    ],
)
def test_a_record_that_looks_like_chemotherapy_is_unidentified(
    medication: MedicationFact, sign: str
) -> None:
    """Each trigger: possibly received for every drug option, named with the reason."""
    result = _evaluate(medication)
    assert [o.id for o in result.options] == DRUG_FREE
    (warning,) = [w for w in result.warnings if w.startswith("MedicationRequest/rx9")]
    assert "looks like anticancer therapy" in warning
    assert sign in warning
    assert warning.endswith("counted as possibly received")
    withheld = {w.option: w.sources for w in result.withheld}
    assert withheld["topotecan"] == ("MedicationRequest/rx9",)


@pytest.mark.parametrize(
    "text",
    [
        "ondansetron",
        "Ondansetron 8 mg IV 30 min before chemo",  # a supportive drug of the catalogue
        "Dexamethasone 12 mg premedication, cycle 1",
        "Leucovorin 400 mg/m2 IV",
        "Heparin 500 units chemo port flush",  # a port is no chemotherapy
        "metformin 500 mg",
        "Ortho Tri-Cyclen 28 Day Pack",
        "Aspirin EC 81 mg",
    ],
)
def test_named_non_cancer_and_supportive_drugs_stay_silent(text: str) -> None:
    """Nothing that names no anticancer drug and looks like none changes what is shown."""
    result = _evaluate(_record(text))
    assert "topotecan" in [o.id for o in result.options]
    assert result.warnings == ()


def test_a_bare_unknown_code_keeps_its_v2_warning() -> None:
    """A bare code (no text, not ATC L01) is unidentified as in v2, worded as in v2."""
    result = _evaluate(_record(None, Code(LOCAL, "4711")))
    assert [o.id for o in result.options] == DRUG_FREE
    assert (
        f"MedicationRequest/rx9: unidentified medication ({LOCAL} 4711); if this is an "
        "anticancer drug, the line count may be wrong"
    ) in result.warnings


def test_an_agent_named_beside_a_trigger_is_an_exposure_not_an_unidentified_record() -> None:
    """'Chemo: topotecan 1.5 mg/m2' names topotecan: a line, no possibly received."""
    result = _evaluate(replace(_record("Chemo: topotecan 1.5 mg/m2"), start=date(2025, 9, 15)))
    assert [line.agents for line in result.lines] == [("carboplatin", "etoposide"), ("topotecan",)]
    assert not result.withheld


def test_the_catalogue_says_why_and_none_for_plain_drugs() -> None:
    """`looks_like_chemotherapy` is the one test both the engine and the reader use."""
    catalogue = load_catalogue()
    assert catalogue.looks_like_chemotherapy((), ("Chemotherapy order set",)) == "the word chemo"
    assert catalogue.looks_like_chemotherapy((Code(ATC, "L02BB04"),), ()) is None  # endocrine
    assert catalogue.looks_like_chemotherapy((), ("PCV20 vaccine", "take AC")) is None
