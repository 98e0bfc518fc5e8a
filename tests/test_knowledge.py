"""The knowledge base in `cards/`: its schema, its loader, and its figures against the documents."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

import cards
from service.engine.options import OPTION_IDS
from service.engine.rules import DEFAULT_THRESHOLDS, TRIAL_ID, TRIAL_URL
from service.engine.trials import TrialInputs, prescreen
from service.errors import SclcCdsError
from service.knowledge import (
    DOCUMENTS,
    KEY_FIGURE_MAX,
    SHORT_LABEL_MAX,
    SOURCES_FILE,
    WORDING_FILE,
    Citation,
    Evidence,
    Knowledge,
    KnowledgeError,
    Option,
    Source,
    load_knowledge,
    load_knowledge_from,
)
from tests.conftest import edit, rejected
from tools.check_knowledge import check_against_documents, date_spellings

CARDS = Path(cards.__file__).parent
DOCS = Path(__file__).resolve().parents[1].parent / "shared" / "docs"
needs_docs = pytest.mark.skipif(
    not DOCS.is_dir(), reason=f"source documents not found at {DOCS} (../shared/docs)"
)

D000, D001, D002, D003, D004 = DOCUMENTS

# CLINICAL_RULES §9, column "from": the documents each option must cite.
SOURCES = {
    "platinum-rechallenge": {D003, D000},
    "topotecan": {D001, D003},
    "lurbinectedin": {D003},
    "tarlatamab": {D002},
    "amrubicin": {D000, D003},
    "nab-paclitaxel-anlotinib": {D003},
    "anlotinib": {D003},
    "taxane": {D003},
    "palliative-radiotherapy": {D000, D001},
    "clinical-trial": {D000, D001},
}

ENGINE_CRITERIA = [
    "extensive-stage SCLC",
    "2+ prior lines, progressed after the latest",
    "age 18-75",
    "ECOG 0-1",
    "no prior lomustine, anlotinib or anti-angiogenic TKI",
    "ANC >= 1.5 x10^9/L",
    "platelets >= 100 x10^9/L",
    "hemoglobin >= 90 g/L",
    "creatinine <= 1.5 x ULN",
    "eGFR >= 60 mL/min/1.73m2",
    "INR <= 1.5",
]


# --- the shipped knowledge --------------------------------------------------------------


def test_shipped_knowledge_loads_once_with_every_option_in_table_order() -> None:
    """load_knowledge() validates the packaged files and caches the result."""
    knowledge = load_knowledge()
    assert list(OPTION_IDS) == [o.id for o in knowledge.options]
    assert knowledge.trial(TRIAL_ID).url == TRIAL_URL
    assert knowledge is load_knowledge()


def test_every_option_id_has_a_file_and_no_file_is_unknown() -> None:
    """cards/ holds one option-<id>.toml per OPTION_IDS entry, one trial file, sources.toml
    and wording.toml."""
    expected = {f"option-{i}.toml" for i in OPTION_IDS} | {f"trial-{TRIAL_ID}.toml"}
    assert expected | {SOURCES_FILE, WORDING_FILE} == {p.name for p in CARDS.glob("*.toml")}


def test_every_document_has_one_source_with_a_slug_id_and_a_short_label() -> None:
    """sources.toml describes each of the five documents once, by slug id and short label."""
    sources = load_knowledge().sources
    assert sorted(DOCUMENTS) == sorted(s.document for s in sources)
    for source in sources:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", source.id), source.id
        assert len(source.short_label) <= SHORT_LABEL_MAX, source.short_label
        assert source.document not in source.short_label + source.title


def test_a_source_is_found_by_id_and_by_document() -> None:
    """Knowledge.source(id) and .source_for(document) give the same source; unknown: KeyError."""
    knowledge = load_knowledge()
    tian = knowledge.source("tian-2026-annab")
    assert (D003, "Tian et al. 2026 (ANNAB)") == (tian.document, tian.short_label)
    assert tian is knowledge.source_for(D003)
    with pytest.raises(KeyError):
        knowledge.source("tian-2025")


@pytest.mark.parametrize("option_id", OPTION_IDS)
def test_every_option_has_a_short_key_figure_from_a_cited_document(option_id: str) -> None:
    """Each option's key figure fits on one line and comes from a document it cites."""
    option = load_knowledge().option(option_id)
    assert 0 < len(option.key_figure) <= KEY_FIGURE_MAX
    assert option.key_figure_document in {c.document for c in option.citations}


