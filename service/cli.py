"""`sclc-cds`: evaluate a FHIR record from the command line (and, later, serve hooks)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from service.config import thresholds_from_env
from service.engine import evaluate
from service.errors import InputError
from service.fhir import build_records, load_path

__all__ = ["main"]

EXIT_INPUT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message}\n")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sclc-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("evaluate", help="print the evaluation JSON of a FHIR record")
    run.add_argument(
        "path", type=Path, help="Bundle, resource, NDJSON, folder or CDS Hooks request"
    )
    run.add_argument("--today", type=_day, default=None, help="evaluation date (default: today)")
    run.add_argument("--hook", default="patient-view", choices=["patient-view"])
    run.add_argument("--patient", default=None, help="Patient id, when the input holds several")
    return parser


def _evaluate(args: argparse.Namespace) -> Any:
    resources, warnings = load_path(args.path)
    records = [r for r in build_records(resources, warnings=warnings) if r.patient is not None]
    if args.patient is not None:
        records = [r for r in records if r.patient and r.patient.ref == f"Patient/{args.patient}"]
        if not records:
            raise InputError(f"no Patient with id {args.patient!r} in {args.path}")
    if not records:
        raise InputError(f"no Patient resource in {args.path}")
    today = args.today or date.today()
    thresholds = thresholds_from_env(os.environ)
    results = [evaluate(r, today=today, thresholds=thresholds).to_json() for r in records]
    return results[0] if len(results) == 1 else results


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "evaluate":
            output = _evaluate(args)
    except (InputError, ValueError) as error:
        print(f"sclc-cds: {error}", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
