"""One settings object (service.settings): the app and the CLI read the same values, and
the README's configuration table lists exactly the variables the code reads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from service.cli import main
from service.http.factory import create_app
from service.http.state import EXTENSION
from service.settings import VARIABLES, Settings, load_config
from tests.conftest import FIXTURES

README = Path(__file__).resolve().parents[1] / "README.md"
ROW = re.compile(r"^\| `(SCLC_CDS_[A-Z_<>]+)` \|", re.MULTILINE)


def test_the_readme_table_lists_every_variable_the_code_reads() -> None:
    """Adding a setting without documenting it (or the reverse) fails here."""
    assert sorted(ROW.findall(README.read_text())) == sorted(VARIABLES)


def test_environment_values_are_json_decoded_like_flask_does() -> None:
    """`true`, numbers and lists parse as JSON; anything else stays a string."""
    config = load_config(
        {"SCLC_CDS_JWT_REQUIRED": "true", "SCLC_CDS_FHIR_PAGE_CAP": "7", "SCLC_CDS_TODAY": "x"},
        {"FHIR_PAGE_CAP": 9},
    )
    assert (config["JWT_REQUIRED"], config["FHIR_PAGE_CAP"], config["TODAY"]) == (True, 9, "x")
    assert "OTHER" not in load_config({"OTHER_VARIABLE": "1"})


def test_the_app_and_the_cli_read_the_same_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """SCLC_CDS_TODAY and a threshold reach the app's settings and the CLI's evaluation."""
    monkeypatch.setenv("SCLC_CDS_TODAY", "2026-11-21")
    monkeypatch.setenv("SCLC_CDS_THRESHOLD_RECHALLENGE_WINDOW_DAYS", "300")
    monkeypatch.setenv("SCLC_CDS_FEEDBACK_DB", str(tmp_path / "f.sqlite3"))
    from_app: Settings = create_app().extensions[EXTENSION].settings
    direct = Settings.from_env(dict(__import__("os").environ))
    assert (from_app.today, from_app.thresholds) == (direct.today, direct.thresholds)
    assert direct.thresholds.rechallenge_window_days == 300
    # sensitive-late-relapse: 287 days, in the default window, not in a 300-day one.
    assert main(["evaluate", str(FIXTURES / "sensitive-late-relapse.json")]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["platinum"]["interval_days"] == 287
    assert evaluation["platinum"]["rechallenge_window"] is False


def test_a_bad_threshold_is_refused_naming_the_variable() -> None:
    """A threshold that is not an integer is refused, naming its SCLC_CDS_ variable."""
    with pytest.raises(ValueError, match="SCLC_CDS_THRESHOLD_SENSITIVE_DAYS must be a int"):
        Settings.from_env({"SCLC_CDS_THRESHOLD_SENSITIVE_DAYS": "ninety"})