def test_anlotinib_key_figure_differs_by_line() -> None:
    """Anlotinib shows Du et al. (ORR 20.0%) at line 2 and ALTER 1202 from line 3, each
    with its study and design."""
    anlotinib = load_knowledge().option("anlotinib")
    assert "20.0%" in anlotinib.key_figure_for(2)
    assert anlotinib.key_study_for(2) == "Du et al. 2024, retrospective cohort"
    assert all("+3.4 months" in anlotinib.key_figure_for(n) for n in (3, 4))
    assert all(anlotinib.key_study_for(n) == "ALTER 1202, randomised phase 2" for n in (3, 4))
    with pytest.raises(ValueError, match="from line 2"):
        anlotinib.key_figure_for(1)


def test_an_option_without_a_later_key_figure_shows_the_same_one_at_every_line() -> None:
    """Without key_figure_later, key_figure_for gives key_figure at lines 2 and 3."""
    topotecan = load_knowledge().option("topotecan")
    assert topotecan.key_figure_later is None
    assert topotecan.key_figure == topotecan.key_figure_for(2) == topotecan.key_figure_for(3)


@pytest.mark.parametrize("option_id", OPTION_IDS)
def test_no_safety_text_speaks_of_access_or_approval(option_id: str) -> None:
    """Safety is toxicity only: no shipped safety line mentions access, approval or cost."""
    words = re.compile(r"access|approv|availab|afford|regulat|barrier", re.IGNORECASE)
    assert [] == [t for t in load_knowledge().option(option_id).safety if words.search(t)]


def test_topotecan_and_amrubicin_keep_access_under_availability() -> None:
    """The access limits in China that once sat under safety are stated under availability."""
    knowledge = load_knowledge()
    for option_id in ("topotecan", "amrubicin"):
        availability = knowledge.option(option_id).availability
        assert availability is not None and "access" in availability


@pytest.mark.parametrize("option_id", OPTION_IDS)
def test_every_option_cites_the_documents_its_rule_names(option_id: str) -> None:
    """Each option cites at least the documents of §9's "from" column."""
    cited = {c.document for c in load_knowledge().option(option_id).citations}
    assert SOURCES[option_id] <= cited


def test_the_trial_cites_its_listing_and_states_its_facts() -> None:
    """NCT07632209 cites 004_…: phase 2, 46 participants, not yet recruiting, start 2026-06."""
    trial = load_knowledge().trial(TRIAL_ID)
    assert [D004] == [c.document for c in trial.citations]
    assert ("Phase 2", 46, "not yet recruiting", "2026-06") == (
        trial.phase,
        trial.participants,
        trial.status,
        trial.start,
    )


def test_the_trial_names_the_criteria_no_record_can_show() -> None:
    """§10 v3: measurable disease (RECIST 1.1), liver function, uncontrolled CNS
    metastases and life expectancy, each with the listing's wording, none pre-screened."""
    trial = load_knowledge().trial(TRIAL_ID)
    names = [c.criterion for c in trial.not_prescreened]
    for name in (
        "measurable disease (RECIST 1.1)",
        "liver function (ALT, AST)",
        "uncontrolled CNS metastases",
        "life expectancy ≥ 3 months",
    ):
        assert name in names
    assert not set(names) & {c.criterion for c in trial.criteria}


def test_a_criterion_both_prescreened_and_not_is_rejected(copy: Path) -> None:
    """A name in both lists would be both checked and not checked: the load fails."""
    edit(copy / f"trial-{TRIAL_ID}.toml", 'criterion = "APTT"', 'criterion = "INR <= 1.5"')
    error = rejected(copy)
    assert f"trial-{TRIAL_ID}.toml" == error.file
    assert "a criterion is listed twice" in str(error)


def test_trial_criteria_are_the_engines_in_its_order() -> None:
    """The trial file describes exactly the criteria prescreen() reports, in order."""
    inputs = TrialInputs(
        stage="extensive",
        staged_at_relapse=True,
        lines=(),
        progressed_after_latest=True,
        age_range=(60, 60),
        barred_received=False,
        barred_possibly=False,
        observations=(),
        today=date(2026, 11, 30),
    )
    engine = [c.criterion for c in prescreen(inputs, DEFAULT_THRESHOLDS).criteria]
    described = [c.criterion for c in load_knowledge().trial(TRIAL_ID).criteria]
    assert ENGINE_CRITERIA == engine == described


@needs_docs
def test_every_quoted_figure_occurs_in_the_document_it_cites() -> None:
    """check_against_documents finds nothing wrong with the shipped knowledge."""
    assert [] == check_against_documents(load_knowledge(), DOCS)


