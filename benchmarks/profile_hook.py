"""Where a patient-view call spends its time, stage by stage, and cProfile's top functions.

    .venv/bin/python benchmarks/profile_hook.py [--size 20000] [--top 20]

One real-shaped record (`benchmarks/records.py`) of `--size` resources. First the
stages of `service.http.cds_hooks.call_service` run one by one (median of `--runs`, the
garbage collector paused as in a call), beside the floor (`json.loads` of the body);
then one whole call through the Flask test client under cProfile, its functions by
their own time. Figures for docs/PERFORMANCE.md; nothing is checked.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import logging
import pstats
import statistics
import tempfile
import time
from datetime import date

from records import hook_body, padded_bundle, prefetch_of

from service import hooks
from service.cache import CONTENT_BYTES_EACH
from service.cards import patient_view_cards
from service.engine import evaluate
from service.fetch.gather import gather
from service.fhir import MODELS, select
from service.hooks.body import loads, sent_prefetch
from service.http.factory import create_app
from service.http.log import LOGGER_NAME
from service.http.state import EXTENSION

TODAY = date(2026, 11, 21)
PATH = "/cds-services/sclc-relapse-patient-view"


def _one_run(body: bytes, patient: str, times: dict[str, list[float]]) -> None:
    service = hooks.find_service("sclc-relapse-patient-view")
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        times.setdefault(name, []).append((now - clock) * 1000)
        clock = now

    json.loads(body)
    lap("floor: json.loads")
    if len(body) <= CONTENT_BYTES_EACH:  # the request-content key (service.hooks.call)
        sent = sent_prefetch(body)
        if sent is not None:
            hooks.parse_hook_request(sent.rest, hook=service.hook)
    lap("request key: prefetch cut out")
    document = loads(body)
    lap("body: json + limits")
    request = hooks.parse_hook_request(document, hook=service.hook)
    lap("request model")
    gathered = gather(
        service.prefetch, prefetch=request.prefetch, context=request.context, client=None
    )
    lap("prefetch: bundles, duplicates")
    selection = select(gathered.resources, patient_id=patient, today=TODAY)
    lap("reader: scan and plan")
    record = selection.record()
    lap("reader: validate, facts")
    evaluation = evaluate(record, today=TODAY)
    lap("engine: evaluate")
    patient_view_cards(evaluation, base_url="http://localhost")
    lap("cards")
    del document, request, gathered, selection
    lap("freeing, after the answer")


def validation_alone(body: bytes, patient: str, runs: int) -> tuple[int, float]:
    """How many resources the reader validates for this record, and the median ms of
    validating just those with their fhir.resources models (the least a reader that
    validates what the engine reads can spend)."""
    service = hooks.find_service("sclc-relapse-patient-view")
    request = hooks.parse_hook_request(loads(body), hook=service.hook)
    gathered = gather(
        service.prefetch, prefetch=request.prefetch, context=request.context, client=None
    )
    selection = select(gathered.resources, patient_id=patient, today=TODAY)
    selection.record()
    validated = [raw.resource for raw in selection.validated()]
    times = []
    for _ in range(max(runs, 50)):
        gc.disable()
        start = time.perf_counter()
        for resource in validated:
            MODELS[resource["resourceType"]].model_validate(resource)
        times.append((time.perf_counter() - start) * 1000)
        gc.enable()
    return len(validated), statistics.median(times)


def stages(body: bytes, patient: str, runs: int) -> dict[str, float]:
    """Median ms of each stage of a call, the collector paused."""
    times: dict[str, list[float]] = {}
    for _ in range(runs):
        gc.disable()
        try:
            _one_run(body, patient, times)
        finally:
            gc.enable()
    return {name: statistics.median(found) for name, found in times.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--top", type=int, default=20)
    args = parser.parse_args()
    patient, prefetch = prefetch_of(padded_bundle("third-line", args.size))
    body = json.dumps(hook_body(patient, prefetch)).encode()
    print(f"{args.size:,} resources, {len(body) / 1e6:.1f} MB; median of {args.runs} runs\n")
    found = stages(body, patient, args.runs)
    floor = found["floor: json.loads"]
    for name, ms in found.items():
        print(f"{name:<32}{ms:>9.2f} ms{ms / floor:>7.2f} x floor")
    count, ms = validation_alone(body, patient, args.runs)
    print(
        f"\nof the reader's stages, fhir.resources' model_validate of the {count} resources it"
        f" reads:\n{'':<32}{ms:>9.2f} ms{ms / floor:>7.2f} x floor"
    )
    scratch = tempfile.TemporaryDirectory()
    app = create_app(
        {
            "TODAY": TODAY.isoformat(),
            "FEEDBACK_DB": f"{scratch.name}/f.db",
            "MAX_BODY_BYTES": 1 << 26,
        }
    )
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    client = app.test_client()
    client.post(PATH, data=body, content_type="application/json")  # warm up
    app.extensions[EXTENSION].cache.clear()
    profile = cProfile.Profile()
    profile.enable()
    client.post(PATH, data=body, content_type="application/json")
    profile.disable()
    print("\nOne call under cProfile, by own time:")
    pstats.Stats(profile).strip_dirs().sort_stats("tottime").print_stats(args.top)
    scratch.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
