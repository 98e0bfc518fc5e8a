"""The Dask job: it finds every SCLC patient, agrees with the hook and with `sclc-cds
evaluate` patient by patient, and writes the same bytes whatever the cluster."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from distributed import Client

from service.cli import main
from service.demo.population import (
    PopulationSpec,
    is_scenario_patient,
    load_scenarios,
    patient_id,
    write_population,
)
from service.engine.model import Evaluation
from service.engine.rules import DEFAULT_THRESHOLDS
from service.fhir import load_path
from service.pipeline import assess_each
from service.screen.dask_cluster import dask_client
from service.screen.export import Chunk, read_export
from service.screen.plan import (
    Route,
    ScreenResult,
    scan_chunk,
    screen,
    split_chunk,
)
from service.screen.report import write_report
from service.screen.worklist import read_parquet, row_of, write_csv, write_parquet
from tests.conftest import FIXTURES
from tests.screen.conftest import OPTIONS, SPEC, TODAY, records_by_patient

# The one scenario whose copy differs from its fixture: the fixture's record of another
# patient is, in an export, that other patient's, so no warning names it.
FOREIGN_RECORD_SCENARIO = "other-patient-records"
EVALUATIONS = "evaluations.ndjson"


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The work folder of the module's screen (its evaluations file is kept there)."""
    return tmp_path_factory.mktemp("work")


@pytest.fixture(scope="module")
def screened(population: Path, client: Client, work: Path) -> ScreenResult:
    """The screen of the session's population, its evaluations in work/evaluations.ndjson."""
    export = read_export(population)
    evaluations = work / EVALUATIONS
    return screen(export, client=client, options=OPTIONS, workdir=work, evaluations=evaluations)


def written(result: ScreenResult, folder: Path) -> dict[str, str]:
    """Write the worklist files and the report beside the evaluations; SHA-256 by name."""
    folder.mkdir(parents=True, exist_ok=True)
    write_parquet(result.rows, folder / "worklist.parquet")
    write_csv(result.rows, folder / "worklist.csv")
    write_report(result, folder / "report.html")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def fixture_evaluations() -> dict[str, Evaluation]:
    """Each fixture's evaluation at TODAY, as `sclc-cds evaluate` makes it."""
    found = {}
    for scenario in load_scenarios(FIXTURES):
        resources, warnings = load_path(FIXTURES / f"{scenario.name}.json")
        (assessment,) = assess_each(
            resources, today=TODAY, thresholds=DEFAULT_THRESHOLDS, warnings=warnings
        )
        found[scenario.name] = assessment.evaluation
    return found


def test_every_scenario_copy_gets_the_row_its_fixture_gets(screened: ScreenResult) -> None:
    """Each SCLC scenario copy's row is its fixture's row (the hook's answer), id aside;
    the copies of non-SCLC scenarios (NSCLC, C34 without histology) are no rows."""
    rows = {r.patient_id: r for r in screened.rows}
    scenarios = load_scenarios(FIXTURES)
    evaluations = fixture_evaluations()
    copies = [patient_id(SPEC, n) for n in range(SPEC.patients) if is_scenario_patient(SPEC, n)]
    assert len(copies) == len(scenarios)
    for pid, scenario in zip(copies, scenarios, strict=True):
        evaluation = evaluations[scenario.name]
        if not evaluation.diagnosis.sclc:
            assert pid not in rows, scenario.name
            continue
        expected = dataclasses.replace(row_of(evaluation), patient_id=pid)
        if scenario.name == FOREIGN_RECORD_SCENARIO:
            expected = dataclasses.replace(expected, check_the_record=expected.check_the_record - 1)
        assert rows[pid] == expected, scenario.name


def test_only_sclc_patients_are_rows_and_the_counts_add_up(screened: ScreenResult) -> None:
    """Rows are the SCLC patients, sorted by id; the statistics count the whole export."""
    ids = [r.patient_id for r in screened.rows]
    assert ids == sorted(ids)
    assert len(ids) == len(set(ids)) == screened.stats.sclc
    assert screened.stats.patients == SPEC.patients
    assert screened.stats.candidates == screened.stats.sclc + screened.stats.not_sclc
    assert screened.stats.no_patient == 0
    assert "Encounter" in screened.stats.skipped_types  # never opened
    assert all(r.patient_id.startswith("p") for r in screened.rows)


