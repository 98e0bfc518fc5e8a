"""The population screen as a Dask job: find SCLC patients, gather their records, evaluate.

Four stages, each a set of tasks on the cluster (a local one unless a scheduler is
named: `service.screen.dask_cluster`), each reading the export once and parsing JSON
only where it must:

1. **scan** each chunk of the Condition files: the ids of patients with a Condition
   that may be SCLC (`triage.sclc_subject`, raw JSON);
2. **split** each chunk of the Patient, Condition, medication and Observation files
   (the types the engine reads; the others are never opened): those patients' lines,
   appended to a shuffle folder by partition (runs of consecutive patient ids), and
   the Medications their medication records reference;
3. **medications**: the referenced Medication resources, from the Medication files;
4. **evaluate** each partition: every patient's lines in export order, with the
   Medications they reference, as `RawResource`s through `service.pipeline.assess`,
   the hook's own pipeline; a patient the engine finds to have SCLC gives a worklist
   row (and, when asked, its evaluation JSON as `sclc-cds evaluate` prints it).

A task holds one chunk (`export.BLOCK_BYTES`) or one partition (`partition_patients`
patients) at a time, so memory does not grow with the export. The shuffle folder is
made inside `workdir`, which every worker must reach at the same path (on a cluster:
a shared file system, as for the export itself), and removed at the end.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from distributed import Client

from service.engine import Thresholds
from service.engine.model import RecordIssue
from service.fhir import MEDICATION_KINDS, USED_TYPES, RawResource
from service.pipeline import DEFAULT_BASE_URL, assess
from service.screen import triage
from service.screen.dask_cluster import Progress, run_tasks
from service.screen.export import BLOCK_BYTES, Chunk, Export, chunk_lines
from service.screen.worklist import Row, row_of

__all__ = [
    "PartitionResult",
    "Route",
    "ScreenOptions",
    "ScreenResult",
    "Stats",
    "Wanted",
    "evaluate_partition",
    "pick_medications",
    "scan_chunk",
    "screen",
    "split_chunk",
]

# Patients per evaluation task: a few seconds of work, a few megabytes of records.
PARTITION_PATIENTS = 100
# Kept lines a split task holds before appending them to the shuffle files.
FLUSH_BYTES = 4 * 2**20
_MEDICATIONS = "medications"
_EVALUATIONS = "evaluations"
# A line that starts a Patient resource, to count patients in files of unknown type.
_PATIENT_START = re.compile(rb'^\{\s*"resourceType"\s*:\s*"Patient"')
Check = tuple[str, tuple[RecordIssue, ...]]


@dataclass(frozen=True, slots=True)
class ScreenOptions:
    """How to evaluate: the evaluation date and thresholds, as the hook's settings give."""

    today: date
    thresholds: Thresholds
    base_url: str = DEFAULT_BASE_URL  # where the cards' links point, as for `evaluate`
    partition_patients: int = PARTITION_PATIENTS
    block_bytes: int = BLOCK_BYTES


