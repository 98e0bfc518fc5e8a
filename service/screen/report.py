"""The screen's HTML report: counts, four pictures and two tables, in one file.

Pictures are drawn with matplotlib and inlined as SVG (no file, font or script is
fetched from anywhere): patients by next line, the platinum-free interval by class,
the NCT07632209 pre-screen funnel criterion by criterion, and what the records to fix
say. The same screen result gives the same bytes (fixed SVG ids, no dates or timings).

Record text reaches the pictures (the kinds of "Check the record" items): it is drawn
as text, never read as mathtext (`text.parse_math` off, so a `$` is a `$`). A picture
that cannot be drawn all the same leaves a note in its place; the tables are written.
"""

from __future__ import annotations

import html
import io
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure

from service.cards import check_item
from service.engine.model import RecordIssue
from service.engine.rules import RECHALLENGE_WINDOW_DAYS, SENSITIVE_DAYS, TRIAL_ID
from service.engine.trials import criterion_names
from service.screen.plan import ScreenResult
from service.screen.worklist import Row

__all__ = ["TABLE_LIMIT", "plain", "render_report", "write_report"]

TABLE_LIMIT = 500  # rows per table; the worklist files hold them all
_CLASSES = (("refractory", "#8c2d04"), ("resistant", "#f16913"), ("sensitive", "#2171b5"))
_MET, _UNKNOWN, _OUT = "#41ab5d", "#fdae6b", "#bdbdbd"
_MARKDOWN_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|~>])")
_RECORD = re.compile(r"\b[A-Z][A-Za-z]+/[A-Za-z0-9\-.#]+")
_DATE = re.compile(r"\b\d{4}(?:-\d{2}){0,2}\b")
_NUMBER = re.compile(r"\b\d+\b")
# No RDF block in the SVGs: no date (the same bytes every run), no creator URL.
_NO_METADATA: dict[str, Any] = {"Date": None, "Creator": None, "Format": None, "Type": None}


def plain(item: str) -> str:
    """A "Check the record" item as plain text (the card's markdown escapes undone)."""
    return html.unescape(_MARKDOWN_ESCAPE.sub(r"\1", item))


def _kind(item: str) -> str:
    """An item with its records, dates and numbers masked: what kind of problem it is."""
    text = _NUMBER.sub("N", _DATE.sub("DATE", _RECORD.sub("RECORD", plain(item))))
    return text if len(text) <= 90 else text[:88] + "…"


def _style() -> AbstractContextManager[None]:
    """Fixed SVG ids (the same bytes every run), text left as text (small files), and
    no mathtext: record text with `$` in it is drawn as written."""
    return rc_context(
        {
            "svg.hashsalt": "sclc-screen",
            "svg.fonttype": "none",
            "font.size": 9.0,
            "text.parse_math": False,
            "text.usetex": False,
        }
    )


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    with _style():
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _bars(
    title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[int], str]]
) -> str:
    """Horizontal stacked bars, one per label, top to bottom."""
    with _style():
        figure = Figure(figsize=(7.5, 0.45 * len(labels) + 1.2))
        axes = figure.subplots()
        positions = list(range(len(labels)))[::-1]
        left = [0] * len(labels)
        for name, values, color in series:
            axes.barh(positions, values, left=left, color=color, label=name)
            left = [a + b for a, b in zip(left, values, strict=True)]
        for position, total in zip(positions, left, strict=True):
            axes.annotate(f" {total}", (total, position), va="center")
        axes.set_yticks(positions, labels)
        axes.set_xlabel("patients")
        axes.set_title(title, loc="left")
        axes.margins(x=0.12)
        if len(series) > 1:
            axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def next_line_picture(rows: Sequence[Row]) -> str:
    """SCLC patients by the line a decision is due for (none: not at a decision point)."""
    counts: Counter[str] = Counter()
    for row in rows:
        if row.deceased:
            counts["deceased"] += 1
        elif row.next_line is None:
            counts["no decision point"] += 1
        else:
            counts[f"line {row.next_line}" if row.next_line < 5 else "line 5+"] += 1
    order = [f"line {n}" for n in range(2, 5)] + ["line 5+", "no decision point", "deceased"]
    labels = [label for label in order if counts[label]] or ["no decision point"]
    return _bars(
        "SCLC patients by next line of therapy",
        labels,
        [("patients", [counts[label] for label in labels], "#2171b5")],
    )


