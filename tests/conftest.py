"""Shared fixtures: where the repository, its fixtures and ../shared are."""

from __future__ import annotations

from pathlib import Path

import pytest

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