def test_each_evaluation_is_what_sclc_cds_evaluate_prints_for_that_patient(
    screened: ScreenResult,
    work: Path,
    population: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Byte for byte (canonical JSON): the screen's evaluation of each SCLC patient equals
    `sclc-cds evaluate` on that patient's own records, cut from the export independently."""
    records = records_by_patient(population)
    evaluations = (work / EVALUATIONS).read_text(encoding="utf-8").splitlines()
    assert len(evaluations) == len(screened.rows)
    for row, evaluation in zip(screened.rows, evaluations, strict=True):
        path = tmp_path / f"{row.patient_id}.ndjson"
        path.write_text("\n".join(records[row.patient_id]) + "\n", encoding="utf-8")
        assert main(["evaluate", str(path), "--today", TODAY.isoformat()]) == 0
        printed = json.loads(capsys.readouterr().out)
        canonical = json.dumps(printed, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert canonical == evaluation, row.patient_id


def test_results_are_byte_identical_across_workers_files_and_chunks(
    screened: ScreenResult, work: Path, population: Path, plain_population: Path, tmp_path: Path
) -> None:
    """One worker or two, gzip files or plain ones cut into many small chunks: the
    worklist, the report and the evaluations are the same bytes."""
    runs = {name: tmp_path / name for name in ("reference", "one-worker", "chunked")}
    for folder in runs.values():
        folder.mkdir()
    (runs["reference"] / EVALUATIONS).write_bytes((work / EVALUATIONS).read_bytes())
    small = dataclasses.replace(OPTIONS, block_bytes=64 * 1024, partition_patients=7)
    with dask_client(workers=1, processes=False) as one:
        alone = screen(
            read_export(population),
            client=one,
            options=OPTIONS,
            workdir=tmp_path,
            evaluations=runs["one-worker"] / EVALUATIONS,
        )
        chunked = screen(
            read_export(plain_population),
            client=one,
            options=small,
            workdir=tmp_path,
            evaluations=runs["chunked"] / EVALUATIONS,
        )
    reference = written(screened, runs["reference"])
    assert written(alone, runs["one-worker"]) == reference
    # Without a manifest the export has no time: the only thing the report may show apart.
    chunked = dataclasses.replace(chunked, transaction_time=screened.transaction_time)
    assert written(chunked, runs["chunked"]) == reference
    assert chunked.stats.chunks > alone.stats.chunks


def test_the_parquet_worklist_reads_back_as_its_rows(
    screened: ScreenResult, tmp_path: Path
) -> None:
    """Parquet keeps every column with its type: lists as lists, dates as dates."""
    write_parquet(screened.rows, tmp_path / "w.parquet")
    back = read_parquet(tmp_path / "w.parquet")
    first = dataclasses.asdict(screened.rows[0])
    assert back[0] == {k: list(v) if isinstance(v, tuple) else v for k, v in first.items()}
    assert len(back) == len(screened.rows)


def test_a_population_without_sclc_gives_an_empty_worklist(client: Client, tmp_path: Path) -> None:
    """No candidate: no row, no evaluation task, and the files are still written."""
    write_population(PopulationSpec(patients=50, sclc_share=0.0), tmp_path / "x", fixtures=FIXTURES)
    (tmp_path / "out").mkdir()
    result = screen(
        read_export(tmp_path / "x"),
        client=client,
        options=OPTIONS,
        workdir=tmp_path,
        evaluations=tmp_path / "out" / EVALUATIONS,
    )
    assert result.rows == ()
    assert result.stats.patients == 50
    assert (tmp_path / "out" / EVALUATIONS).read_bytes() == b""
    assert set(written(result, tmp_path / "out")) == {
        EVALUATIONS,
        "report.html",
        "worklist.csv",
        "worklist.parquet",
    }


def test_the_shuffle_folder_is_removed(population: Path, client: Client, tmp_path: Path) -> None:
    """The job leaves nothing behind in its work folder."""
    screen(read_export(population), client=client, options=OPTIONS, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def _peak(task: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        task()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_task_holds_one_chunk_whatever_the_size_of_the_file(tmp_path: Path) -> None:
    """Memory stays bounded: scanning and splitting stream their chunk (a gzip file is one
    chunk) and flush what they keep; a file ten times larger costs a task no more memory
    (Python allocations, traced exactly)."""
    peaks = {}
    for patients in (100, 1000):
        out = tmp_path / str(patients)
        spec = PopulationSpec(patients=patients, sclc_share=0.05, block=patients)
        write_population(spec, out, fixtures=FIXTURES)
        observations = next(f.path for f in read_export(out).files if f.type == "Observation")
        chunk = Chunk(0, str(observations), "Observation", compressed=True)
        # Every tenth patient is a candidate: far more lines kept than the flush limit.
        route = Route(tuple(sorted(patient_id(spec, n) for n in range(0, patients, 10))), 50)
        shuffle = str(tmp_path / f"shuffle-{patients}")
        split = partial(split_chunk, chunk, route, shuffle, flush_bytes=64 * 1024)
        peaks[patients] = (_peak(partial(scan_chunk, chunk)), _peak(split))
    (scan_small, split_small), (scan_large, split_large) = peaks[100], peaks[1000]
    assert scan_large < 2 * scan_small + 256 * 1024
    assert split_large < 2 * split_small + 256 * 1024


def test_a_line_whose_resource_type_is_no_string_is_unreadable(
    client: Client, tmp_path: Path
) -> None:
    """An Observation line of an SCLC patient whose resourceType is a list: counted as
    unreadable, and the patient's row is the row without that line."""
    spec = PopulationSpec(patients=10, sclc_share=1.0, compress=False)
    plain, hostile = tmp_path / "plain", tmp_path / "hostile"
    write_population(spec, plain, fixtures=FIXTURES)
    write_population(spec, hostile, fixtures=FIXTURES)
    rows = screen(read_export(plain), client=client, options=OPTIONS, workdir=tmp_path).rows
    patient = rows[0].patient_id
    observations = next(iter(sorted(hostile.glob("Observation*.ndjson"))))
    line = {"resourceType": ["Observation"], "subject": {"reference": f"Patient/{patient}"}}
    with observations.open("a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")
    result = screen(read_export(hostile), client=client, options=OPTIONS, workdir=tmp_path)
    assert result.stats.unreadable == 1
    assert result.rows == rows
