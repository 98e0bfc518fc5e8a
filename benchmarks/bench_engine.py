"""How fast a hook call is, by record size, beside the floor; and over HTTP.

    make bench    (or: .venv/bin/python benchmarks/bench_engine.py [--no-http] [--out FILE])

In process (Flask test client, full prefetch, the body serialised beforehand): for
records of about 10, 100, 1,000, 5,000 and 20,000 resources (`benchmarks/records.py`:
a fixture padded with what charts hold), the padded 100-resource chart (the fixture and
one resource a day over six years of other conditions, chronic prescriptions and
creatinine and haemoglobin results: `records.padded_chart`) and the whole
Sherman_McGlynn Synthea record: how many resources the reader validates for the call
(`val.`), the `patient-view` call's p50 and p99 with the assessment cache emptied before
each call, the same call repeated (served from the cache), and the floor: `json.loads`
of the same body with the garbage collector paused (the least any server must do; the
figure with the collector running is given too). The ratio is p50 / floor. Beside each,
resources → assessment → cards through `service.pipeline.assess` with the fast reader
and with full validation (every resource of the types the engine uses modelled).

Over HTTP (`benchmarks/http_load.py`, wrk, `sclc-cds serve` with one worker per core):
distinct ~100-resource records, every request with a patient id of its own (nothing
cacheable), and one record repeated, each at 1, 8 and 32 connections for `--seconds`
(6 s): requests per second, p50, p99, errors, peak worker RSS and the workers' CPU per
request (which the load of other work on the machine does not change). Skipped when
wrk is not installed.

Prints a table and writes `benchmarks/results.json`. Figures, not pass/fail; about two
minutes on two cores.
"""

from __future__ import annotations

import argparse
import gc
import inspect
import json
import logging
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import http_load  # benchmarks/http_load.py
from records import hook_body, padded_bundle, padded_chart, prefetch_of, resource_count

from service.engine.rules import DEFAULT_THRESHOLDS
from service.fhir import resources_from_json, select
from service.http.factory import create_app
from service.http.log import LOGGER_NAME
from service.http.state import EXTENSION
from service.pipeline import assess
from service.settings import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results.json"
TODAY = date(2026, 11, 21)
SHERMAN = ROOT.parent / "shared" / "external_fhir" / "synthea-r4"
SIZES = (10, 100, 1000, 5000, 20000)
PATH = "/cds-services/sclc-relapse-patient-view"
BUDGET_SECONDS = 2.5  # per figure: repeat the call until this much time has passed


def _samples(run: Callable[[], object], *, before: Callable[[], object], least: int) -> list[float]:
    """Milliseconds of `run` (after an untimed warm-up), at least `least` times and until
    the budget is spent; `before` runs untimed before each. The clock stops when `run`
    returns its answer: what it held past that (a response's request, freed once the
    response is closed) is let go untimed."""
    before()
    run()
    samples: list[float] = []
    spent = 0.0
    while len(samples) < least or (spent < BUDGET_SECONDS and len(samples) < 2000):
        before()
        start = time.perf_counter()
        answer = run()
        took = time.perf_counter() - start
        del answer
        samples.append(took * 1000)
        spent += took
    return samples


