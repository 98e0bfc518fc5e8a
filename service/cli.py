"""`sclc-cds`: serve the CDS Hooks service, evaluate a FHIR record, screen a population,
or write synthetic patients.

`evaluate` needs only the clinical core; `serve` the web service; `screen` and `fixtures`
are surfaces of their own (`service.screen`, `service.demo`), imported when first used.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from service.arguments import EXIT_INPUT, Parser, date_argument
from service.errors import InputError
from service.fhir import load_path
from service.pipeline import DEFAULT_BASE_URL, assess, assess_each
from service.screen.command import add_screen_parser
from service.settings import Settings, demo_installed

__all__ = ["main"]

TODAY_VARIABLE = "SCLC_CDS_TODAY"  # the service's fixed evaluation date (service.settings)


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="sclc-cds", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    run = commands.add_parser("evaluate", help="print the evaluation JSON of a FHIR record")
    run.add_argument(
        "path", type=Path, help="Bundle, resource, NDJSON, folder or CDS Hooks request"
    )
    run.add_argument(
        "--today",
        type=date_argument,
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
    _add_fixtures_parser(commands)
    add_screen_parser(commands)
    return parser


def _add_fixtures_parser(commands: Any) -> None:
    """`sclc-cds fixtures …` where the demo is installed; else a command that says so."""
    if demo_installed():
        from service.demo.fixture_commands import add_fixtures_parser

        add_fixtures_parser(commands)
        return

    def left_out(args: argparse.Namespace) -> int:
        raise InputError(
            "`sclc-cds fixtures` is part of the demo, which this installation leaves out"
        )

    fixtures = commands.add_parser("fixtures", help="(not installed: the demo is left out)")
    fixtures.add_argument("rest", nargs=argparse.REMAINDER)
    fixtures.set_defaults(handler=left_out)


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
    from service.http.factory import create_app  # the web stack, for this command only
    from service.http.server import exposure_problem, is_loopback, serve

    settings = Settings.from_env(os.environ)  # a bad SCLC_CDS_* setting fails here
    host = args.host or settings.host
    problem = exposure_problem(settings, host)
    if problem:
        raise InputError(problem)
    # The demo and the fixture /fhir: on by default only when bound to loopback.
    demo = (is_loopback(host) and demo_installed()) if settings.demo is None else settings.demo
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
        output = _evaluate(args)
    except (InputError, ValueError) as error:
        print(f"sclc-cds: {error}", file=sys.stderr)
        return EXIT_INPUT
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
