"""Screen a population: a FHIR Bulk Data export in, a relapse worklist and a report out.

    export.py      the export on disk: manifest, NDJSON files, chunks of lines
    triage.py      cheap decisions on raw lines (which patients may have SCLC, whose line)
    plan.py        the Dask job: scan, split, gather medications, evaluate
    worklist.py    one row per SCLC patient, as Parquet and CSV
    report.py      the HTML report with its pictures
    bulk.py        the $export client (SMART Backend Services)
    population.py  a synthetic population export, for tests and benchmarks
    cli.py         `sclc-cds screen` and `sclc-cds fixtures population`

Every patient is evaluated by `service.pipeline.assess`, as the CDS Hooks service does.
"""

__all__ = ["bulk", "cli", "export", "plan", "population", "report", "triage", "worklist"]
