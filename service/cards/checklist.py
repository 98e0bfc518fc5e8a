"""The items of "Check the record" (CLINICAL_RULES §11): the engine's record issues, worded.

Each item names the FHIR records it is about, escaped (they come from the record).
"""

from __future__ import annotations

from service.cards.markdown import escape
from service.engine.model import RecordIssue
from service.knowledge import Knowledge, load_knowledge

__all__ = ["check_item"]


def check_item(issue: RecordIssue, knowledge: Knowledge | None = None) -> str:
    """One item of "Check the record" as the summary card words it, in markdown."""
    knowledge = knowledge or load_knowledge()
    w = knowledge.wording.check
    records = ", ".join(escape(r) for r in issue.records)
    match issue.kind:
        case "warning":
            return w.warning.format(warning=escape(issue.warning or ""))
        case "option-withheld":
            title = knowledge.option(issue.option or "").title
            return w.option_withheld.format(option=title, records=records)
        case "estimated-progression":
            date = issue.day.isoformat() if issue.day else knowledge.wording.card.unknown_date
            return w.estimated_progression.format(date=date, records=records)
        case "undated-relapse":
            return w.undated_relapse.format(records=records)
        case "possibly-received":
            return w.possibly_received.format(records=records, next_line=issue.next_line)
