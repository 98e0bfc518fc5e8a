"""Reading an export folder: manifest or file names, and chunks that cover every line once."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from service.errors import InputError
from service.screen.export import Chunk, chunk_lines, read_export, type_from_name
from tests.screen.conftest import read_lines


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("Observation.003.ndjson.gz", "Observation"),
        ("1.Patient.ndjson", "Patient"),
        ("output_MedicationRequest_2.ndjson", "MedicationRequest"),
        ("Condition.ndjson", "Condition"),
        ("data.ndjson", None),
        ("42.ndjson.gz", None),
    ],
)
def test_the_type_of_a_file_comes_from_its_name(name: str, kind: str | None) -> None:
    """The first capitalised word of the name is its resource type; none: unknown."""
    assert type_from_name(name) == kind


def test_a_manifest_and_the_plain_folder_give_the_same_files(
    population: Path, tmp_path: Path
) -> None:
    """With or without manifest.json: the same files, in path order, the same types."""
    with_manifest = read_export(population)
    bare = tmp_path / "bare"
    bare.mkdir()
    for file in with_manifest.files:
        (bare / file.path.name).write_bytes(file.path.read_bytes())
    without = read_export(bare)
    assert [(f.path.name, f.type) for f in without.files] == [
        (f.path.name, f.type) for f in with_manifest.files
    ]
    assert with_manifest.transaction_time == "2026-11-21T00:00:00Z"
    assert without.transaction_time is None


def test_chunks_of_a_plain_file_cover_each_line_once_in_order(plain_population: Path) -> None:
    """Byte-range chunks start and end on line boundaries: together, the file's lines."""
    export = read_export(plain_population)
    chunks = export.chunks(block=10_000)
    observations = [c for c in chunks if c.type == "Observation"]
    assert len(observations) > 10
    lines = [line.decode() for c in observations for _, line in chunk_lines(c)]
    assert lines == read_lines(Path(observations[0].path))
    assert [c.number for c in chunks] == list(range(len(chunks)))


def test_a_gzip_file_is_one_chunk(population: Path) -> None:
    """gzip cannot be entered in the middle: each compressed file is read whole."""
    export = read_export(population)
    chunks = export.chunks(block=1)
    assert len(chunks) == len(export.files)
    assert all(c.compressed and c.end is None for c in chunks)


def test_a_manifest_naming_a_file_outside_the_folder_is_refused(tmp_path: Path) -> None:
    """An output url cannot lead out of the export folder."""
    (tmp_path / "manifest.json").write_text(
        json.dumps({"output": [{"type": "Patient", "url": "../../etc/passwd.ndjson"}]})
    )
    with pytest.raises(InputError, match="not in"):
        read_export(tmp_path)


def test_an_absolute_output_url_is_found_by_its_file_name(tmp_path: Path) -> None:
    """A server's manifest kept beside its downloaded files: URLs map to file names."""
    (tmp_path / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"a"}\n')
    (tmp_path / "manifest.json").write_text(
        json.dumps({"output": [{"type": "Patient", "url": "https://x.org/files/Patient.ndjson"}]})
    )
    (only,) = read_export(tmp_path).files
    assert (only.path.name, only.type) == ("Patient.ndjson", "Patient")


@pytest.mark.parametrize(
    ("setup", "reason"),
    [
        (lambda d: None, "holds no manifest"),
        (lambda d: (d / "manifest.json").write_text("{"), "cannot read"),
        (lambda d: (d / "manifest.json").write_text("{}"), "not a Bulk Data manifest"),
    ],
)
def test_an_unusable_export_is_an_input_error(tmp_path: Path, setup: object, reason: str) -> None:
    """No files, a manifest that is not JSON or not a manifest: one-line InputError."""
    setup(tmp_path)  # type: ignore[operator]
    with pytest.raises(InputError, match=reason):
        read_export(tmp_path)


def test_a_corrupt_gzip_file_is_an_input_error(tmp_path: Path) -> None:
    """A broken download reads as an InputError naming the file, not a traceback."""
    path = tmp_path / "Condition.ndjson.gz"
    path.write_bytes(gzip.compress(b'{"resourceType":"Condition"}\n' * 100)[:60])
    with pytest.raises(InputError, match="Condition.ndjson.gz"):
        list(chunk_lines(Chunk(0, str(path), "Condition", compressed=True)))
