"""Screen a population: a FHIR Bulk Data export in, a relapse worklist and a report out.

    export.py            the export on disk: manifest, NDJSON files, chunks of lines
    triage.py            cheap decisions on raw lines (which patients may have SCLC, whose line)
    plan.py              the Dask job: scan, split, gather medications, evaluate
    dask_cluster.py      the cluster it runs on, and how a stage's tasks are run
    worklist.py          one row per SCLC patient, as Parquet and CSV
    report.py            the HTML report with its pictures
    bulk.py              the $export client: kick-off, status, downloads, resumable
    backend_services.py  its access token (SMART Backend Services, a signed JWT)
    bulk_errors.py       the server's error answers: which are transient, Retry-After
    command.py           `sclc-cds screen`

The synthetic population export, for tests and benchmarks, is `service.demo.population`.

Every patient is evaluated by `service.pipeline.assess`, as the CDS Hooks service does.
"""

__all__ = [
    "backend_services",
    "bulk",
    "bulk_errors",
    "command",
    "dask_cluster",
    "export",
    "plan",
    "report",
    "triage",
    "worklist",
]