@dataclass(frozen=True, slots=True)
class Route:
    """Which partition each candidate goes to: `size` consecutive ids (sorted) each."""

    ids: tuple[str, ...]
    size: int

    @property
    def partitions(self) -> int:
        return (len(self.ids) + self.size - 1) // self.size

    def table(self) -> dict[bytes, int]:
        """Patient id (as bytes, as lines hold it) -> partition number."""
        return {pid.encode(): number // self.size for number, pid in enumerate(self.ids)}


@dataclass(frozen=True, slots=True)
class Wanted:
    """The Medications the candidates' records reference (one value, so that
    `Client.scatter` sends it whole rather than element by element)."""

    refs: frozenset[str]


@dataclass(frozen=True, slots=True)
class ScanResult:
    lines: int
    patients: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SplitResult:
    lines: int
    patients: int  # Patient resources in the chunk
    kept: int
    unreadable: int  # lines naming a candidate that are not JSON objects
    medications: frozenset[str]


@dataclass(frozen=True, slots=True)
class PartitionResult:
    rows: tuple[Row, ...]
    checks: tuple[Check, ...]  # (patient id, "Check the record" items) when any
    not_sclc: int
    no_patient: int


@dataclass(frozen=True, slots=True)
class Stats:
    """What the job read and found (counts only: no patient data)."""

    files: int
    skipped_types: tuple[str, ...]  # resource types the engine does not read: never opened
    chunks: int
    lines: int  # resources read in the files of the types the engine reads
    patients: int  # Patient resources in the export
    candidates: int  # patients with a Condition that may be SCLC
    sclc: int
    not_sclc: int  # candidates the engine found no SCLC for
    no_patient: int  # candidates whose Patient resource is not in the export
    unreadable: int


@dataclass(frozen=True)
class ScreenResult:
    """The worklist rows (sorted by patient id) and what the report shows beside them."""

    rows: tuple[Row, ...]
    stats: Stats
    today: date
    transaction_time: str | None = None
    checks: tuple[Check, ...] = field(default=())


# -- tasks (run on the workers) ----------------------------------------------------------


def scan_chunk(chunk: Chunk) -> ScanResult:
    """Stage 1: the patients of the chunk's Conditions that may be SCLC."""
    found: set[str] = set()
    lines = 0
    for _, line in chunk_lines(chunk):
        lines += 1
        patient = triage.sclc_subject(line)
        if patient is not None:
            found.add(patient)
    return ScanResult(lines, tuple(sorted(found)))


def _append(path: Path, lines: Sequence[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as stream:
        stream.write(b"\n".join(lines) + b"\n")


def _write(path: Path, lines: Sequence[bytes]) -> None:
    """Write whole or not at all: a task run again (its worker lost) leaves one copy."""
    part = path.with_name(f"{path.name}.{uuid.uuid4().hex}.part")
    _append(part, lines)
    os.replace(part, path)


def _partition_folder(folder: str, number: int) -> Path:
    return Path(folder) / f"p{number:05d}"


class _Buckets:
    """Kept lines by partition, appended to this attempt's own `.part` files whenever
    they pass `limit` bytes (a task's memory does not grow with its file: a gzip file is
    one chunk, however large) and renamed to the partitions' files at the end, so a
    task run again after a lost worker never leaves lines twice."""

    def __init__(self, folder: str, chunk: int, limit: int) -> None:
        self.folder = folder
        self.name = f"c{chunk:06d}.tsv"
        self.attempt = uuid.uuid4().hex
        self.limit = limit
        self.held: dict[int, list[bytes]] = defaultdict(list)
        self.touched: set[int] = set()
        self.size = 0
        self.kept = 0

    def _part(self, partition: int) -> Path:
        return _partition_folder(self.folder, partition) / f"{self.name}.{self.attempt}.part"

    def add(self, partition: int, line: bytes) -> None:
        self.held[partition].append(line)
        self.size += len(line)
        self.kept += 1
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        for partition, lines in self.held.items():
            _append(self._part(partition), lines)
            self.touched.add(partition)
        self.held.clear()
        self.size = 0

    def finish(self) -> None:
        self.flush()
        for partition in self.touched:
            os.replace(self._part(partition), _partition_folder(self.folder, partition) / self.name)


def split_chunk(
    chunk: Chunk, route: Route, folder: str, *, flush_bytes: int = FLUSH_BYTES
) -> SplitResult:
    """Stage 2: the candidates' lines of the chunk, appended to their partitions' files
    as `patient <tab> chunk <tab> line <tab> JSON`."""
    table = route.table()
    read_ids = chunk.type in (None, "Patient")  # a Patient names itself by its "id"
    buckets = _Buckets(folder, chunk.number, flush_bytes)
    medications: set[str] = set()
    lines = patients = unreadable = 0
    for number, line in chunk_lines(chunk):
        lines += 1
        if chunk.type == "Patient" or (chunk.type is None and _PATIENT_START.match(line)):
            patients += 1
        ids = triage.candidate_ids(line) if read_ids else triage.patient_refs(line)
        if not any(i in table for i in ids):
            continue
        resource = triage.load(line)
        if resource is None:
            unreadable += 1
            continue
        kind = resource.get("resourceType")
        owner = (triage.owner(resource) or "").encode()
        partition = table.get(owner)
        if kind not in USED_TYPES or kind == "Medication" or partition is None:
            continue
        buckets.add(partition, b"%s\t%d\t%d\t%s" % (owner, chunk.number, number, line))
        if kind in MEDICATION_KINDS:
            medications |= triage.medication_references(resource)
    buckets.finish()
    return SplitResult(
        lines=lines,
        patients=patients,
        kept=buckets.kept,
        unreadable=unreadable,
        medications=frozenset(medications),
    )


def pick_medications(chunk: Chunk, wanted: Wanted, folder: str) -> int:
    """Stage 3: the chunk's Medications that `wanted` names, written to the shuffle
    folder as `Medication/<id> <tab> chunk <tab> line <tab> JSON`; returns lines read."""
    ids = {ref.partition("/")[2].encode() for ref in wanted.refs}
    kept: list[bytes] = []
    lines = 0
    for number, line in chunk_lines(chunk):
        lines += 1
        if not any(i in ids for i in triage.resource_ids(line)):
            continue
        resource = triage.load(line)
        if resource is None or resource.get("resourceType") != "Medication":
            continue
        ref = f"Medication/{resource.get('id')}"
        if ref in wanted.refs:
            kept.append(b"%s\t%d\t%d\t%s" % (ref.encode(), chunk.number, number, line))
    if kept:
        _write(Path(folder) / _MEDICATIONS / f"c{chunk.number:06d}.tsv", kept)
    return lines


_Entry = tuple[int, int, bytes]  # chunk, line, JSON: sorts in export order


def _read_entries(files: Sequence[Path]) -> Iterator[tuple[str, _Entry]]:
    for path in files:
        with path.open("rb") as stream:
            for line in stream:
                key, chunk, number, text = line.rstrip(b"\n").split(b"\t", 3)
                yield key.decode(), (int(chunk), int(number), text)


def _json(document: Any) -> str:
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _evaluations_file(folder: str, number: int) -> Path:
    return Path(folder) / _EVALUATIONS / f"p{number:05d}.ndjson"


def evaluate_partition(
    number: int, folder: str, options: ScreenOptions, *, keep: bool = False
) -> PartitionResult:
    """Stage 4: every patient of the partition through `service.pipeline.assess`; with
    `keep`, each SCLC patient's evaluation JSON (as `sclc-cds evaluate` prints it, in
    canonical form) goes to the partition's evaluations file, one line each."""
    groups: dict[str, list[_Entry]] = defaultdict(list)
    for patient, entry in _read_entries(sorted(_partition_folder(folder, number).glob("*.tsv"))):
        groups[patient].append(entry)
    medications: dict[str, _Entry] = {}
    for ref, entry in _read_entries(sorted((Path(folder) / _MEDICATIONS).glob("*.tsv"))):
        medications.setdefault(ref, entry)
    rows: list[Row] = []
    evaluations: list[str] = []
    checks: list[Check] = []
    not_sclc = no_patient = 0
    for patient in sorted(groups):
        entries = [(chunk, line, json.loads(text)) for chunk, line, text in groups[patient]]
        referenced: set[str] = set()
        for _, _, resource in entries:
            if resource.get("resourceType") in MEDICATION_KINDS:
                referenced |= triage.medication_references(resource)
        entries.extend(
            (chunk, line, json.loads(text))
            for chunk, line, text in (
                medications[r] for r in sorted(referenced) if r in medications
            )
        )
        entries.sort(key=lambda entry: entry[:2])  # export order, as `sclc-cds evaluate` reads
        resources = [RawResource(resource) for _, _, resource in entries]
        assessment = assess(
            resources,
            patient_id=patient,
            today=options.today,
            thresholds=options.thresholds,
            base_url=options.base_url,
        )
        if assessment.record.patient is None:
            no_patient += 1
            continue
        if not assessment.evaluation.diagnosis.sclc:
            not_sclc += 1
            continue
        row = row_of(assessment.evaluation)
        rows.append(row)
        if row.check_the_record:
            checks.append((patient, assessment.evaluation.record_issues))
        if keep:
            evaluations.append(_json(assessment.to_json()))
    if evaluations:
        _write(_evaluations_file(folder, number), [e.encode("utf-8") for e in evaluations])
    return PartitionResult(tuple(rows), tuple(checks), not_sclc, no_patient)


# -- the driver (runs where the command runs) ------------------------------------------


def screen(
    export: Export,
    *,
    client: Client,
    options: ScreenOptions,
    workdir: Path,
    progress: Progress | None = None,
    evaluations: Path | None = None,
) -> ScreenResult:
    """Screen every patient of the export on the cluster behind `client`; with
    `evaluations`, also write there each SCLC patient's evaluation JSON (one line each,
    sorted by patient id), streamed from the partitions' files."""
    everything = export.chunks(block=options.block_bytes)
    chunks = [c for c in everything if c.type is None or c.type in USED_TYPES]
    scans = run_tasks(
        client,
        "finding SCLC patients",
        scan_chunk,
        [c for c in chunks if c.type in (None, "Condition")],
        progress,
    )
    candidates = tuple(sorted({p for s in scans for p in s.patients}))
    # At least four partitions per worker, so that evaluation spreads over the cluster.
    workers = max(1, len(client.scheduler_info().get("workers", {})))
    size = max(1, min(options.partition_patients, -(-len(candidates) // (4 * workers))))
    route = Route(candidates, size)
    workdir.mkdir(parents=True, exist_ok=True)
    shuffle = tempfile.mkdtemp(prefix=".screen-", dir=workdir)
    try:
        splits = run_tasks(
            client,
            "gathering their records",
            split_chunk,
            [c for c in chunks if c.type != "Medication"],
            progress,
            route=client.scatter(route, broadcast=True),
            folder=shuffle,
        )
        wanted = frozenset(m for s in splits for m in s.medications)
        medication_lines = run_tasks(
            client,
            "reading their medications",
            pick_medications,
            [c for c in chunks if c.type in (None, "Medication")] if wanted else [],
            progress,
            wanted=client.scatter(Wanted(wanted), broadcast=True),
            folder=shuffle,
        )
        parts = run_tasks(
            client,
            "evaluating",
            evaluate_partition,
            list(range(route.partitions)),
            progress,
            folder=shuffle,
            options=options,
            keep=evaluations is not None,
        )
        if evaluations is not None:
            _concatenate(
                [_evaluations_file(shuffle, n) for n in range(route.partitions)], evaluations
            )
    finally:
        shutil.rmtree(shuffle, ignore_errors=True)
    rows = tuple(r for p in parts for r in p.rows)
    stats = Stats(
        files=len(export.files),
        skipped_types=tuple(
            sorted({f.type for f in export.files if f.type and f.type not in USED_TYPES})
        ),
        chunks=len(chunks),
        lines=sum(s.lines for s in splits) + sum(medication_lines),
        patients=sum(s.patients for s in splits),
        candidates=len(route.ids),
        sclc=len(rows),
        not_sclc=sum(p.not_sclc for p in parts),
        no_patient=sum(p.no_patient for p in parts),
        unreadable=sum(s.unreadable for s in splits),
    )
    return ScreenResult(
        rows=rows,
        stats=stats,
        today=options.today,
        transaction_time=export.transaction_time,
        checks=tuple(c for p in parts for c in p.checks),
    )


def _concatenate(parts: Sequence[Path], target: Path) -> None:
    """The parts that exist, in order, into `target` (streamed: no part is held whole)."""
    with target.open("wb") as out:
        for part in parts:
            if part.is_file():
                with part.open("rb") as stream:
                    shutil.copyfileobj(stream, out)
