"""Settings read from the environment (documented in the README's configuration table)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from service.engine.rules import DEFAULT_THRESHOLDS, Thresholds

__all__ = ["THRESHOLD_PREFIX", "thresholds_from_env"]

THRESHOLD_PREFIX = "SCLC_CDS_THRESHOLD_"


def thresholds_from_env(environ: Mapping[str, str]) -> Thresholds:
    """`Thresholds` with any `SCLC_CDS_THRESHOLD_<FIELD>` overrides applied.

    Raises ValueError naming the variable when a value is not a number.
    """
    changes: dict[str, Any] = {}
    for spec in dataclasses.fields(Thresholds):
        name = THRESHOLD_PREFIX + spec.name.upper()
        if name not in environ:
            continue
        default = getattr(DEFAULT_THRESHOLDS, spec.name)
        try:
            changes[spec.name] = type(default)(environ[name])
        except ValueError:
            raise ValueError(f"{name} must be a {type(default).__name__}") from None
    return dataclasses.replace(DEFAULT_THRESHOLDS, **changes)
