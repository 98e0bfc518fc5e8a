"""Figures for `sclc-cds screen`: patients per second and peak memory, 10k and 100k patients.

    make bench-screen     (or: .venv/bin/python benchmarks/bench_screen.py [--sizes 10000 100000])

For each size, a population is generated once (`sclc-cds fixtures population N`) into
$SCLC_BENCH_DIR (default <temp dir>/sclc-screen-bench) and kept for later runs. Each size is
screened with a local cluster of 1 and of 2 worker processes, as a user runs it (a
subprocess), while the resident memory of the whole process tree (the command, its
scheduler and its workers) is sampled every 0.1 s. Then:

- the worklist, the report and the evaluations must be byte-identical across worker
  counts;
- each SCLC patient's evaluation must be, byte for byte in canonical JSON, what
  `sclc-cds evaluate` prints for that patient's own records (cut from the export by a
  plain reading of its files: a resource belongs to the Patient its subject names);
- peak memory must be flat: the largest size within 1.5x of the smallest.

Figures, not a test: the exit status is 1 only when one of these checks fails. The
machine's load average is printed before each run (other work on it slows the run);
`--repeat N` runs each case N times and reports the fastest.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psutil

from service.cli import main as sclc_cds

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TODAY = "2026-11-21"  # the fixtures' evaluation date: scenario copies evaluate like them
OUTPUTS = ("worklist.parquet", "worklist.csv", "report.html", "evaluations.ndjson")
FLAT = 1.5  # the largest size's peak memory within this factor of the smallest's


@dataclass(frozen=True)
class Run:
    patients: int
    workers: int
    seconds: float
    peak_total_mb: float  # all processes of the run together
    peak_process_mb: float  # the largest single process
    sclc: int
    digests: dict[str, str]


def _tree_rss(root: psutil.Process) -> tuple[int, int]:
    processes = [root]
    with contextlib.suppress(psutil.Error):
        processes += root.children(recursive=True)
    sizes = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            sizes.append(process.memory_info().rss)
    return sum(sizes), max(sizes, default=0)


def measured(command: list[str]) -> tuple[float, int, int]:
    """Run a command; its wall time and the peak RSS of its process tree (total, largest)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    root = psutil.Process(child.pid)
    peaks = [0, 0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, largest = _tree_rss(root)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], largest)
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({child.returncode}):\n{err.decode()[-2000:]}")
    print("   ", out.decode().splitlines()[0])
    return seconds, peaks[0], peaks[1]


def population(folder: Path, patients: int) -> Path:
    """The generated export of `patients` patients (made once, then kept)."""
    export = folder / f"population-{patients}"
    if not (export / "manifest.json").is_file():
        print(f"generating {patients:,} patients into {export} ...")
        started = time.perf_counter()
        command = [str(BIN / "sclc-cds"), "fixtures", "population", str(patients)]
        subprocess.run([*command, "--out", str(export)], check=True, cwd=ROOT)
        print(f"    {time.perf_counter() - started:.0f} s")
    return export


def screened(folder: Path, export: Path, patients: int, workers: int) -> Run:
    """One timed, memory-sampled `sclc-cds screen` run."""
    out = folder / f"screen-{patients}-w{workers}"
    command = [str(BIN / "sclc-cds"), "screen", str(export), "--out", str(out)]
    command += ["--workers", str(workers), "--today", TODAY, "--evaluations"]
    load = os.getloadavg()[0]
    print(f"screening {patients:,} patients with {workers} worker(s) (load {load:.1f}) ...")
    seconds, total, largest = measured(command)
    digests = {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in OUTPUTS}
    sclc = sum(1 for _ in (out / "evaluations.ndjson").open(encoding="utf-8"))
    return Run(patients, workers, seconds, total / 2**20, largest / 2**20, sclc, digests)


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as stream:
        return [line.rstrip("\n") for line in stream if line.strip()]


