"""`sclc-cds`: serve the CDS Hooks service, evaluate a FHIR record, or write a synthetic patient."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

from service import create_app, synth
from service.errors import InputError
from service.fhir import load_path
from service.http.server import exposure_problem, is_loopback, serve
from service.pipeline import DEFAULT_BASE_URL, assess, assess_each
from service.screen.cli import add_population_parser, add_screen_parser
from service.settings import Settings

__all__ = ["main"]

EXIT_INPUT = 2
TODAY_VARIABLE = "SCLC_CDS_TODAY"  # the service's fixed evaluation date (service.settings)


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message}\n")


def _date_argument(text: str) -> date:
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
    run.add_argument(
        "--today",
        type=_date_argument,
        default=None,
        help=f"evaluation date (default: ${TODAY_VARIABLE}, else today)",
    )
    run.add_argument("--hook", default="patient-view", choices=["patient-view"])
    run.add_argument("--patient", default=None, help="Patient id, when the input holds several")
    serve = commands.add_parser("serve", help="serve the CDS Hooks service (gunicorn)")
    serve.add_argument(
        "--host", default=None, help="address to listen on (default: $SCLC_CDS_HOST, 127.0.0.1)"
    )
    serve.add_argument(
        "--port", type=int, default=None, help="port to listen on (default: $SCLC_CDS_PORT, 8080)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="gunicorn worker processes (default: $SCLC_CDS_WORKERS, one per CPU)",
    )
    fixtures = commands.add_parser("fixtures", help="synthetic SCLC patients for tests")
    kinds = fixtures.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add_population_parser(kinds)
    add_screen_parser(commands)
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
        type=_date_argument,
        help="date of an mCODE 'worsened' disease status (repeatable)",
    )
    new.add_argument(
        "--relapse",
        action="append",
        default=[],
        type=_date_argument,
        help="onset of an SCLC recurrence Condition (repeatable)",
    )
    new.add_argument("--stage", choices=["extensive", "limited", "unknown"], default="extensive")
    new.add_argument(
        "--born",
        type=_date_argument,
        default=synth.PatientSpec.__dataclass_fields__["born"].default,
    )
    new.add_argument(
        "--diagnosed",
        type=_date_argument,
        default=None,
        help="diagnosis date (default: a week before the first dose)",
    )
    new.add_argument("--deceased", type=_date_argument, default=None)
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
    return parser


def _regimen(text: str) -> synth.Regimen:
    try:
        return synth.parse_regimen(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _new_fixture(args: argparse.Namespace) -> int:
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


def _evaluate(args: argparse.Namespace) -> Any:
    resources, warnings = load_path(args.path)
    settings = Settings.from_env(os.environ)
    today = args.today or settings.evaluation_date()
    if args.patient is not None:
        # §1: the named patient alone; another Patient is never evaluated in its place.
        found = assess(
            resources,
            patient_id=args.patient,
            today=today,
            thresholds=settings.thresholds,
            warnings=warnings,
            base_url=settings.base_url or DEFAULT_BASE_URL,
        )
        if found.record.patient is None:
            raise InputError(f"no Patient with id {args.patient!r} in {args.path}")
        return found.to_json()
    # `cards` are exactly what the patient-view service returns for the same record.
    results = [
        a.to_json()
        for a in assess_each(
            resources,
            today=today,
            thresholds=settings.thresholds,
            warnings=warnings,
            base_url=settings.base_url or DEFAULT_BASE_URL,
        )
    ]
    return results[0] if len(results) == 1 else results


def _serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env(os.environ)  # a bad SCLC_CDS_* setting fails here
    host = args.host or settings.host
    problem = exposure_problem(settings, host)
    if problem:
        raise InputError(problem)
    # The demo and the fixture /fhir: on by default only when bound to loopback.
    demo = is_loopback(host) if settings.demo is None else settings.demo
    app = create_app({"DEMO": demo})
    serve(
        app,
        settings,
        host=host,
        port=args.port or settings.port,
        workers=args.workers or settings.workers,
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if hasattr(args, "handler"):  # commands wired in from their packages (screen, ...)
            return int(args.handler(args))
        if args.command == "serve":
            return _serve(args)
        if args.command == "fixtures":
            return _new_fixture(args)
        output = _evaluate(args)
    except (InputError, ValueError) as error:
        print(f"sclc-cds: {error}", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