@needs_docs
def test_the_taxane_option_loads_and_its_figures_occur_in_its_document() -> None:
    """The taxane card exists, cites 003_… only and passes the check on its own."""
    taxane = load_knowledge().option("taxane")
    assert [D003] == [c.document for c in taxane.citations]
    assert {D003} == {e.document for e in taxane.evidence}
    quoted = {n for e in taxane.evidence for n in e.numbers}
    assert {"category 2A", "8%", "14%", "29.4%", "8.3%", "4.7 months", "7.3 months"} <= quoted
    alone = Knowledge(
        options=(taxane,),
        sources=(load_knowledge().source_for(D003),),
        wording=load_knowledge().wording,
    )
    assert [] == check_against_documents(alone, DOCS)


def test_gemcitabine_with_nab_paclitaxel_is_a_note_not_evidence() -> None:
    """The combination's figures (ORR 28.1%) appear in the taxane notes, never its evidence."""
    taxane = load_knowledge().option("taxane")
    assert not any("28.1%" in e.numbers for e in taxane.evidence)
    assert not any("gemcitabine" in e.text.lower() for e in taxane.evidence)
    assert any("28.1%" in note for note in taxane.notes)


def test_anlotinib_evidence_for_line_2_is_du_et_al() -> None:
    """At next_line 2 anlotinib shows the second-line bullet (ORR 20.0%, PFS 5.6 months) only."""
    bullets = load_knowledge().option("anlotinib").evidence_for(2)
    assert [("20.0%", "5.6 months")] == [b.numbers for b in bullets]


@pytest.mark.parametrize("next_line", [3, 4, 7])
def test_anlotinib_evidence_from_line_3_is_alter_1202(next_line: int) -> None:
    """From next_line 3 anlotinib shows the ALTER 1202 / NMPA bullets, not the second-line one."""
    bullets = load_knowledge().option("anlotinib").evidence_for(next_line)
    numbers = {n for b in bullets for n in b.numbers}
    assert {"2019", "3.4 months", "2.4 months", "4.9%"} <= numbers
    assert "20.0%" not in numbers
    assert {"third-or-later"} == {b.line for b in bullets}


def test_anlotinib_with_checkpoint_inhibitors_is_a_note_not_evidence() -> None:
    """The combination's ORRs (37.2–60%) are quoted in a note, in no evidence bullet."""
    anlotinib = load_knowledge().option("anlotinib")
    assert not any("37.2%" in e.numbers for e in anlotinib.evidence)
    assert any("37.2%" in note for note in anlotinib.notes)


def test_evidence_without_a_line_applies_at_every_line() -> None:
    """evidence_for keeps line-less bullets at every line and drops the other line's."""
    common = Evidence(text="Common.", document=D003)
    second = Evidence(text="Second.", document=D003, line="second")
    later = Evidence(text="Later.", document=D003, line="third-or-later")
    option = Option(
        id="anlotinib",
        title="Anlotinib",
        short_title="Anlotinib",
        regimen="Anlotinib alone.",
        when="From line 2.",
        key_figure="ORR 20.0%",
        key_figure_document=D003,
        evidence=(common, second, later),
        citations=(Citation(document=D003, label="Tian et al."),),
    )
    assert ((common, second), (common, later)) == (option.evidence_for(2), option.evidence_for(3))
    with pytest.raises(ValueError, match="from line 2"):
        option.evidence_for(1)


def test_knowledge_error_is_one_of_ours() -> None:
    """KnowledgeError belongs to the project's exception tree."""
    assert issubclass(KnowledgeError, SclcCdsError)


# --- the loader on bad copies -----------------------------------------------------------


# `copy`, `edit` and `rejected`: tests/conftest.py.


def test_an_unmodified_copy_loads_like_the_package(copy: Path) -> None:
    """The directory loader and the package loader agree."""
    assert load_knowledge() == load_knowledge_from(copy)


def test_a_file_without_citations_is_rejected(copy: Path) -> None:
    """An option with no [[citations]] fails, naming the file and the field."""
    path = copy / "option-topotecan.toml"
    text = path.read_text("utf-8")
    path.write_text(text[: text.index("[[citations]]")], "utf-8")
    error = rejected(copy)
    assert ("option-topotecan.toml", "citations") == (error.file, error.field)
    assert "option-topotecan.toml: citations:" in str(error)


