"""What one app holds for its requests: its settings, its feedback store and its cache."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import cast

from flask import Flask, current_app

from service.cache import AssessmentCache
from service.settings import Settings
from service.store import Store

__all__ = ["AppState", "evaluation_date", "install", "state"]

EXTENSION = "sclc_cds"


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    store: Store  # the database of feedback and of seen JWT ids and codes (service.store)
    cache: AssessmentCache  # this process's recent assessments (service.cache)


def install(app: Flask, app_state: AppState) -> None:
    """Attach `app_state` to `app` (done once, by `service.create_app`)."""
    app.extensions[EXTENSION] = app_state


def state() -> AppState:
    """The current app's state (inside a request or an app context)."""
    return cast(AppState, current_app.extensions[EXTENSION])


def evaluation_date() -> date:
    """The day the current app evaluates at (SCLC_CDS_TODAY, else today)."""
    return state().settings.evaluation_date()
