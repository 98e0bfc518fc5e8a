"""`sclc-cds evaluate` gives patient-view's cards; `sclc-cds serve` refuses bad settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from service.cli import main
from tests.conftest import FIXTURES
from tests.http.support import (
    SCENARIOS,
    SERVICE_IDS,
    TODAY,
    CheckedClient,
    fixture_bundle,
    hook_request,
)

PATIENT_VIEW = f"/cds-services/{SERVICE_IDS['patient-view']}"


@pytest.fixture(autouse=True)
def _same_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's card links point where the Flask test client's do."""
    monkeypatch.setenv("SCLC_CDS_BASE_URL", "http://localhost")


def evaluate(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    """The CLI's evaluation JSON; its card links point where the test client's do."""
    capsys.readouterr()
    assert main(["evaluate", *args]) == 0
    return dict(json.loads(capsys.readouterr().out))


# The CLI reads this file whole, with a record of another patient in it (dropped with a
# warning); a client's prefetch, searched by patient, never carries that record.
OTHER_PATIENTS_IN_FILE = {"other-patient-records"}


@pytest.mark.parametrize("scenario", sorted(set(SCENARIOS) - OTHER_PATIENTS_IN_FILE))
def test_evaluate_cards_are_the_patient_view_cards(
    client: CheckedClient, capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    """CONTRACT: `cards` are exactly patient-view's for the same data, uuids included.

    The service reads the fixture as a client would prefetch it, key by key; the CLI
    reads the file whole.
    """
    cli = evaluate(capsys, str(FIXTURES / f"{scenario}.json"), "--today", TODAY)
    served = client.post(PATIENT_VIEW, json=hook_request(bundle=fixture_bundle(scenario)))
    assert served.status_code == 200
    assert cli["cards"] == served.json["cards"]


def test_evaluate_reads_a_cds_hooks_request_like_the_service(
    client: CheckedClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A request JSON given to the CLI yields the cards the service answers to it."""
    request = hook_request()
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    cli = evaluate(capsys, str(path), "--today", TODAY)
    assert cli["cards"] == client.post(PATIENT_VIEW, json=request).json["cards"]


def test_evaluate_defaults_to_the_service_evaluation_date(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --today, SCLC_CDS_TODAY is the date, as for the service."""
    fixture = str(FIXTURES / "sensitive-late-relapse.json")
    monkeypatch.setenv("SCLC_CDS_TODAY", TODAY)
    by_variable = evaluate(capsys, fixture)
    by_option = evaluate(capsys, fixture, "--today", TODAY)
    assert by_variable == by_option
    assert by_variable["platinum"]["days_since_last_platinum"] == 320


def test_evaluate_rejects_a_bad_date_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A malformed SCLC_CDS_TODAY: exit 2 with a one-line reason naming it."""
    monkeypatch.setenv("SCLC_CDS_TODAY", "next week")
    assert main(["evaluate", str(FIXTURES / "nsclc.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "SCLC_CDS_TODAY" in err


def test_serve_with_a_bad_setting_exits_2_before_serving(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad SCLC_CDS_* value stops `serve` with one line and exit 2 (gunicorn never starts)."""
    monkeypatch.setenv("SCLC_CDS_MAX_BODY_BYTES", "lots")
    assert main(["serve", "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert err == "sclc-cds: SCLC_CDS_MAX_BODY_BYTES must be a positive int\n"


def test_serve_takes_host_and_port(capsys: pytest.CaptureFixture[str]) -> None:
    """`sclc-cds serve --help` documents --host and --port."""
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "--host" in out and "--port" in out