def test_an_unknown_option_id_is_rejected(copy: Path) -> None:
    """An option file whose id is not in OPTION_IDS fails."""
    path = copy / "option-docetaxel.toml"
    shutil.copy(copy / "option-topotecan.toml", path)
    edit(path, 'id = "topotecan"', 'id = "docetaxel"')
    error = rejected(copy)
    assert ("option-docetaxel.toml", "id") == (error.file, error.field)
    assert "unknown option id 'docetaxel'" in str(error)


def test_a_missing_option_file_is_rejected(copy: Path) -> None:
    """Every option of OPTION_IDS must have its file."""
    (copy / "option-anlotinib.toml").unlink()
    assert "option-anlotinib.toml" == rejected(copy).file


def test_an_id_that_does_not_match_its_file_name_is_rejected(copy: Path) -> None:
    """option-<id>.toml must carry that id."""
    edit(copy / "option-anlotinib.toml", 'id = "anlotinib"', 'id = "topotecan"')
    error = rejected(copy)
    assert ("option-anlotinib.toml", "id") == (error.file, error.field)


def test_a_file_of_unknown_kind_is_rejected(copy: Path) -> None:
    """Only option-*.toml, trial-*.toml and sources.toml files belong in cards/."""
    (copy / "notes.toml").write_text('text = "x"\n', "utf-8")
    assert "notes.toml" == rejected(copy).file


@pytest.mark.parametrize(
    ("file", "old", "new", "message"),
    [
        (
            "option-topotecan.toml",
            'key_study = "Takahashi et al. 2023, randomised"',
            'key_study = "Takahashi et al. 2023, randomised"\nkey_study_later = "x"',
            "no key_figure_later",
        ),
        (
            "option-amrubicin.toml",
            'text = "Preferred second line in Japan.", document = "003_4cac35924055ddfc.txt"',
            'text = "Preferred second line in Japan.", document = "002_7502c6c1fab9d4d0.txt"',
            "availability_note.document: 002_7502c6c1fab9d4d0.txt is not among the citations",
        ),
        (
            "option-amrubicin.toml",
            'short_title = "Amrubicin"',
            'short_title = "Amrubicin, an anthracycline given alone"',
            "at most 30 characters",
        ),
    ],
    ids=["later-study-alone", "uncited-availability-document", "long-short-title"],
)
def test_the_options_card_fields_are_checked(
    copy: Path, file: str, old: str, new: str, message: str
) -> None:
    """§9 v3 fields: a later study needs its later figure, the card's statements cite a
    document of the option, its name fits the ranked line."""
    edit(copy / file, old, new)
    error = rejected(copy)
    assert file == error.file
    assert message in str(error)


def test_invalid_toml_is_rejected(copy: Path) -> None:
    """A syntax error names the file."""
    edit(copy / "option-amrubicin.toml", 'title = "Amrubicin"', "title = Amrubicin")
    error = rejected(copy)
    assert "option-amrubicin.toml" == error.file
    assert "not valid TOML" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        (
            f'["35.2%"]\ndocument = "{D003}"',
            '["35.2%"]\ndocument = "005_x.txt"',
            "evidence[0].document",
        ),
        ('title = "Lurbinectedin"', 'title = "  "', "title"),
        ('numbers = ["35.2%"]', "numbers = []", "evidence[0].numbers"),
        ('numbers = ["35.2%"]', 'numbers = [""]', "evidence[0].numbers[0]"),
        ('title = "Lurbinectedin"', 'title = "Lurbinectedin"\ndose = "3.2 mg/m2"', "dose"),
        ('availability = "Access in China has been limited."', "", None),
    ],
    ids=["unknown-document", "blank-title", "empty-list", "empty-number", "unknown-key", "ok"],
)
def test_field_faults_are_reported_with_their_field(
    copy: Path, old: str, new: str, field: str | None
) -> None:
    """Unknown documents, blank strings, empty lists and unknown keys fail; optional keys may go."""
    edit(copy / "option-lurbinectedin.toml", old, new)
    if field is None:
        assert load_knowledge_from(copy).option("lurbinectedin").availability is None
        return
    error = rejected(copy)
    assert ("option-lurbinectedin.toml", field) == (error.file, error.field)


def test_evidence_citing_an_uncited_document_is_rejected(copy: Path) -> None:
    """Every evidence bullet's document must be among the option's citations."""
    edit(copy / "option-topotecan.toml", f'document = "{D001}"', f'document = "{D002}"')
    error = rejected(copy)
    assert "option-topotecan.toml" == error.file
    assert f"evidence[2].document: {D002} is not among the citations" in str(error)


