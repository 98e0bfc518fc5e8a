"""The HTML report: self-contained, its funnel adds up, its text is plain and escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from distributed import Client

from service.engine.model import RecordIssue
from service.engine.rules import TRIAL_ID
from service.engine.trials import criterion_names
from service.screen import report
from service.screen.export import read_export
from service.screen.plan import ScreenResult, Stats, screen
from service.screen.report import check_kinds, funnel_steps, plain, render_report
from tests.screen.conftest import OPTIONS, TODAY


@pytest.fixture(scope="module")
def result(
    population: Path, client: Client, tmp_path_factory: pytest.TempPathFactory
) -> ScreenResult:
    """The screen of the session's population."""
    work = tmp_path_factory.mktemp("report")
    return screen(read_export(population), client=client, options=OPTIONS, workdir=work)


def test_the_report_fetches_nothing_from_anywhere(result: ScreenResult) -> None:
    """No script, stylesheet link, image source or url(): the pictures are inline SVG."""
    page = render_report(result)
    assert page.count("<svg") == 4
    assert not re.search(r"<script|<link|<img|\bsrc=|url\((?!#)", page, re.IGNORECASE)
    links = re.findall(r"href=\"([^\"]*)\"", page)
    assert all(link.startswith("#") for link in links), links
    assert "<metadata" not in page


def test_the_report_is_the_same_bytes_for_the_same_result(result: ScreenResult) -> None:
    """No date, timing or random id in the page."""
    assert render_report(result) == render_report(result)


def test_the_funnel_narrows_criterion_by_criterion_to_the_possible_candidates(
    result: ScreenResult,
) -> None:
    """The funnel starts with every pre-screened patient, never widens, and ends with
    those the pre-screen calls eligible (all met) or possibly eligible (some unknown)."""
    steps = funnel_steps(result.rows)
    assert [name for name, _, _ in steps] == ["pre-screened", *criterion_names()]
    totals = [met + unknown for _, met, unknown in steps]
    assert totals == sorted(totals, reverse=True)
    assert totals[0] == sum(r.trial == TRIAL_ID for r in result.rows) > 0
    _, met, unknown = steps[-1]
    assert met == sum(r.trial_verdict == "eligible" for r in result.rows)
    assert unknown == sum(r.trial_verdict == "possibly-eligible" for r in result.rows)


def test_check_items_are_shown_as_plain_text_and_grouped_by_kind(result: ScreenResult) -> None:
    """Markdown escapes are undone for the page; kinds mask records, dates and numbers."""
    assert plain(r"MedicationStatement/p1\-ms9: no usable date \(estimated\)") == (
        "MedicationStatement/p1-ms9: no usable date (estimated)"
    )
    kinds = check_kinds(result.checks)
    assert kinds and all("/p0" not in kind for kind, _ in kinds)
    assert sum(count for _, count in kinds) >= len(result.checks)
    page = render_report(result)
    pid, items = result.checks[0]
    assert pid in page and "\\-" not in page.split("Records to fix")[-1]
    assert len(items) >= 1


def _result_with(warning: str) -> ScreenResult:
    """A screen result of one patient whose record check reads `warning`."""
    stats = Stats(
        files=1,
        skipped_types=(),
        chunks=1,
        lines=1,
        patients=1,
        candidates=1,
        sclc=0,
        not_sclc=0,
        no_patient=0,
        unreadable=0,
    )
    issue = RecordIssue(kind="warning", records=("Observation/o1",), warning=warning)
    return ScreenResult(rows=(), stats=stats, today=TODAY, checks=(("p1", (issue,)),))


def test_a_dollar_in_record_text_is_drawn_as_text() -> None:
    """`$…$` is not mathtext: a record's words reach the picture as they are written."""
    text = r"dose written as $\frac{$ and $^$ by hand"
    page = render_report(_result_with(text))
    assert page.count("<svg") == 4
    section = page.split("<h2>Records to fix</h2>")[1]
    assert f">{text}</text>" in section  # the picture's label
    assert f"<li>{text}</li>" in section  # the table


def test_a_picture_that_fails_leaves_the_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report is still written, with a note where the picture would be."""

    def broken(*args: object) -> str:
        raise RuntimeError("Patient p1 broke it")

    monkeypatch.setattr(report, "records_picture", broken)
    page = render_report(_result_with("no usable date"))
    assert "This picture could not be drawn (RuntimeError)" in page
    assert "p1 broke it" not in page
    assert "<td>p1</td>" in page and page.count("<svg") == 3