def records_of(export: Path, wanted: set[str]) -> dict[str, list[str]]:
    """The wanted patients' lines in export order (files by name, then line), by the
    plainest reading: a resource is the patient's its subject names; a Medication goes
    with the patients whose records reference it."""
    manifest = json.loads((export / "manifest.json").read_text())
    owned: dict[str, list[tuple[int, str]]] = defaultdict(list)
    medications: dict[str, tuple[int, str]] = {}
    order = 0
    for name in sorted(o["url"] for o in manifest["output"]):
        for line in _lines(export / name):
            order += 1
            resource = json.loads(line)
            if resource["resourceType"] == "Medication":
                medications[f"Medication/{resource['id']}"] = (order, line)
                continue
            if resource["resourceType"] == "Patient":
                owner = resource["id"]
            else:
                subject = resource.get("subject") or resource.get("patient") or {}
                owner = subject.get("reference", "").removeprefix("Patient/")
            if owner in wanted:
                owned[owner].append((order, line))
    records = {}
    for pid, lines in owned.items():
        text = "\n".join(line for _, line in lines)
        used = [m for ref, m in medications.items() if f'"{ref}"' in text]
        records[pid] = [line for _, line in sorted(lines + used)]
    return records


def agrees_with_evaluate(export: Path, out: Path) -> tuple[int, int]:
    """(patients compared, patients differing): the screen's evaluations against
    `sclc-cds evaluate` on each patient's own records."""
    screened = {}
    for line in (out / "evaluations.ndjson").open(encoding="utf-8"):
        screened[json.loads(line)["patient"]["id"]] = line.rstrip("\n")
    records = records_of(export, set(screened))
    differing = 0
    with tempfile.TemporaryDirectory() as scratch:
        for number, (pid, expected) in enumerate(sorted(screened.items())):
            path = Path(scratch) / f"{pid}.ndjson"
            path.write_text("\n".join(records[pid]) + "\n", encoding="utf-8")
            if number < 3:  # a few through the console script itself, the rest in process
                done = subprocess.run(
                    [str(BIN / "sclc-cds"), "evaluate", str(path), "--today", TODAY],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                printed = done.stdout
            else:
                buffer = io.StringIO()
                with contextlib.redirect_stdout(buffer):
                    sclc_cds(["evaluate", str(path), "--today", TODAY])
                printed = buffer.getvalue()
            got = json.dumps(
                json.loads(printed), ensure_ascii=False, sort_keys=True, separators=(",", ":")
            )
            differing += got != expected
    return len(screened), differing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--repeat", type=int, default=1, help="runs of each case; the fastest is reported"
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path(
            os.environ.get("SCLC_BENCH_DIR") or Path(tempfile.gettempdir()) / "sclc-screen-bench"
        ),
    )
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
    )
    runs: list[Run] = []
    failures: list[str] = []
    for patients in args.sizes:
        export = population(args.dir, patients)
        resources = sum(
            o["count"] for o in json.loads((export / "manifest.json").read_text())["output"]
        )
        print(f"    {resources:,} resources")
        size_runs = [
            min(
                (screened(args.dir, export, patients, w) for _ in range(args.repeat)),
                key=lambda r: r.seconds,
            )
            for w in args.workers
        ]
        runs += size_runs
        if any(r.digests != size_runs[0].digests for r in size_runs):
            failures.append(f"{patients}: results differ across worker counts")
        out = args.dir / f"screen-{patients}-w{args.workers[0]}"
        compared, differing = agrees_with_evaluate(export, out)
        print(f"    against sclc-cds evaluate: {compared} patients, {differing} differing")
        if differing or not compared:
            failures.append(f"{patients}: {differing} of {compared} differ from sclc-cds evaluate")
    print()
    print(
        "| patients | workers | seconds | patients/s | peak RSS, all processes | largest process |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in runs:
        print(
            f"| {r.patients:,} | {r.workers} | {r.seconds:.1f} | {r.patients / r.seconds:,.0f} "
            f"| {r.peak_total_mb:,.0f} MiB | {r.peak_process_mb:,.0f} MiB |"
        )
    for workers in args.workers:
        by_size = sorted((r for r in runs if r.workers == workers), key=lambda r: r.patients)
        if len(by_size) > 1 and by_size[-1].peak_total_mb > FLAT * by_size[0].peak_total_mb:
            failures.append(f"{workers} worker(s): peak memory grows with the export")
    (args.dir / "results.json").write_text(
        json.dumps([r.__dict__ for r in runs], indent=2) + "\n", encoding="utf-8"
    )
    for failure in failures:
        print("FAILED:", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