def interval_picture(rows: Sequence[Row]) -> str:
    """The platinum-free interval, stacked by class, with the 90- and 180-day cut-offs."""
    with _style():
        figure = Figure(figsize=(7.5, 3.4))
        axes = figure.subplots()
        days = [r.platinum_free_days for r in rows if r.platinum_free_days is not None]
        top = max([*days, 2 * RECHALLENGE_WINDOW_DAYS])
        edges = list(range(min([0, *days]) // 30 * 30, top + 30, 30))
        axes.hist(
            [
                [
                    r.platinum_free_days
                    for r in rows
                    if r.platinum_class == name and r.platinum_free_days is not None
                ]
                for name, _ in _CLASSES
            ],
            bins=edges,
            stacked=True,
            color=[color for _, color in _CLASSES],
            label=[name for name, _ in _CLASSES],
        )
        for cut in (SENSITIVE_DAYS, RECHALLENGE_WINDOW_DAYS):
            axes.axvline(cut, color="#525252", linestyle="--", linewidth=0.8)
            axes.annotate(f" {cut} days", (cut, 1), xycoords=("data", "axes fraction"), va="top")
        axes.set_xlabel("days from the last platinum dose to progression (30-day bins)")
        axes.set_ylabel("patients")
        axes.set_title("Platinum-free interval by class", loc="left")
        axes.legend(frameon=False)
        axes.spines[["top", "right"]].set_visible(False)
    return _svg(figure)


def funnel_steps(rows: Sequence[Row]) -> list[tuple[str, int, int]]:
    """The pre-screen funnel: for each criterion in order, the patients none of whose
    criteria so far is unmet, as (criterion, all met so far, some unknown so far)."""
    screened = [r for r in rows if r.trial == TRIAL_ID]
    steps = [("pre-screened", len(screened), 0)]
    remaining = [(r, False) for r in screened]
    for name in criterion_names():
        remaining = [
            (r, unknown or name in r.trial_unknown)
            for r, unknown in remaining
            if name not in r.trial_unmet
        ]
        steps.append((name, sum(not u for _, u in remaining), sum(u for _, u in remaining)))
    return steps


def funnel_picture(rows: Sequence[Row]) -> str:
    """The funnel as stacked bars (all met / some unknown), criterion by criterion."""
    steps = funnel_steps(rows)
    return _bars(
        f"{TRIAL_ID} pre-screen: patients still possibly eligible after each criterion",
        [name for name, _, _ in steps],
        [
            ("every criterion so far met", [met for _, met, _ in steps], _MET),
            ("some so far unknown", [unknown for _, _, unknown in steps], _UNKNOWN),
        ],
    )


def check_kinds(checks: Iterable[tuple[str, Sequence[RecordIssue]]]) -> list[tuple[str, int]]:
    """The kinds of "Check the record" items, most frequent first, with patient counts."""
    counts: Counter[str] = Counter()
    for _, items in checks:
        counts.update({_kind(check_item(item)) for item in items})
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def records_picture(checks: Sequence[tuple[str, Sequence[RecordIssue]]]) -> str:
    """Patients by kind of "Check the record" item (the ten most frequent kinds)."""
    kinds = check_kinds(checks)[:10] or [("nothing to check", 0)]
    return _bars(
        "Records to fix: patients by kind of item to check",
        [kind for kind, _ in kinds],
        [("patients", [count for _, count in kinds], _OUT)],
    )


def _figure(draw: Callable[[], str]) -> str:
    """The picture `draw` makes, or a note where it failed (the exception's class only:
    its message may quote record text)."""
    try:
        return f"<figure>{draw()}</figure>"
    except Exception as error:
        return (
            f"<p class=note>This picture could not be drawn ({error.__class__.__name__}); "
            "the tables and the worklist files hold its figures.</p>"
        )


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], total: int) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>" for cells in rows
    )
    more = (
        f"<p class=note>{total - TABLE_LIMIT} more in the worklist files.</p>"
        if total > TABLE_LIMIT
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>{more}"


def _items(items: Sequence[RecordIssue]) -> str:
    """The items as the summary card words them, as plain text."""
    texts = (plain(check_item(item)) for item in items)
    return "<ul>" + "".join(f"<li>{html.escape(text)}</li>" for text in texts) + "</ul>"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 68em; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; width: 100%; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.5em; text-align: left;
         vertical-align: top; }
