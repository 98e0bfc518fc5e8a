"""Turn an evaluation into CDS Hooks 2.0 cards, in the words of the knowledge base.

Pure: takes an `Evaluation` (and the drafted agents for order hooks) and returns card
JSON objects built by the wire model; no Flask, no I/O beyond the packaged knowledge
read once. The engine decides (record issues, option reasons, order verdicts); the cards
only render: every sentence comes from a template of `cards/wording.toml`
(`service.knowledge.wording`), filled with the evaluation's values, and only markdown
layout and the escaping of record text are code. A clinician reads them between
patients, so (issue 10):

- `patient-view` gives at most three cards: the summary (CLINICAL_RULES §11, with a
  `smart` link that opens the relapse timeline), at a decision point one options card
  (the ranked names on its first line, then an entry of at most 35 words an option:
  status, one key figure with its study and design, availability and study-population
  notes, a link to the full evidence; §9 v3), and the trial card when §10 shows the
  trial;
- the disclaimer appears once per response; no internal file name appears anywhere;
- every card's `source` is the short label of its document with the URL of the
  service's own page about it (`/sources/<id>`); full evidence is one click away
  (`/evidence/<option-id>`).

Every card carries a `uuid` derived from the evaluation (the same evaluation gives the
same uuids, so feedback can refer to them). Text that comes from the record is escaped,
because EHRs such as the public sandbox render `detail` markdown with raw HTML enabled.

Modules: `render` (the entry points), `frame` (what the cards of one evaluation share,
and the card builder), `summary`, `option_card`, `trial_card`, `order_card`,
`checklist` ("Check the record" items) and `markdown` (escaping and layout).
"""

from __future__ import annotations

from service.cards.checklist import check_item
from service.cards.frame import OVERRIDE_SYSTEM, TIMELINE_CONTEXT
from service.cards.markdown import SUMMARY_LIMIT, escape
from service.cards.phrases import note_words
from service.cards.render import check_the_record, order_cards, patient_view_cards

__all__ = [
    "OVERRIDE_SYSTEM",
    "SUMMARY_LIMIT",
    "TIMELINE_CONTEXT",
    "check_item",
    "check_the_record",
    "escape",
    "note_words",
    "order_cards",
    "patient_view_cards",
]
