"""Every file of ../shared/external_fhir/ gives the result its README states."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main

TODAY = "2026-11-21"


def run(capsys: pytest.CaptureFixture[str], path: Path) -> Any:
    code = main(["evaluate", str(path), "--today", TODAY])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def only_sclc_fields(result: dict[str, Any]) -> tuple[Any, ...]:
    return (
        result["diagnosis"]["sclc"],
        [line["agents"] for line in result["lines"]],
        result["next_line"],
        result["options"],
        result["trials"],
        result["cards"],
    )


def test_sherman_mcglynn_one_limited_stage_cisplatin_etoposide_line(
    capsys: pytest.CaptureFixture[str], external_fhir: Path
) -> None:
    """Transaction bundle: 45 + 45 requests 2009-08-01 .. 2012-07-15, docetaxel 2003 left out."""
    (path,) = (external_fhir / "synthea-r4").glob("Sherman_McGlynn_*.json")
    result = run(capsys, path)
    assert result["diagnosis"]["stage"] == "limited"
    assert result["diagnosis"]["diagnosed"] == "2009-07-31"
    (line,) = result["lines"]
    assert line["agents"] == ["cisplatin", "etoposide"]
    assert (line["start"], line["end"], len(line["sources"])) == ("2009-08-01", "2012-07-15", 90)
    assert result["patient"]["deceased"] is True
    assert (result["next_line"], result["options"], result["trials"], result["cards"]) == (
        None,
        [],
        [],
        [],
    )


@pytest.mark.parametrize("name", ["Fletcher_Hyatt", "Bambi_Murray", "Ali_Herman", "Almeda_Conn"])
def test_synthea_patients_without_sclc_get_nothing(
    capsys: pytest.CaptureFixture[str], external_fhir: Path, name: str
) -> None:
    """Synthea R4 patients without SCLC: not SCLC, no lines, options, trials or cards."""
    (path,) = (external_fhir / "synthea-r4").glob(f"{name}_*.json")
    assert only_sclc_fields(run(capsys, path)) == (False, [], None, [], [], [])


@pytest.mark.parametrize(
    ("name", "first", "last", "deceased"),
    [
        ("Kuhic_Darnell_61.json", "2017-07-11", "2018-04-11", True),
        ("White_Carli_64.json", "2010-09-21", "2011-03-23", True),
    ],
)
def test_stu3_bundles_are_read_as_one_cisplatin_etoposide_line(
    capsys: pytest.CaptureFixture[str],
    external_fhir: Path,
    name: str,
    first: str,
    last: str,
    deceased: bool,
) -> None:
    """STU3 is upgraded; oxaliplatin for the colon cancer is not an SCLC line."""
    result = run(capsys, external_fhir / "synthea-stu3" / name)
    assert result["diagnosis"]["sclc"] is True and result["diagnosis"]["stage"] == "extensive"
    (line,) = result["lines"]
    assert (line["agents"], line["start"], line["end"]) == (["cisplatin", "etoposide"], first, last)
    assert result["patient"]["deceased"] is deceased
    assert result["cards"] == [] and result["options"] == []
    assert any("STU3" in w for w in result["warnings"])


def test_bulk_ndjson_ten_patients_none_with_sclc(
    capsys: pytest.CaptureFixture[str], external_fhir: Path
) -> None:
    """The Synthea bulk NDJSON export: at least ten patients, none with SCLC or anything shown."""
    results = run(capsys, external_fhir / "synthea-bulk-ndjson")
    assert len(results) >= 10
    assert all(only_sclc_fields(r) == (False, [], None, [], [], []) for r in results)


@pytest.mark.parametrize(
    "name",
    [
        "TrialMatching_Patient01.json",
        "TrialMatching_Patient02.json",
        "eom_patient_1.json",
        "patient_data.json",
        "patient_data_missing_birthdate_invalid_ecog_karnofsky.json",
        "patient_data_missing_histology_morph.json",
    ],
)
def test_mcode_breast_cancer_patients_are_not_sclc(
    capsys: pytest.CaptureFixture[str], external_fhir: Path, name: str
) -> None:
    """Including 'metastatic malignant neoplasm to lung' (94391008)."""
    result = run(capsys, external_fhir / "mcode-trial-matching" / name)
    assert only_sclc_fields(result) == (False, [], None, [], [], [])


def test_mcode_bundle_without_a_patient_is_a_clear_input_error(
    capsys: pytest.CaptureFixture[str], external_fhir: Path
) -> None:
    """patient_data_empty-cgv.json holds one Observation and no Patient: exit 2, one line."""
    code = main(
        ["evaluate", str(external_fhir / "mcode-trial-matching" / "patient_data_empty-cgv.json")]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "no Patient" in err


def test_mcode_stu1_loose_resources_are_read_as_not_sclc(
    capsys: pytest.CaptureFixture[str], external_fhir: Path
) -> None:
    """mCODE STU1 loose resources: both example patients are read, neither has SCLC."""
    results = run(capsys, external_fhir / "mcode-stu1-examples")
    assert [r["patient"]["id"] for r in results] == [
        "mCODEPatientExample01",
        "mCODEPatientExample02",
    ]
    assert all(only_sclc_fields(r) == (False, [], None, [], [], []) for r in results)
