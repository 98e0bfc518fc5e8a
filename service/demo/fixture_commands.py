"""`sclc-cds fixtures new` and `sclc-cds fixtures population`: synthetic patients.

`service.cli` adds `add_fixtures_parser` to its own parser; each parser's `handler` runs
the command and returns the exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from service.arguments import Parser, date_argument, positive_int
from service.demo import fixtures_dir, population, synth
from service.errors import InputError
from service.settings import Settings

__all__ = ["add_fixtures_parser"]


def add_fixtures_parser(commands: Any) -> None:
    """`sclc-cds fixtures new NAME …` and `sclc-cds fixtures population N …`."""
    fixtures = commands.add_parser("fixtures", help="synthetic SCLC patients for tests")
    kinds = fixtures.add_subparsers(dest="action", required=True, parser_class=Parser)
    add_population_parser(kinds)
    new = kinds.add_parser(
        "new",
        help="write a synthetic patient Bundle from a short description",
        description=synth.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    new.add_argument("name", help="scenario name: the Patient id and the file name")
    new.add_argument(
        "--regimen",
        action="append",
        default=[],
        type=_regimen,
        help="AGENT[+AGENT]@YYYY-MM-DD[xCYCLES][qDAYS], once per line of therapy",
    )
    new.add_argument(
        "--progression",
        action="append",
        default=[],
        type=date_argument,
        help="date of an mCODE 'worsened' disease status (repeatable)",
    )
    new.add_argument(
        "--relapse",
        action="append",
        default=[],
        type=date_argument,
        help="onset of an SCLC recurrence Condition (repeatable)",
    )
    new.add_argument("--stage", choices=["extensive", "limited", "unknown"], default="extensive")
    new.add_argument(
        "--born",
        type=date_argument,
        default=synth.PatientSpec.__dataclass_fields__["born"].default,
    )
    new.add_argument(
        "--diagnosed",
        type=date_argument,
        default=None,
        help="diagnosis date (default: a week before the first dose)",
    )
    new.add_argument("--deceased", type=date_argument, default=None)
    new.add_argument("--ecog", type=int, choices=range(6), default=None)
    new.add_argument(
        "--lab",
        action="append",
        default=[],
        help=f"NAME=VALUE, NAME one of {', '.join(synth.LABS)} (repeatable)",
    )
    new.add_argument(
        "--out",
        type=Path,
        default=None,
        help="file to write (default: fhir_fixtures/NAME.json; - for stdout)",
    )
    new.set_defaults(handler=run_new_fixture)


def _regimen(text: str) -> synth.Regimen:
    try:
        return synth.parse_regimen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def run_new_fixture(args: argparse.Namespace) -> int:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", args.name):
        raise InputError("the name must be lowercase letters, digits and dashes (a FHIR id)")
    spec = synth.PatientSpec(
        id=args.name,
        regimens=tuple(args.regimen),
        progressions=tuple(args.progression),
        relapses=tuple(args.relapse),
        stage=args.stage,
        born=args.born,
        diagnosed=args.diagnosed,
        deceased=args.deceased,
        ecog=args.ecog,
        labs=synth.parse_labs(args.lab),
    )
    text = json.dumps(synth.bundle_for(spec), indent=2) + "\n"
    if str(args.out) == "-":
        print(text, end="")
        return 0
    out = args.out or Path("fhir_fixtures") / f"{args.name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}", file=sys.stderr)
    return 0


def add_population_parser(kinds: Any) -> None:
    """`sclc-cds fixtures population N [--out DIR] …`."""
    made = kinds.add_parser(
        "population",
        help="write a synthetic population as a Bulk Data export (tests, benchmarks)",
        description=population.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    made.add_argument("patients", type=positive_int, help="number of patients")
    made.add_argument("--out", type=Path, default=None, help="default: population-N")
    made.add_argument("--seed", type=int, default=1)
    made.add_argument(
        "--sclc-share",
        type=float,
        default=population.SCLC_SHARE,
        help="share of patients copied from the fixtures' scenarios",
    )
    made.add_argument("--today", type=date_argument, default=population.DEFAULT_TODAY)
    made.add_argument("--plain", action="store_true", help=".ndjson files (default .ndjson.gz)")
    made.add_argument(
        "--block",
        type=positive_int,
        default=population.BLOCK_PATIENTS,
        help="patients per file of each type",
    )
    made.add_argument(
        "--jobs", type=positive_int, default=os.cpu_count() or 1, help="processes writing blocks"
    )
    made.add_argument(
        "--fixtures", type=Path, default=None, help="scenario Bundles (default: fhir_fixtures/)"
    )
    made.set_defaults(handler=run_population)


def run_population(args: argparse.Namespace) -> int:
    """Write the population export; report where on stderr."""
    settings = Settings.from_env(os.environ)
    spec = population.PopulationSpec(
        patients=args.patients,
        seed=args.seed,
        sclc_share=args.sclc_share,
        today=args.today,
        compress=not args.plain,
        block=args.block,
    )
    out = args.out or Path(f"population-{args.patients}")
    fixtures = args.fixtures or fixtures_dir(settings)
    started = time.perf_counter()
    written = population.write_population(spec, out, fixtures=fixtures, jobs=args.jobs)
    resources = sum(f.count for f in written)
    print(
        f"wrote {out}: {args.patients:,} patients, {resources:,} resources in {len(written)} "
        f"files ({time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return 0
