"""The knowledge base: what the cards say, read from the `cards` package.

`cards/` holds one TOML file per option of CLINICAL_RULES §9 (`option-<id>.toml`), one
per trial of §10 (`trial-<NCT id>.toml`) and `sources.toml`, which describes each source
document (`../shared/docs/`) for a reader: title, publisher, date, a short label and,
where verified, its public URL; `wording.toml` holds every sentence the cards say, as
named templates (`service.knowledge.wording`). Options, trials and the wording cite the
documents by file name; every cited document must have its source. No text a clinician
reads names a document file (`003_….txt`): cards and pages show a source's
`short_label` or `title` instead.

- `base`: the documents, the kinds of text, the closed model every file is made of;
- `schema`: options, trials, sources and `Knowledge`, the whole, with their checks;
- `wording`: the cards' templates, each checked to fill in exactly its placeholders;
- `loader`: `load_knowledge()` (the shipped files, read once) and
  `load_knowledge_from(directory)`; any fault is a `KnowledgeError` naming the file and
  the field.

This package holds the models and the loader only. That every figure a card quotes
occurs in the document it cites is checked outside the runtime package, against the
documents themselves, by `tools.check_knowledge` (`make check-knowledge`).
"""

from __future__ import annotations

from service.knowledge.base import DOCUMENTS, KEY_FIGURE_MAX, SHORT_LABEL_MAX, SHORT_TITLE_MAX
from service.knowledge.loader import (
    KNOWLEDGE_PACKAGE,
    SOURCES_FILE,
    WORDING_FILE,
    KnowledgeError,
    engine_criteria,
    knowledge_files,
    load_knowledge,
    load_knowledge_from,
)
from service.knowledge.schema import (
    EVIDENCE_LINES,
    Citation,
    Evidence,
    EvidenceLine,
    Knowledge,
    Option,
    Source,
    Trial,
    TrialCriterion,
)
from service.knowledge.wording import Wording

__all__ = [
    "DOCUMENTS",
    "EVIDENCE_LINES",
    "KEY_FIGURE_MAX",
    "KNOWLEDGE_PACKAGE",
    "SHORT_LABEL_MAX",
    "SHORT_TITLE_MAX",
    "SOURCES_FILE",
    "WORDING_FILE",
    "Citation",
    "Evidence",
    "EvidenceLine",
    "Knowledge",
    "KnowledgeError",
    "Option",
    "Source",
    "Trial",
    "TrialCriterion",
    "Wording",
    "engine_criteria",
    "knowledge_files",
    "load_knowledge",
    "load_knowledge_from",
]