def test_an_option_whose_bullets_all_say_second_is_rejected(copy: Path) -> None:
    """Every option needs a bullet for each line: all "second" leaves line 3 bare and fails."""
    edit(copy / "option-anlotinib.toml", 'line = "third-or-later"', 'line = "second"')
    edit(copy / "option-anlotinib.toml", 'line = "third-or-later"', 'line = "second"')
    error = rejected(copy)
    assert "option-anlotinib.toml" == error.file
    assert "evidence: no bullet applies at the 'third-or-later' line" in str(error)


def test_an_unknown_evidence_line_is_rejected(copy: Path) -> None:
    """An evidence line other than "second" or "third-or-later" fails, naming the field."""
    edit(copy / "option-anlotinib.toml", 'line = "second"', 'line = "first"')
    error = rejected(copy)
    assert ("option-anlotinib.toml", "evidence[0].line") == (error.file, error.field)


def test_a_missing_sources_file_is_rejected(copy: Path) -> None:
    """Without sources.toml the cards cannot be shown with their sources: the load fails."""
    (copy / SOURCES_FILE).unlink()
    assert SOURCES_FILE == rejected(copy).file


def drop_source(copy: Path, document: str) -> None:
    """Remove the [[sources]] entry of `document` from the copy's sources.toml."""
    path = copy / SOURCES_FILE
    head, *entries = path.read_text("utf-8").split("[[sources]]")
    kept = [e for e in entries if f'document = "{document}"' not in e]
    assert len(kept) == len(entries) - 1
    path.write_text("[[sources]]".join([head, *kept]), "utf-8")


def test_a_citation_whose_document_has_no_source_is_rejected(copy: Path) -> None:
    """With 000_…'s source gone, the first option citing it fails, naming file and field."""
    drop_source(copy, D000)
    error = rejected(copy)
    assert ("option-platinum-rechallenge.toml", "citations[1].document") == (
        error.file,
        error.field,
    )
    assert f"{D000} has no source in {SOURCES_FILE}" in str(error)


def test_knowledge_built_without_a_cited_documents_source_is_rejected() -> None:
    """Knowledge itself refuses an option citing a document that no source describes."""
    knowledge = load_knowledge()
    without_000 = tuple(s for s in knowledge.sources if s.document != D000)
    where = re.escape(f"options[0].citations[1].document: {D000} has no source")
    with pytest.raises(ValidationError, match=where):
        Knowledge(
            options=(knowledge.option("platinum-rechallenge"),),
            sources=without_000,
            wording=knowledge.wording,
        )


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (f'document = "{D001}"', f'document = "{D000}"'),
        ('id = "baofa-recurrent-lung-cancer"', 'id = "cancerconnect-2023"'),
    ],
    ids=["document", "id"],
)
def test_two_sources_with_one_document_or_id_are_rejected(copy: Path, old: str, new: str) -> None:
    """Each source has its own document and its own id."""
    edit(copy / SOURCES_FILE, old, new)
    error = rejected(copy)
    assert SOURCES_FILE == error.file
    assert "two sources have the same" in str(error)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ('short_label = "Tian et al. 2026 (ANNAB)"', f'short_label = "{"x" * 41}"', "short_label"),
        (
            'short_label = "Tian et al. 2026 (ANNAB)"',
            f'short_label = "Tian ({D003})"',
            "short_label",
        ),
        ('id = "tian-2026-annab"', 'id = "Tian 2026"', "id"),
        ('date = "2026-03-10"', 'date = "2026-13-10"', "date"),
        ('date = "2026-03-10"', 'date = "10 March 2026"', "date"),
        ('date = "2026-03-10"', 'date = "2026-03-10"\nurl = "http://example.org"', "url"),
    ],
    ids=["label-too-long", "label-names-file", "id-not-slug", "no-such-month", "not-iso", "http"],
)
def test_source_field_faults_are_reported_with_their_field(
    copy: Path, old: str, new: str, field: str
) -> None:
    """A long or file-naming label, a non-slug id, a bad date or an http URL fail."""
    edit(copy / SOURCES_FILE, old, new)
    error = rejected(copy)
    assert SOURCES_FILE == error.file
    assert (error.field or "").endswith(f".{field}"), error.field


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("key_figure = ", "# key_figure = ", "key_figure"),
        ('key_figure = "', f'key_figure = "{"x" * (KEY_FIGURE_MAX + 1)} ', "key_figure"),
        ('key_figure = "', f'key_figure = "{D003}: ', "key_figure"),
        (f'key_figure_document = "{D003}"', f'key_figure_document = "{D002}"', None),
        ('"Haematological toxicity', '"Limited access in China; haematological toxicity', "safety"),
    ],
    ids=["missing", "too-long", "names-file", "uncited-document", "access-under-safety"],
)
def test_key_figure_and_safety_faults_are_rejected(
    copy: Path, old: str, new: str, field: str | None
) -> None:
    """A key figure missing, too long, naming a file or from an uncited document fails, and
    so does a safety line about access."""
    edit(copy / "option-lurbinectedin.toml", old, new)
    error = rejected(copy)
    assert "option-lurbinectedin.toml" == error.file
    if field is None:
        assert f"key_figure_document: {D002} is not among the citations" in str(error)
    else:
        assert field == error.field


