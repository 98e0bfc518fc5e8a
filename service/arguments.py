"""argparse pieces every `sclc-cds` command shares: one-line usage errors, dates, counts."""

from __future__ import annotations

import argparse
from datetime import date
from typing import NoReturn

__all__ = ["EXIT_INPUT", "Parser", "date_argument", "positive_int"]

EXIT_INPUT = 2  # unusable input or usage: a one-line reason on stderr


class Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line, exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: {message}\n")


def date_argument(text: str) -> date:
    """A `YYYY-MM-DD` argument."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def positive_int(text: str) -> int:
    """A whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return value
