"""`sclc-cds screen`: the argparse wiring and its handler.

`service.cli` adds these parsers to its own; each parser's `handler` runs the command
and returns the exit status. Usage errors and unusable input raise `InputError` or
`ValueError`, which `service.cli.main` turns into exit 2 with a one-line reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Any

import requests

from service.arguments import date_argument, positive_int
from service.errors import InputError
from service.pipeline import DEFAULT_BASE_URL
from service.screen import bulk, bulk_limits
from service.screen.backend_services import ALGORITHMS, BackendCredentials
from service.screen.export import read_export
from service.settings import Settings

__all__ = ["add_screen_parser", "run_screen"]

OUTPUTS = ("worklist.parquet", "worklist.csv", "report.html")


def add_screen_parser(commands: Any) -> None:
    """`sclc-cds screen EXPORT [--out DIR] …` (and its --bulk-export options)."""
    screen = commands.add_parser(
        "screen",
        help="screen a FHIR Bulk Data export: relapse worklist, trial candidates, report",
        description=(
            "Evaluate every patient of a Bulk Data export with the CDS Hooks service's own "
            "pipeline, on a Dask cluster (a local one by default), and write "
            "worklist.parquet, worklist.csv and report.html (one row per SCLC patient)."
        ),
    )
    screen.add_argument(
        "export",
        type=Path,
        nargs="?",
        default=None,
        help="export folder (manifest.json or *.ndjson / *.ndjson.gz), or a manifest; "
        "with --bulk-export, the folder to download into (default OUT/export)",
    )
    screen.add_argument("--out", type=Path, default=Path("screen-results"), help="output folder")
    screen.add_argument(
        "--today", type=date_argument, default=None, help="evaluation date (default: as `evaluate`)"
    )
    screen.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="worker processes of the local cluster (default: one per CPU)",
    )
    screen.add_argument(
        "--scheduler",
        default=None,
        help="a running Dask scheduler (tcp://host:8786) instead of a local cluster; its "
        "workers must see the export and OUT at the same paths",
    )
    screen.add_argument(
        "--evaluations",
        action="store_true",
        help="also write evaluations.ndjson: each SCLC patient's evaluation JSON",
    )
    fetch = screen.add_argument_group("running the export first (SMART Backend Services)")
    fetch.add_argument("--bulk-export", metavar="URL", default=None, help="kick-off URL")
    fetch.add_argument("--client-id", default=None, help="the registered client id")
    fetch.add_argument(
        "--private-key", type=Path, default=None, help="PEM private key that signs assertions"
    )
    fetch.add_argument("--algorithm", choices=sorted(ALGORITHMS), default="ES384")
    fetch.add_argument("--key-id", default=None, help="the key's `kid` in the client's JWK Set")
    fetch.add_argument("--token-url", default=None, help="default: from smart-configuration")
    fetch.add_argument("--scope", default="system/*.read")
    fetch.add_argument(
        "--type",
        action="append",
        default=None,
        help=f"resource type to export (repeatable; default: {', '.join(bulk.DEFAULT_TYPES)})",
    )
    fetch.add_argument("--since", default=None, help="_since: only resources changed after it")
    fetch.add_argument(
        "--bulk-allow-origin",
        action="append",
        default=None,
        metavar="ORIGIN",
        help="an origin besides the kick-off's that may get the access token (repeatable; "
        "default: SCLC_CDS_BULK_ALLOW_ORIGINS, else none)",
    )
    for option, what in (
        ("line", "longest NDJSON line, decompressed"),
        ("decompressed", "largest file, decompressed"),
        ("file", "largest file, as downloaded"),
        ("export", "largest export, every file on disk together"),
    ):
        variable = f"SCLC_CDS_BULK_MAX_{option.upper()}_BYTES"
        fetch.add_argument(
            f"--bulk-max-{option}-bytes",
            type=positive_int,
            default=None,
            metavar="BYTES",
            help=f"the {what} (default: {variable}, else "
            f"{bulk_limits.size_text(getattr(bulk_limits.DEFAULT_LIMITS, f'max_{option}_bytes'))})",
        )
    screen.set_defaults(handler=run_screen)


class TerminalProgress:
    """Stage progress on stderr: one line redrawn on a terminal, one line per stage else."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.tty = sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self.started
        line = f"{stage}: {done}/{total} tasks ({elapsed:.1f} s)"
        if self.tty:
            print(f"\r{line:<72}", end="\n" if done == total else "", file=sys.stderr, flush=True)
        elif done == total:
            print(line, file=sys.stderr, flush=True)

    def note(self, message: str) -> None:
        """A line from the export client (no patient data, no tokens)."""
        print(message, file=sys.stderr, flush=True)