@pytest.mark.parametrize("word", ["access", "approved", "available", "affordable"])
def test_a_safety_line_with_an_availability_word_is_rejected(word: str) -> None:
    """An Option whose safety says "access", "approved", "available", ... fails validation."""
    with pytest.raises(ValidationError, match="belong under availability"):
        Option(
            id="topotecan",
            title="Topotecan",
            regimen="Topotecan alone.",
            when="Any relapse.",
            key_figure="ORR rarely above 25%",
            key_figure_document=D003,
            safety=(f"Neutropenia; {word} in China is limited.",),
            evidence=(Evidence(text="Category 1.", numbers=("category 1",), document=D003),),
            citations=(Citation(document=D003, label="Tian et al."),),
        )


def test_a_citation_label_naming_a_file_is_rejected(copy: Path) -> None:
    """A citation label showing a document's file name fails: readers see labels."""
    edit(copy / "option-lurbinectedin.toml", 'label = "Tian et al. 2026', f'label = "{D003}, 2026')
    error = rejected(copy)
    assert ("option-lurbinectedin.toml", "citations[0].label") == (error.file, error.field)


def test_trial_criteria_drifting_from_the_engine_are_rejected(copy: Path) -> None:
    """A criterion renamed in the trial file no longer matches the engine and fails."""
    edit(copy / f"trial-{TRIAL_ID}.toml", 'criterion = "INR <= 1.5"', 'criterion = "INR < 1.5"')
    error = rejected(copy)
    assert (f"trial-{TRIAL_ID}.toml", "criteria") == (error.file, error.field)


def test_a_trial_url_other_than_the_registry_page_is_rejected(copy: Path) -> None:
    """The trial links to its clinicaltrials.gov page."""
    edit(copy / f"trial-{TRIAL_ID}.toml", TRIAL_URL, "https://example.org/trial")
    assert "url" == rejected(copy).field


# --- check_against_documents --------------------------------------------------------------


@needs_docs
def test_a_number_not_in_the_cited_document_is_reported(copy: Path) -> None:
    """A figure changed in a copy (35.2% -> 53.2%) is reported with number, file and option."""
    edit(copy / "option-lurbinectedin.toml", "response rate of 35.2%", "response rate of 53.2%")
    edit(copy / "option-lurbinectedin.toml", 'numbers = ["35.2%"]', 'numbers = ["53.2%"]')
    problems = check_against_documents(load_knowledge_from(copy), DOCS)
    assert [
        f"option lurbinectedin (option-lurbinectedin.toml): evidence[0] number '53.2%' "
        f"not found in {D003}"
    ] == problems


@needs_docs
def test_a_figure_in_a_regimen_found_in_no_cited_document_is_reported(copy: Path) -> None:
    """An invented dose in free text (not an evidence bullet) is reported too."""
    edit(copy / "option-topotecan.toml", "Topotecan as a single agent.", "Topotecan 1.75 mg/m².")
    problems = check_against_documents(load_knowledge_from(copy), DOCS)
    assert [
        "option topotecan (option-topotecan.toml): regimen states '1.75', "
        "found in no cited document"
    ] == problems


def test_the_nab_paclitaxel_anlotinib_population_states_tian_et_al_eligibility() -> None:
    """The population of nab-paclitaxel-anlotinib gives Tian et al.'s limits, as 003_… does."""
    population = load_knowledge().option("nab-paclitaxel-anlotinib").population
    assert population is not None
    for limit in [
        "extensive-stage SCLC",
        "18–75",
        "ECOG 0–1",
        "≥ 1.5×10⁹/L",
        "≥ 90×10⁹/L",
        "≥ 3.0×10⁹/L",
        "≤ 2.0 mg/dL",
        "≥ 35 g/L",
        "≤ 1.5 mg/dL",
        "160/100 mmHg",
        "anti-angiogenic",
    ]:
        assert limit in population


