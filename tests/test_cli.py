"""`sclc-cds evaluate`: the console script, its JSON and its exit codes (CONTRACT.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main

# The evaluation JSON keys of CONTRACT.md, key for key.
TOP_KEYS = {
    "patient",
    "diagnosis",
    "lines",
    "progression",
    "platinum",
    "next_line",
    "options",
    "trials",
    "cards",
    "warnings",
}
LINE_KEYS = {"number", "agents", "maintenance_agents", "start", "end", "ongoing", "sources"}
PLATINUM_KEYS = {
    "last_dose",
    "interval_days",
    "sensitivity",
    "rechallenge_window",
    "estimated",
    "days_since_last_platinum",
}

BUNDLE = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {"resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1962-03-04"}},
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c1",
                "clinicalStatus": {"coding": [{"code": "active"}]},
                "code": {"text": "Small cell lung cancer"},
                "stage": [{"summary": {"text": "Extensive stage"}}],
                "onsetDateTime": "2025-01-02",
                "subject": {"reference": "Patient/p1"},
            }
        },
        {
            "resource": {
                "resourceType": "MedicationStatement",
                "id": "ms1",
                "status": "completed",
                "medicationCodeableConcept": {"text": "Carboplatin"},
                "effectivePeriod": {"start": "2025-01-06", "end": "2025-03-10"},
                "subject": {"reference": "Patient/p1"},
            }
        },
        {
            "resource": {
                "resourceType": "Condition",
                "id": "c2",
                "clinicalStatus": {"coding": [{"code": "recurrence"}]},
                "code": {"text": "Small cell lung cancer"},
                "onsetDateTime": "2025-10-15",
                "subject": {"reference": "Patient/p1"},
            }
        },
    ],
}


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(BUNDLE))
    return path


def test_console_script_prints_the_contract_json(bundle: Path) -> None:
    """The installed `sclc-cds` prints every contract key; 219 days = Mar 10 -> Oct 15."""
    exe = shutil.which("sclc-cds", path=str(Path(sys.executable).parent))
    assert exe, "sclc-cds console script is not installed"
    done = subprocess.run(
        [exe, "evaluate", str(bundle), "--today", "2025-11-21"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result) == TOP_KEYS
    assert set(result["lines"][0]) == LINE_KEYS
    assert set(result["platinum"]) == PLATINUM_KEYS
    assert set(result["progression"]) == {"date", "source", "estimated"}
    assert result["patient"] == {"id": "p1", "age": 63, "deceased": False}
    assert result["diagnosis"] == {
        "sclc": True,
        "stage": "extensive",
        "condition": "Condition/c1",
        "diagnosed": "2025-01-02",
    }
    assert result["platinum"]["interval_days"] == 219
    assert result["platinum"]["days_since_last_platinum"] == 256  # Mar 10 -> Nov 21
    assert result["next_line"] == 2
    assert {"id": "platinum-rechallenge", "status": "recommended"} in result["options"]
    assert set(result["trials"]) == set()  # one prior line: the trial is left out


def test_today_defaults_to_the_current_date(
    bundle: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --today, evaluate counts the days up to the current date."""
    assert main(["evaluate", str(bundle)]) == 0
    assert json.loads(capsys.readouterr().out)["platinum"]["days_since_last_platinum"] > 256


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["evaluate", "/nonexistent/x.json"], "no such file"),
        (["evaluate", "BUNDLE", "--today", "21/11/2025"], "not a date"),
        (["evaluate", "NOTJSON"], "is not JSON"),
        (["evaluate", "NOPATIENT"], "no Patient"),
        (["evaluate", "BUNDLE", "--patient", "zz"], "no Patient with id"),
    ],
)
def test_unusable_input_exits_2_with_one_line(
    tmp_path: Path, bundle: Path, capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    """Unusable input (no file, bad date, not JSON, no Patient): exit 2, one line on stderr."""
    (tmp_path / "bad.json").write_text("{]")
    (tmp_path / "empty.json").write_text(
        json.dumps({"resourceType": "Bundle", "type": "collection"})
    )
    names = {
        "BUNDLE": str(bundle),
        "NOTJSON": str(tmp_path / "bad.json"),
        "NOPATIENT": str(tmp_path / "empty.json"),
    }
    argv = [names.get(a, a) for a in args]
    assert exit_code(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and reason in err


def exit_code(argv: list[str]) -> int | str | None:
    """main's return value, or the code of the SystemExit argparse raises."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


def test_patient_names_the_one_evaluated_and_drops_other_patients_records(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CLINICAL_RULES §1: `--patient p1` on a file that also holds Patient p2 and p2's
    drug record: p1 alone is evaluated, p2's record is dropped with a warning; without
    `--patient` each Patient is evaluated on its own records."""
    doc = json.loads(json.dumps(BUNDLE))
    foreign = {
        "resourceType": "MedicationStatement",
        "id": "theirs",
        "status": "completed",
        "subject": {"reference": "Patient/p2"},
        "medicationCodeableConcept": {"text": "topotecan"},
        "effectiveDateTime": "2025-10-20",
    }
    doc["entry"] += [
        {"resource": {"resourceType": "Patient", "id": "p2", "birthDate": "1950-01-01"}},
        {"resource": foreign},
    ]
    path = tmp_path / "two.json"
    path.write_text(json.dumps(doc))
    assert main(["evaluate", str(path), "--today", "2025-11-21", "--patient", "p1"]) == 0
    chosen = json.loads(capsys.readouterr().out)
    assert chosen["patient"]["id"] == "p1"
    assert len(chosen["lines"]) == 1
    assert "MedicationStatement/theirs: belongs to another patient; skipped" in chosen["warnings"]
    assert main(["evaluate", str(path), "--today", "2025-11-21"]) == 0
    both = json.loads(capsys.readouterr().out)
    assert [e["patient"]["id"] for e in both] == ["p1", "p2"]


def test_fixtures_where_the_demo_is_left_out_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the demo (the production image), `sclc-cds fixtures` exits 2 naming why."""
    monkeypatch.setattr("service.cli.demo_installed", lambda: False)
    assert main(["fixtures", "new", "someone"]) == 2
    assert "part of the demo, which this installation leaves out" in capsys.readouterr().err


def test_screen_without_its_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the screen extra's packages, `sclc-cds screen` exits 2 with the pip line."""
    monkeypatch.setitem(sys.modules, "service.screen.plan", None)  # as if Dask were absent
    assert main(["screen", str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    assert "pip install 'sclc-relapse-cds[screen]'" in capsys.readouterr().err
