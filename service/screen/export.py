"""A FHIR Bulk Data export on disk: its files, their resource types, and chunks of lines.

An export folder holds NDJSON files of one resource type each (`.ndjson`, or
gzip-compressed `.ndjson.gz`), usually with the `manifest.json` of the `$export` that
wrote them (Bulk Data Access IG, "Response - Complete Status"). With a manifest, its
`output` entries name the files and their types: an `url` is a path relative to the
manifest, or a URL whose last path segment is the file's name in the folder. Without
one, every `*.ndjson` and `*.ndjson.gz` below the folder is read, each file's type
taken from its name (`Observation.003.ndjson.gz`, `1.Patient.ndjson`): the first word
that starts with a capital letter; a file whose name has none is read whole.

Files are cut into chunks for the workers: a plain file into byte ranges that begin
and end on line boundaries, a compressed file as a whole (gzip cannot be entered in
the middle). Chunks are numbered in the order of the files' paths and their offsets,
so `(chunk, line)` orders the lines of the export the same way on every run.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from service.errors import InputError

__all__ = [
    "BLOCK_BYTES",
    "GZIP_MAGIC",
    "Chunk",
    "Export",
    "ExportFile",
    "chunk_lines",
    "read_export",
    "type_from_name",
]

MANIFEST = "manifest.json"
# 32 MiB of NDJSON (about 70,000 resources) per task: large enough that scheduling costs
# nothing next to reading, small enough that two workers share a file evenly.
BLOCK_BYTES = 32 * 2**20
_SUFFIXES = (".ndjson.gz", ".ndjson")
GZIP_MAGIC = b"\x1f\x8b"
_TYPE_IN_NAME = re.compile(r"(?:^|[^A-Za-z])([A-Z][A-Za-z]+)(?=$|[^A-Za-z])")


@dataclass(frozen=True, slots=True)
class ExportFile:
    """One NDJSON file; `type` None when neither the manifest nor the name tells it."""

    path: Path
    type: str | None

    @property
    def compressed(self) -> bool:
        return self.path.name.endswith(".gz")


@dataclass(frozen=True, slots=True)
class Chunk:
    """Lines of one file: those starting in [start, end) (`end` None: to the end)."""

    number: int
    path: str
    type: str | None
    compressed: bool
    start: int = 0
    end: int | None = None


@dataclass(frozen=True, slots=True)
class Export:
    """The files of an export, in path order, and the time its manifest gives."""

    root: Path
    files: tuple[ExportFile, ...]
    transaction_time: str | None = None

    def chunks(self, *, block: int = BLOCK_BYTES) -> list[Chunk]:
        """Every file as chunks of about `block` bytes, numbered in export order."""
        found: list[Chunk] = []
        for file in self.files:
            size = file.path.stat().st_size
            if file.compressed or size <= block:
                found.append(Chunk(len(found), str(file.path), file.type, file.compressed))
                continue
            for start in range(0, size, block):
                end = start + block if start + block < size else None
                found.append(Chunk(len(found), str(file.path), file.type, False, start, end))
        return found


def type_from_name(name: str) -> str | None:
    """`Observation.003.ndjson.gz` -> "Observation"; None when the name tells no type."""
    stem = next((name[: -len(s)] for s in _SUFFIXES if name.endswith(s)), name)
    hit = _TYPE_IN_NAME.search(stem)
    return hit.group(1) if hit else None


def _is_ndjson(path: Path) -> bool:
    return path.is_file() and path.name.endswith(_SUFFIXES)


def _manifest_file(root: Path, url: str) -> Path:
    parts = urlsplit(url)
    relative = unquote(parts.path) if not parts.scheme else unquote(parts.path).rsplit("/")[-1]
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()) or not _is_ndjson(candidate):
        raise InputError(f"the manifest names a file that is not in {root}: {relative}")
    return candidate


def _from_manifest(manifest: Path) -> Export:
    try:
        doc = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"cannot read {manifest}: {error.__class__.__name__}") from None
    outputs = doc.get("output") if isinstance(doc, dict) else None
    if not isinstance(outputs, list):
        raise InputError(f"{manifest} is not a Bulk Data manifest (no 'output' list)")
    root = manifest.parent
    files: dict[Path, ExportFile] = {}
    for entry in outputs:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise InputError(f"{manifest}: an output entry without a url")
        path = _manifest_file(root, entry["url"])
        kind = entry.get("type")
        files[path] = ExportFile(path, kind if isinstance(kind, str) else type_from_name(path.name))
    when = doc.get("transactionTime")
    return Export(
        root,
        tuple(files[p] for p in sorted(files)),
        when if isinstance(when, str) else None,
    )


def read_export(path: Path) -> Export:
    """The export in a folder (its manifest if it has one), or of a manifest or NDJSON file."""
    if not path.exists():
        raise InputError(f"no such file or folder: {path}")
    if path.is_file():
        if path.name.endswith(".json"):
            return _from_manifest(path)
        if _is_ndjson(path):
            return Export(path.parent, (ExportFile(path, type_from_name(path.name)),))
        raise InputError(f"{path} is neither a manifest nor an .ndjson(.gz) file")
    if (path / MANIFEST).is_file():
        return _from_manifest(path / MANIFEST)
    files = sorted(p for p in path.rglob("*") if _is_ndjson(p))
    if not files:
        raise InputError(f"{path} holds no manifest.json and no .ndjson or .ndjson.gz files")
    return Export(path, tuple(ExportFile(p, type_from_name(p.name)) for p in files))


def _open(chunk: Chunk) -> gzip.GzipFile | io.BufferedReader:
    return gzip.open(chunk.path, "rb") if chunk.compressed else open(chunk.path, "rb")


def chunk_lines(chunk: Chunk) -> Iterator[tuple[int, bytes]]:
    """The chunk's non-blank lines, numbered from 0 in the chunk, without line ends."""
    try:
        with _open(chunk) as stream:
            if not chunk.compressed and chunk.start == 0 and stream.peek(2)[:2] == GZIP_MAGIC:
                raise InputError(f"{chunk.path} is gzip-compressed: name it .ndjson.gz")
            position = chunk.start
            if chunk.start:
                stream.seek(chunk.start - 1)
                # The line running into the chunk belongs to the chunk before.
                position += len(stream.readline()) - 1
            number = 0
            for line in stream:
                if chunk.end is not None and position >= chunk.end:
                    break
                position += len(line)
                stripped = line.strip()
                if stripped:
                    yield number, stripped
                    number += 1
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"cannot read {chunk.path}: {error.__class__.__name__}") from None