td ul { margin: 0; padding-left: 1.2em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: 600; } .note { color: #555; font-size: 0.9em; }
figure { margin: 1em 0; } svg { max-width: 100%; height: auto; }
"""


def render_report(result: ScreenResult) -> str:
    """The whole report as one HTML document."""
    rows = result.rows
    s = result.stats
    decision = [r for r in rows if r.next_line is not None]
    candidates = [r for r in rows if r.trial_verdict in ("eligible", "possibly-eligible")]
    summary = [
        ("Evaluation date", result.today.isoformat()),
        ("Export time", result.transaction_time or "not given"),
        ("Patients in the export", f"{s.patients:,}"),
        ("Resources read", f"{s.lines:,}"),
        ("Types not read (the engine does not use them)", ", ".join(s.skipped_types) or "none"),
        ("Patients with SCLC", f"{s.sclc:,}"),
        ("At a relapse decision point", f"{len(decision):,}"),
        (f"{TRIAL_ID}: eligible or possibly eligible", f"{len(candidates):,}"),
        ("Records to fix (items under “Check the record”)", f"{len(result.checks):,}"),
        (
            "Not counted",
            f"{s.not_sclc} with a Condition that looked like SCLC but is not, "
            f"{s.no_patient} with no Patient resource, {s.unreadable} unreadable lines",
        ),
    ]
    trial_rows = (
        [
            html.escape(r.patient_id),
            str(r.next_line),
            html.escape(r.trial_verdict or ""),
            html.escape("; ".join(r.trial_unknown)) or "—",
        ]
        for r in candidates[:TABLE_LIMIT]
    )
    fix_rows = (
        [html.escape(pid), str(len(items)), _items(items)]
        for pid, items in result.checks[:TABLE_LIMIT]
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>SCLC relapse screen</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>SCLC relapse screen</h1>",
        "<p class=note>Decision support from the record, as the CDS Hooks service shows it "
        "patient by patient; not an order. The study team decides trial eligibility.</p>",
        "<dl>"
        + "".join(f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in summary)
        + "</dl>",
        "<h2>Where the patients stand</h2>",
        _figure(lambda: next_line_picture(rows)),
        _figure(lambda: interval_picture(rows)),
        "<p class=note>Refractory: progression on or before the last platinum dose; "
        f"resistant: under {SENSITIVE_DAYS} days; sensitive: {SENSITIVE_DAYS} days or more; "
        f"re-challenge window from {RECHALLENGE_WINDOW_DAYS} days. Patients without a "
        f"platinum-free interval: {sum(r.platinum_free_days is None for r in rows)}.</p>",
        f"<h2>{TRIAL_ID} pre-screen</h2>",
        _figure(lambda: funnel_picture(rows)),
        _table(
            ["Patient", "Next line", "Pre-screen", "Unknown from the record"],
            trial_rows,
            len(candidates),
        ),
        "<h2>Records to fix</h2>",
        _figure(lambda: records_picture(result.checks)),
        _table(["Patient", "Items", "Check the record"], fix_rows, len(result.checks)),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(result: ScreenResult, path: Path) -> None:
    """Write the report to `path`."""
    path.write_text(render_report(result), encoding="utf-8")