@needs_docs
def test_a_figure_in_a_population_found_in_no_cited_document_is_reported(copy: Path) -> None:
    """A made-up figure in the population text (age 18–79) is reported."""
    edit(copy / "option-nab-paclitaxel-anlotinib.toml", "aged 18–75", "aged 18–79")
    problems = check_against_documents(load_knowledge_from(copy), DOCS)
    assert [
        "option nab-paclitaxel-anlotinib (option-nab-paclitaxel-anlotinib.toml): "
        "population states '79', found in no cited document"
    ] == problems


# The title of the made-up 003_… of the tests below, which their source gives.
TITLE = "A Study of Lurbinectedin"


def one_option(
    *, text: str, numbers: tuple[str, ...], key_figure: str = "A line without figures."
) -> Knowledge:
    evidence = (
        Evidence(text=text, numbers=numbers, document=D003)
        if numbers
        else Evidence(text=text, document=D003)
    )
    option = Option(
        id="lurbinectedin",
        title="Lurbinectedin",
        short_title="Lurbinectedin",
        regimen="Lurbinectedin alone.",
        when="Any relapse after a platinum line.",
        key_figure=key_figure,
        key_figure_document=D003,
        evidence=(evidence,),
        citations=(Citation(document=D003, label="Tian et al."),),
    )
    source = Source(id="a-study", document=D003, title=TITLE, short_label="A study")
    return Knowledge(options=(option,), sources=(source,), wording=load_knowledge().wording)


def write_d003(tmp_path: Path, text: str) -> None:
    (tmp_path / D003).write_text(f"{TITLE}\n\n{text}", "utf-8")


def check(tmp_path: Path, document: str, number: str) -> list[str]:
    write_d003(tmp_path, document)
    return check_against_documents(one_option(text="A figure.", numbers=(number,)), tmp_path)


@pytest.mark.parametrize(
    ("number", "document"),
    [
        ("≥ 180 days", "late relapse ( $\\geq 180$  days) [17]"),
        ("6–9 months", "usually ranged between 6-9 months"),
        ("≥1.5 × 10⁹/L", "count (ANC) ≥ 1.5×10⁹/L;"),
        (">= 1.5x10^9/L", "count (ANC) ≥ 1.5×10⁹/L;"),
        ("125 mg/m²", "receiving 125 mg/m<sup>2</sup> of nab-paclitaxel"),
        ("p = 0.02", "(37.5% vs. 8.3%,  p=0.02 )"),
        ("INR ≤ 1.5", "ratio: INR <=1.5;"),
        ("Phase 2", "Not Yet RecruitingPhase 2\n"),
        ("35.2%", "a confirmed ORR\nof 35.2%."),
    ],
)
def test_spelling_variants_of_a_figure_are_found(
    tmp_path: Path, number: str, document: str
) -> None:
    """≥/>=, en dash/hyphen, ×/x, superscripts, LaTeX and spacing do not hide a figure."""
    assert [] == check(tmp_path, document, number)


@pytest.mark.parametrize(
    ("number", "document"),
    [("5%", "an ORR of 35%"), ("6.0 months", "16.0 months"), ("1.5", "1.55"), ("2.4", "12.4")],
)
def test_a_figure_is_not_found_inside_a_longer_one(
    tmp_path: Path, number: str, document: str
) -> None:
    """A quoted figure must not match as part of a longer number."""
    assert [
        f"option lurbinectedin (option-lurbinectedin.toml): evidence[0] number {number!r} "
        f"not found in {D003}"
    ] == check(tmp_path, document, number)


def test_a_figure_stated_but_not_quoted_is_reported(tmp_path: Path) -> None:
    """Every figure a bullet's text states must be among its quoted numbers."""
    write_d003(tmp_path, "ORR 37.5% vs. 8.3%")
    knowledge = one_option(text="ORR 37.5% vs 8.3%.", numbers=("37.5%",))
    assert [
        "option lurbinectedin (option-lurbinectedin.toml): evidence[0] states '8.3' "
        "but does not quote it in numbers"
    ] == check_against_documents(knowledge, tmp_path)


def test_a_missing_document_is_reported(tmp_path: Path) -> None:
    """A cited document absent from docs_dir is a problem, not a crash."""
    problems = check_against_documents(one_option(text="No figure.", numbers=()), tmp_path)
    assert [f"{D003}: not found in {tmp_path}"] == problems


