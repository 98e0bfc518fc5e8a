"""`python -m tools.check_knowledge`: its output and exit codes (the checks: test_knowledge)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from service.knowledge import DOCUMENTS, load_knowledge
from tools.check_knowledge import DEFAULT_DOCS, check_wording, main

needs_docs = pytest.mark.skipif(
    not DEFAULT_DOCS.is_dir(), reason=f"source documents not found at {DEFAULT_DOCS}"
)


@needs_docs
def test_the_shipped_knowledge_passes_with_one_ok_line(capsys: pytest.CaptureFixture[str]) -> None:
    """Against ../shared/docs the check exits 0 and prints a single "ok" summary."""
    assert 0 == main([])
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith("ok: ") and line.endswith(f" documents in {DEFAULT_DOCS}"), line
    assert " and 5 sources checked against 5 documents" in line


@needs_docs
def test_a_figure_missing_from_its_document_is_printed_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A document that no longer states a quoted figure makes a problem line and exit 1."""
    for name in DOCUMENTS:
        shutil.copy(DEFAULT_DOCS / name, tmp_path / name)
    d003 = tmp_path / DOCUMENTS[3]
    d003.write_text(d003.read_text("utf-8").replace("35.2%", "(removed)"), "utf-8")
    assert 1 == main(["--docs", str(tmp_path)])
    assert [
        f"option lurbinectedin (option-lurbinectedin.toml): evidence[0] number '35.2%' "
        f"not found in {DOCUMENTS[3]}",
        f"option lurbinectedin (option-lurbinectedin.toml): key_figure states '35.2', "
        f"not found in {DOCUMENTS[3]}",
    ] == capsys.readouterr().out.splitlines()


@needs_docs
def test_a_source_date_missing_from_its_document_is_printed_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A document whose revision date is gone no longer backs its source's date: exit 1."""
    for name in DOCUMENTS:
        shutil.copy(DEFAULT_DOCS / name, tmp_path / name)
    d002 = tmp_path / DOCUMENTS[2]
    d002.write_text(d002.read_text("utf-8").replace("December 6, 2024", "(removed)"), "utf-8")
    assert 1 == main(["--docs", str(tmp_path)])
    assert [
        f"source acs-2024-immunotherapy (sources.toml): date '2024-12-06' "
        f"not found in {DOCUMENTS[2]}"
    ] == capsys.readouterr().out.splitlines()


def test_a_docs_folder_that_does_not_exist_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--docs naming no folder exits 2 with one line saying so, rather than passing."""
    with pytest.raises(SystemExit) as stop:
        main(["--docs", str(tmp_path / "absent")])
    assert 2 == stop.value.code
    assert f"--docs: {tmp_path / 'absent'} is not a folder" in capsys.readouterr().err


@needs_docs
def test_a_figure_the_wording_states_must_occur_in_a_document() -> None:
    """The shipped wording's figures ("ECOG 0–1") are in the documents; a made-up one is
    reported, while the values a template fills in are not figures it states."""
    wording = load_knowledge().wording
    assert [] == check_wording(wording, DEFAULT_DOCS)
    patient = wording.patient.model_copy(
        update={"poor_performance": "{reading}: the studies enrolled ECOG 0–7 in 20191 sites."}
    )
    changed = wording.model_copy(update={"patient": patient})
    assert [
        "wording (wording.toml): patient.poor_performance states '20191', "
        "found in no cited document"
    ] == check_wording(changed, DEFAULT_DOCS)
