"""The relapse worklist: one row per SCLC patient, written as Parquet and CSV.

A row is read off the patient's `Evaluation` (the hook's, through `service.pipeline`),
its "Check the record" items included (`Evaluation.record_issues`, what the summary
card lists), so the worklist says what the hook would say. `COLUMNS` is the one list of columns:
names, Parquet types and CSV text all follow it. Rows are written sorted by patient
id, in a fixed serialisation, so the same export gives the same bytes.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from service.engine.model import Evaluation, Platinum
from service.engine.rules import TRIAL_ID

__all__ = ["COLUMNS", "Row", "read_parquet", "row_of", "write_csv", "write_parquet"]


@dataclass(frozen=True, slots=True)
class Row:
    """One SCLC patient's line of the worklist (None: unknown or not applicable)."""

    patient_id: str
    age: int | None
    deceased: bool
    stage: str | None
    diagnosed: date | None
    lines: int
    latest_line: str | None  # its agents, "carboplatin+etoposide"
    progression: date | None
    progression_estimated: bool | None
    last_platinum: date | None
    platinum_free_days: int | None  # 0 when refractory (progressed during platinum)
    platinum_class: str | None  # refractory | resistant | sensitive | unknown
    rechallenge_window: bool | None
    next_line: int | None  # set at a relapse decision point (§6)
    options: tuple[str, ...]  # ids, in the cards' order
    recommended: tuple[str, ...]
    trial: str | None  # NCT07632209 when pre-screened
    trial_verdict: str | None
    trial_unmet: tuple[str, ...]
    trial_unknown: tuple[str, ...]
    check_the_record: int  # items under "Check the record" on the summary card


def _text_list() -> Any:
    return pa.list_(pa.string())


# The Parquet type of each field of `Row`; the columns of both files are `Row`'s fields,
# in its order.
_PARQUET_TYPES: dict[str, Callable[[], Any]] = {
    "patient_id": pa.string,
    "age": pa.int32,
    "deceased": pa.bool_,
    "stage": pa.string,
    "diagnosed": pa.date32,
    "lines": pa.int32,
    "latest_line": pa.string,
    "progression": pa.date32,
    "progression_estimated": pa.bool_,
    "last_platinum": pa.date32,
    "platinum_free_days": pa.int32,
    "platinum_class": pa.string,
    "rechallenge_window": pa.bool_,
    "next_line": pa.int32,
    "options": _text_list,
    "recommended": _text_list,
    "trial": pa.string,
    "trial_verdict": pa.string,
    "trial_unmet": _text_list,
    "trial_unknown": _text_list,
    "check_the_record": pa.int32,
}
COLUMNS: tuple[tuple[str, Callable[[], Any]], ...] = tuple(
    (f.name, _PARQUET_TYPES[f.name]) for f in fields(Row)
)
LIST_SEPARATOR = "; "  # CSV cells of list columns (criteria hold commas, never semicolons)


def _free_days(platinum: Platinum | None) -> int | None:
    """The platinum-free interval; 0 for a progression during platinum therapy (refractory,
    §7 v3: a worklist never shows a negative interval)."""
    if platinum is None or platinum.interval_days is None:
        return None
    return max(platinum.interval_days, 0)


def row_of(evaluation: Evaluation) -> Row:
    """The worklist row of an SCLC patient's evaluation."""
    e = evaluation
    latest = e.lines[-1] if e.lines else None
    trial = next((t for t in e.trials if t.id == TRIAL_ID), None)
    criteria = trial.criteria if trial else ()
    platinum = e.platinum
    return Row(
        patient_id=e.patient.id or "",
        age=e.patient.age,
        deceased=e.patient.deceased,
        stage=e.diagnosis.stage,
        diagnosed=e.diagnosis.diagnosed,
        lines=len(e.lines),
        latest_line="+".join(latest.agents) if latest else None,
        progression=e.progression.date if e.progression else None,
        progression_estimated=e.progression.estimated if e.progression else None,
        last_platinum=platinum.last_dose if platinum else None,
        platinum_free_days=_free_days(platinum),
        platinum_class=platinum.sensitivity if platinum else None,
        rechallenge_window=platinum.rechallenge_window if platinum else None,
        next_line=e.next_line,
        options=tuple(o.id for o in e.options),
        recommended=tuple(o.id for o in e.options if o.status == "recommended"),
        trial=trial.id if trial else None,
        trial_verdict=trial.verdict if trial else None,
        trial_unmet=tuple(c.criterion for c in criteria if c.result == "not-met"),
        trial_unknown=tuple(c.criterion for c in criteria if c.result == "unknown"),
        check_the_record=len(e.record_issues),
    )


def _sorted(rows: Sequence[Row]) -> list[Row]:
    return sorted(rows, key=lambda r: r.patient_id)


def _table(rows: Sequence[Row]) -> Any:
    ordered = _sorted(rows)
    schema = pa.schema([(name, kind()) for name, kind in COLUMNS])
    columns = {
        name: [list(v) if isinstance(v, tuple) else v for v in (getattr(r, name) for r in ordered)]
        for name, _ in COLUMNS
    }
    return pa.Table.from_pydict(columns, schema=schema)


def write_parquet(rows: Sequence[Row], path: Path) -> None:
    """The rows as a Parquet file (zstd), sorted by patient id."""
    pq.write_table(_table(rows), path, compression="zstd")


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """A worklist Parquet file's rows as dictionaries (lists for list columns)."""
    rows: list[dict[str, Any]] = pq.read_table(path).to_pylist()
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return LIST_SEPARATOR.join(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(rows: Sequence[Row], path: Path) -> None:
    """The rows as CSV (UTF-8, `\\n` line ends, a header), sorted by patient id."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow([name for name, _ in COLUMNS])
        for row in _sorted(rows):
            writer.writerow([_cell(getattr(row, name)) for name, _ in COLUMNS])
