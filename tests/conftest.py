"""Shared fixtures: where the repository, its fixtures and ../shared are, and writable
copies of the knowledge base (`copy`, with `edit` and `rejected`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.knowledge import KnowledgeError, knowledge_files, load_knowledge_from

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fhir_fixtures"
EXPECTED = ROOT / "tests" / "expected"
SHARED = ROOT.parent / "shared"


@pytest.fixture
def external_fhir() -> Path:
    """../shared/external_fhir, or a skip saying why it is missing."""
    folder = SHARED / "external_fhir"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent: the outside FHIR data lives beside the project root")
    return folder


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge base's data files (cards/)."""
    target = tmp_path / "cards"
    target.mkdir()
    for path in knowledge_files().iterdir():
        if path.name.endswith(".toml"):
            (target / path.name).write_bytes(path.read_bytes())
    return target


def edit(path: Path, old: str, new: str) -> None:
    """Replace the first `old` in the file with `new`; `old` must be there."""
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def rejected(directory: Path) -> KnowledgeError:
    """The error loading the knowledge base of `directory` fails with."""
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge_from(directory)
    return caught.value