def _limits(args: argparse.Namespace, settings: Settings) -> bulk_limits.BulkLimits:
    """The caps: the --bulk-max-… options, else the settings."""
    given = {
        f"max_{option}_bytes": value
        for option in ("line", "decompressed", "file", "export")
        if (value := getattr(args, f"bulk_max_{option}_bytes")) is not None
    }
    return dataclasses.replace(settings.bulk_limits, **given)


def _download(args: argparse.Namespace, progress: TerminalProgress, settings: Settings) -> Path:
    if bool(args.client_id) != bool(args.private_key):
        raise InputError("SMART Backend Services needs both --client-id and --private-key")
    if not args.client_id:
        credentials = None  # an open server
    else:
        try:
            key = args.private_key.read_text(encoding="utf-8")
        except OSError as error:
            raise InputError(
                f"cannot read {args.private_key}: {error.__class__.__name__}"
            ) from None
        credentials = BackendCredentials(
            client_id=args.client_id,
            private_key=key,
            algorithm=args.algorithm,
            key_id=args.key_id,
            token_url=args.token_url,
            scope=args.scope,
        )
    folder = args.export or args.out / "export"
    with requests.Session() as session:
        client = bulk.BulkClient(
            session,
            credentials=credentials,
            progress=progress.note,
            allow_origins=args.bulk_allow_origin or settings.bulk_allow_origins,
            limits=_limits(args, settings),
        )
        return client.export(
            args.bulk_export,
            folder,
            types=tuple(args.type or bulk.DEFAULT_TYPES),
            since=args.since,
        )


def run_screen(args: argparse.Namespace) -> int:
    """Screen the export (after running it with --bulk-export); print what was written."""
    # Imported here: Dask, Arrow and matplotlib are only needed by this command.
    try:  # the screen extra: Dask, pyarrow and matplotlib
        from service.screen.dask_cluster import dask_client
        from service.screen.plan import ScreenOptions, screen
        from service.screen.report import write_report
        from service.screen.worklist import write_csv, write_parquet
    except ModuleNotFoundError as missing:
        raise InputError(
            f"`sclc-cds screen` needs {missing.name}, which this installation leaves out: "
            "pip install 'sclc-relapse-cds[screen]'"
        ) from None

    settings = Settings.from_env(os.environ)
    progress = TerminalProgress()
    if args.bulk_export:
        source = _download(args, progress, settings)
    elif args.export is None:
        raise InputError("name the export folder, or give --bulk-export URL")
    else:
        source = args.export
    export = read_export(source)
    options = ScreenOptions(
        today=args.today or settings.evaluation_date(),
        thresholds=settings.thresholds,
        base_url=settings.base_url or DEFAULT_BASE_URL,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    workers = args.workers or os.cpu_count() or 1
    with dask_client(args.scheduler, workers=workers) as client:
        result = screen(
            export,
            client=client,
            options=options,
            workdir=args.out,
            progress=progress,
            evaluations=args.out / "evaluations.ndjson" if args.evaluations else None,
        )
    write_parquet(result.rows, args.out / "worklist.parquet")
    write_csv(result.rows, args.out / "worklist.csv")
    write_report(result, args.out / "report.html")
    written = list(OUTPUTS)
    if args.evaluations:
        written.append("evaluations.ndjson")
    s = result.stats
    elapsed = time.perf_counter() - progress.started
    print(
        f"{s.patients:,} patients, {s.lines:,} resources read in {elapsed:.1f} s "
        f"({s.patients / elapsed:,.0f} patients/s); {s.sclc:,} with SCLC, "
        f"{sum(r.next_line is not None for r in result.rows):,} at a decision point"
    )
    for name in written:
        print(args.out / name)
    return 0