def _floor(body: bytes, *, collect: bool) -> float:
    """Median ms of `json.loads(body)`, the collector paused unless `collect`."""
    samples = []
    for _ in range(max(5, min(200, 20_000_000 // max(len(body), 1)))):
        if not collect:
            gc.disable()
        start = time.perf_counter()
        json.loads(body)
        samples.append((time.perf_counter() - start) * 1000)
        gc.enable()
    return statistics.median(samples)


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def records() -> Iterator[tuple[str, bytes]]:
    """(label, patient-view body) of every in-process row, made one at a time (the
    bodies are kept as bytes: no large heap for the collector to walk while timing)."""
    for size in SIZES:
        patient, prefetch = prefetch_of(padded_bundle("third-line", size))
        yield f"padded {size:,}", json.dumps(hook_body(patient, prefetch)).encode()
    patient, prefetch = prefetch_of(padded_chart("third-line", 100))
    yield "padded 100-resource chart", json.dumps(hook_body(patient, prefetch)).encode()
    sherman = next(iter(sorted(SHERMAN.glob("Sherman_McGlynn_*.json"))), None)
    if sherman is not None:
        patient, prefetch = prefetch_of(json.loads(sherman.read_text()))
        yield "Sherman_McGlynn (whole)", json.dumps(hook_body(patient, prefetch)).encode()


def validated(resources: list[Any], patient_id: str) -> int | None:
    """How many resources the reader validates for the call: its distinct `Type/id`s, as
    the hook gathers the prefetch (None for a reader that does not say)."""
    selection = select(resources, patient_id=patient_id, today=TODAY)
    selection.record()
    if not hasattr(selection, "validated"):  # pragma: no cover
        return None
    return len({(r.resource["resourceType"], r.resource.get("id")) for r in selection.validated()})


def in_process() -> list[dict[str, Any]]:
    scratch = tempfile.TemporaryDirectory()
    app = create_app(
        {
            "TODAY": TODAY.isoformat(),
            "FEEDBACK_DB": f"{scratch.name}/f.db",
            "MAX_BODY_BYTES": 64 * 1024 * 1024,  # the 20,000-resource body is about 15 MB
        }
    )
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # figures only, no call log
    client = app.test_client()
    clear = app.extensions[EXTENSION].cache.clear
    thresholds = DEFAULT_THRESHOLDS
    rows = []
    for label, data in records():
        gc.collect()  # what the row before left behind: not this row's figures

        def post(data: bytes = data, label: str = label) -> object:
            answer = client.post(PATH, data=data, content_type="application/json")
            if answer.status_code != 200:
                raise SystemExit(f"{label}: patient-view answered {answer.status_code}")
            return answer  # the request is freed when the answer is let go (untimed)

        size = len(data)
        least = 5 if size > 1_000_000 else 15
        miss = _samples(post, before=clear, least=least)
        hit = _samples(post, before=lambda: None, least=least)
        body = json.loads(data)
        resources, _ = resources_from_json(body)

        def pipeline(full: bool, resources: Any = resources, body: Any = body) -> None:
            gc.disable()  # as in a hook call (service.http.collector)
            try:
                options = {"full_validation": True} if full else {}
                _ = assess(
                    resources,
                    patient_id=body["context"]["patientId"],
                    today=TODAY,
                    thresholds=thresholds,
                    **options,
                ).cards
            finally:
                gc.enable()

        fast = _samples(lambda: pipeline(False), before=lambda: None, least=3)
        full = (
            _samples(lambda: pipeline(True), before=lambda: None, least=3)
            if "full_validation" in inspect.signature(assess).parameters
            else [float("nan")]
        )
        floor = _floor(data, collect=False)
        row = {
            "record": label,
            "resources": resource_count(body["prefetch"]),
            "validated": validated(resources, body["context"]["patientId"]),
            "bytes": size,
            "floor_ms": round(floor, 3),
            "floor_collector_on_ms": round(_floor(data, collect=True), 3),
            "hook_p50_ms": round(statistics.median(miss), 3),
            "hook_p99_ms": round(_p(miss, 0.99), 3),
            "ratio": round(statistics.median(miss) / floor, 1),
            "repeated_p50_ms": round(statistics.median(hit), 3),
            "pipeline_fast_ms": round(statistics.median(fast), 3),
            "pipeline_full_ms": round(statistics.median(full), 3),
            "calls": len(miss),
        }
        rows.append(row)
        del body, resources
        print(
            f"{label:<26}{row['resources']:>7}{row['validated'] or '-':>6}"
            f"{size / 1e6:>8.2f}{floor:>9.2f}"
            f"{row['hook_p50_ms']:>9.2f}{row['hook_p99_ms']:>9.2f}{row['ratio']:>7.1f}"
            f"{row['repeated_p50_ms']:>9.2f}{row['pipeline_fast_ms']:>9.2f}"
            f"{row['pipeline_full_ms']:>9.2f}{len(miss):>6}",
            flush=True,
        )
    scratch.cleanup()
    return rows


def over_http(seconds: int) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        print("\nHTTP: skipped, wrk is not installed (apt-get install wrk)")
        return {"skipped": "wrk is not installed"}
    workers = os.cpu_count() or 1
    runs = []
    print(f"\nHTTP: sclc-cds serve, {workers} workers; wrk {seconds} s per line")
    columns = ("conns", "req/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "CPU/req")
    print(f"{'records':<30}" + "".join(f"{c:>9}" for c in columns))
    for name, bodies, unique in (
        ("distinct ~100 (unique ids)", http_load.distinct_bodies(100, 64), True),
        ("one ~100 record repeated", [http_load.repeated_body(100)], False),
    ):
        with tempfile.TemporaryDirectory() as scratch:
            folder = Path(scratch)
            http_load.write_bodies(folder, bodies)
            with http_load.running_service(workers, folder) as (base, master):
                for connections in (1, 8, 32):
                    figures = http_load.run_wrk(
                        base,
                        master,
                        folder,
                        seconds=seconds,
                        connections=connections,
                        unique=unique,
                    )
                    figures["records"] = name
                    runs.append(figures)
                    print(
                        f"{name:<30}{connections:>9}{figures['rps']:>9.0f}"
                        f"{figures['p50_ms']:>9.1f}{figures['p99_ms']:>9.1f}"
                        f"{figures['errors']:>9}{figures['peak_worker_rss_mib']:>9.1f}"
                        f"{figures['worker_cpu_ms_per_request']:>9.2f}",
                        flush=True,
                    )
    # The floor: the same repeated body to a Flask app on the same gunicorn settings
    # that reads it and answers no cards (benchmarks/floor_app.py).
    name = "floor: Flask app reading it"
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        http_load.write_bodies(folder, [http_load.repeated_body(100)])
        with http_load.running_floor(workers, DEFAULTS["THREADS"]) as (base, master):
            figures = http_load.run_wrk(base, master, folder, seconds=seconds, connections=8)
    figures["records"] = name
    runs.append(figures)
    print(
        f"{name:<30}{8:>9}{figures['rps']:>9.0f}{figures['p50_ms']:>9.1f}"
        f"{figures['p99_ms']:>9.1f}{figures['errors']:>9}{figures['peak_worker_rss_mib']:>9.1f}"
        f"{figures['worker_cpu_ms_per_request']:>9.2f}",
        flush=True,
    )
    return {"workers": workers, "seconds_per_run": seconds, "runs": runs}


def cpu_probe() -> float:
    """Milliseconds of a fixed pure-Python loop (best of three): how fast this machine
    runs Python just now, for comparing runs."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        sum(i * i for i in range(2_000_000))
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-http", action="store_true", help="in-process figures only")
    parser.add_argument("--seconds", type=int, default=6, help="wrk duration per line")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.monotonic()
    load = os.getloadavg()
    probe = cpu_probe()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
        f"CPU probe {probe:.0f} ms (the same pure-Python loop every run: a machine slowed "
        "by its neighbours shows here first)"
    )
    print(
        f"{'record':<26}{'res.':>7}{'val.':>6}{'MB':>8}{'floor':>9}{'p50':>9}{'p99':>9}"
        f"{'ratio':>7}"
        f"{'repeat':>9}{'fast':>9}{'full':>9}{'n':>6}"
    )
    print(
        f"{'':<26}{'':>7}{'':>6}{'':>8}{'ms':>9}{'ms':>9}{'ms':>9}{'':>7}{'ms':>9}{'ms':>9}{'ms':>9}"
    )
    rows = in_process()
    http = {"skipped": "--no-http"} if args.no_http else over_http(args.seconds)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in load],
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
            "cpu_probe_ms_at_start": round(probe, 1),
            "cpu_probe_ms_at_end": round(cpu_probe(), 1),
        },
        "in_process": rows,
        "http": http,
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{time.monotonic() - started:.0f} s; wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