def test_a_made_up_figure_in_a_key_figure_is_reported(tmp_path: Path) -> None:
    """A key figure stating a figure its document does not give (ORR 53.2%) is reported."""
    write_d003(tmp_path, "a confirmed ORR of 35.2%.")
    knowledge = one_option(text="No figure.", numbers=(), key_figure="Confirmed ORR 53.2%")
    assert [
        f"option lurbinectedin (option-lurbinectedin.toml): key_figure states '53.2', "
        f"not found in {D003}"
    ] == check_against_documents(knowledge, tmp_path)


@needs_docs
def test_a_changed_figure_in_a_shipped_key_figure_is_reported(copy: Path) -> None:
    """Lurbinectedin's key figure edited from 35.2% to 53.2% fails the check."""
    edit(
        copy / "option-lurbinectedin.toml",
        'key_figure = "Confirmed ORR 35.2%',
        'key_figure = "Confirmed ORR 53.2%',
    )
    assert [
        f"option lurbinectedin (option-lurbinectedin.toml): key_figure states '53.2', "
        f"not found in {D003}"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@needs_docs
def test_a_made_up_figure_in_a_later_key_figure_is_reported(copy: Path) -> None:
    """Anlotinib's third-line key figure with PFS +3.4 months turned into +9.4 is reported."""
    edit(copy / "option-anlotinib.toml", "PFS +3.4 months vs placebo", "PFS +9.4 months vs placebo")
    assert [
        f"option anlotinib (option-anlotinib.toml): key_figure_later states '9.4', "
        f"not found in {D003}"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@needs_docs
def test_a_made_up_year_in_a_key_study_is_reported(copy: Path) -> None:
    """The study a key figure comes from is held to its document too (2020 -> 2029)."""
    edit(copy / "option-platinum-rechallenge.toml", "Baize et al. 2020", "Baize et al. 2029")
    assert [
        "option platinum-rechallenge (option-platinum-rechallenge.toml): key_study states "
        f"'2029', not found in {D003}"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@needs_docs
def test_a_made_up_figure_in_an_availability_note_is_reported(copy: Path) -> None:
    """The options card's availability note quotes its figures like an evidence bullet."""
    edit(
        copy / "option-anlotinib.toml",
        'NMPA, 2019).", numbers = ["2019"]',
        'NMPA, 2091).", numbers = ["2091"]',
    )
    assert [
        "option anlotinib (option-anlotinib.toml) availability_note: evidence[0] number "
        f"'2091' not found in {D003}"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@needs_docs
@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'title = "Immunotherapy for Small Cell Lung Cancer"',
            'title = "Immunotherapy for Lung Cancer"',
            "title 'Immunotherapy for Lung Cancer'",
        ),
        (
            'publisher = "American Cancer Society"',
            'publisher = "American Lung Society"',
            "publisher 'American Lung Society'",
        ),
        ('date = "2024-12-06"', 'date = "2024-12-07"', "date '2024-12-07'"),
    ],
    ids=["title", "publisher", "date"],
)
def test_a_source_fact_its_document_does_not_give_is_reported(
    copy: Path, old: str, new: str, problem: str
) -> None:
    """A source's title, publisher or date that its document does not state is reported."""
    edit(copy / SOURCES_FILE, old, new)
    assert [
        f"source acs-2024-immunotherapy (sources.toml): {problem} not found in {D002}"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@needs_docs
def test_a_figure_in_a_short_label_not_in_its_document_is_reported(copy: Path) -> None:
    """A short label giving a year its document does not (Tian et al. 2027) is reported."""
    edit(copy / SOURCES_FILE, '"Tian et al. 2026 (ANNAB)"', '"Tian et al. 2027 (ANNAB)"')
    assert [
        "source tian-2026-annab (sources.toml): short_label states '2027', "
        "found in no cited document"
    ] == check_against_documents(load_knowledge_from(copy), DOCS)


@pytest.mark.parametrize(
    ("value", "spelling"),
    [
        ("2023", "2023"),
        ("2024-12-06", "December 6, 2024"),
        ("2026-03-10", "10 March 2026"),
        ("2026-06", "June 2026"),
    ],
)
def test_a_date_is_looked_for_in_the_spellings_documents_use(value: str, spelling: str) -> None:
    """An ISO date is also sought as "December 6, 2024", "10 March 2026", "June 2026"."""
    assert spelling in date_spellings(value)
