"""Print how long reading and evaluating takes: fixtures, the largest Synthea bundle, a hook.

    make bench        (or: .venv/bin/python benchmarks/bench_engine.py)

Figures, not pass/fail: median and p95 of repeated runs on this machine.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

from service import create_app
from service.cards import patient_view_cards
from service.engine import evaluate
from service.fhir import build_records, load_path
from service.http.log import LOGGER_NAME

ROOT = Path(__file__).resolve().parents[1]
TODAY = date(2026, 11, 21)
SYNTHEA = ROOT.parent / "shared" / "external_fhir" / "synthea-r4"


def timed(label: str, run: Callable[[], object], repeat: int) -> None:
    run()  # warm caches (catalogue, knowledge, models)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        f"{label:<48} median {statistics.median(samples):8.2f} ms   p95 {p95:8.2f} ms   n={repeat}"
    )


def read_and_evaluate(path: Path) -> Callable[[], object]:
    def run() -> object:
        resources, warnings = load_path(path)
        (record,) = build_records(resources, warnings=warnings)
        evaluation = evaluate(record, today=TODAY)
        return patient_view_cards(evaluation)

    return run


def main() -> None:
    fixture = ROOT / "fhir_fixtures" / "third-line.json"
    timed("fixture third-line: read + evaluate + cards", read_and_evaluate(fixture), 200)
    resources, warnings = load_path(fixture)
    (record,) = build_records(resources, warnings=warnings)
    timed("fixture third-line: evaluate only", lambda: evaluate(record, today=TODAY), 2000)
    largest = max(SYNTHEA.glob("*.json"), key=lambda p: p.stat().st_size, default=None)
    if largest is not None:
        size = largest.stat().st_size / 1e6
        timed(f"Synthea {largest.name[:20]}… ({size:.1f} MB)", read_and_evaluate(largest), 10)
    scratch = tempfile.TemporaryDirectory()
    app = create_app({"TODAY": TODAY.isoformat(), "FEEDBACK_DB": f"{scratch.name}/feedback.db"})
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)  # figures only, no call log
    client = app.test_client()
    discovery = client.get("/cds-services").get_json()["services"][0]
    bundle = client.get("/demo/api/patients/third-line").get_json()
    entries = [e["resource"] for e in bundle["entry"]]
    prefetch = {}
    for key, template in discovery["prefetch"].items():
        kind = template.split("/")[0].split("?")[0]
        found = [r for r in entries if r["resourceType"] == kind]
        prefetch[key] = (
            found[0]
            if kind == "Patient"
            else {
                "resourceType": "Bundle",
                "type": "searchset",
                "entry": [{"resource": r} for r in found],
            }
        )

    def hook() -> object:
        body = {
            "hook": "patient-view",
            "hookInstance": str(uuid.uuid4()),
            "context": {"patientId": "third-line", "userId": "Practitioner/1"},
            "prefetch": prefetch,
        }
        response = client.post("/cds-services/sclc-relapse-patient-view", json=body)
        if response.status_code != 200:
            raise SystemExit(f"patient-view answered {response.status_code}")
        return response

    timed("patient-view hook (test client, full prefetch)", hook, 200)
    scratch.cleanup()


if __name__ == "__main__":
    main()
