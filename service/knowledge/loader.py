"""Reading the knowledge base: every file of a folder, validated, or the shipped one.

- `load_knowledge()` reads the files of the package `KNOWLEDGE_PACKAGE` once and
  validates them; any fault is a `KnowledgeError` naming the file and the field.
- `load_knowledge_from(directory)` reads and validates any folder of such files.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from service.engine.options import OPTION_IDS
from service.engine.rules import TRIAL_ID, TRIAL_URL
from service.engine.trials import criterion_names
from service.errors import SclcCdsError
from service.knowledge.base import Entry
from service.knowledge.schema import Knowledge, Option, Source, Sources, Trial, unsourced
from service.knowledge.wording import WORDING_FILE, Wording

__all__ = [
    "KNOWLEDGE_PACKAGE",
    "SOURCES_FILE",
    "WORDING_FILE",
    "KnowledgeError",
    "engine_criteria",
    "knowledge_files",
    "load_knowledge",
    "load_knowledge_from",
]

# The package whose data files are the knowledge base (cards/ of the checkout, shipped
# as `service.knowledge_base`: pyproject.toml maps it).
KNOWLEDGE_PACKAGE = "service.knowledge_base"
# The trials the engine pre-screens (§10), with their registry pages.
ENGINE_TRIALS = {TRIAL_ID: TRIAL_URL}


class KnowledgeError(SclcCdsError):
    """A knowledge-base file is missing or invalid; `file` and `field` say where."""

    def __init__(self, message: str, *, file: str, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {message}")


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(file)"


_M = TypeVar("_M", bound=Entry)


def _parse(model: type[_M], file: Traversable) -> _M:
    try:
        data = tomllib.loads(file.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KnowledgeError(f"not valid TOML: {exc}", file=file.name) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        fields = [_where(tuple(e["loc"])) for e in errors]
        # "file: field: first problem; other.field: next problem"
        rest = [f"{f}: {e['msg']}" for f, e in zip(fields[1:], errors[1:], strict=True)]
        message = "; ".join([errors[0]["msg"], *rest])
        raise KnowledgeError(message, file=file.name, field=fields[0]) from exc


def engine_criteria() -> tuple[str, ...]:
    """The names of the criteria the engine pre-screens, in its order."""
    return criterion_names()


SOURCES_FILE = "sources.toml"


def load_knowledge_from(directory: Traversable | Path) -> Knowledge:
    """Read and validate the option, trial, source and wording files of `directory`."""
    files = sorted(
        (f for f in directory.iterdir() if f.is_file() and f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    options: dict[str, Option] = {}
    trials: dict[str, Trial] = {}
    sources: tuple[Source, ...] = ()
    wording: Wording | None = None
    for file in files:
        if file.name == SOURCES_FILE:
            sources = _parse(Sources, file).sources
        elif file.name == WORDING_FILE:
            wording = _parse(Wording, file)
        elif file.name.startswith("option-"):
            option = _parse(Option, file)
            if file.name != f"option-{option.id}.toml":
                raise KnowledgeError(
                    f"id {option.id!r} does not match the file name", file=file.name, field="id"
                )
            options[option.id] = option
        elif file.name.startswith("trial-"):
            trial = _parse(Trial, file)
            if file.name != f"trial-{trial.nct_id}.toml":
                raise KnowledgeError(
                    f"nct_id {trial.nct_id!r} does not match the file name",
                    file=file.name,
                    field="nct_id",
                )
            _check_engine_trial(trial, file.name)
            trials[trial.nct_id] = trial
        else:
            raise KnowledgeError(
                f"not an option-<id>.toml, trial-<NCT id>.toml, {SOURCES_FILE} or "
                f"{WORDING_FILE} file",
                file=file.name,
            )
    for option_id in OPTION_IDS:
        if option_id not in options:
            raise KnowledgeError(
                f"no file for option {option_id!r}", file=f"option-{option_id}.toml"
            )
    for nct_id in ENGINE_TRIALS:
        if nct_id not in trials:
            raise KnowledgeError(f"no file for trial {nct_id}", file=f"trial-{nct_id}.toml")
    if not sources:
        raise KnowledgeError("no file describing the source documents", file=SOURCES_FILE)
    if wording is None:
        raise KnowledgeError("no file with the cards' wording", file=WORDING_FILE)
    files_items: list[tuple[str, Option | Trial | Wording]] = []
    files_items += [(f"option-{i}.toml", options[i]) for i in OPTION_IDS]
    files_items += [(f"trial-{i}.toml", trials[i]) for i in sorted(trials)]
    files_items.append((WORDING_FILE, wording))
    if found := unsourced(files_items, sources):
        file_name, field, document = found
        raise KnowledgeError(
            f"{document} has no source in {SOURCES_FILE}", file=file_name, field=field
        )
    return Knowledge(
        options=tuple(options[i] for i in OPTION_IDS),
        trials=tuple(trials[i] for i in sorted(trials)),
        sources=sources,
        wording=wording,
    )


def _check_engine_trial(trial: Trial, file: str) -> None:
    if trial.nct_id not in ENGINE_TRIALS:
        raise KnowledgeError(
            f"{trial.nct_id} is not a trial the engine pre-screens", file=file, field="nct_id"
        )
    if trial.url != ENGINE_TRIALS[trial.nct_id]:
        raise KnowledgeError(
            f"expected {ENGINE_TRIALS[trial.nct_id]}, got {trial.url}", file=file, field="url"
        )
    names = tuple(c.criterion for c in trial.criteria)
    expected = engine_criteria()
    if names != expected:
        raise KnowledgeError(
            f"the engine's criteria, in order, are {list(expected)}; the file has {list(names)}",
            file=file,
            field="criteria",
        )


def knowledge_files() -> Traversable:
    """The folder of the shipped knowledge base: the data files of `KNOWLEDGE_PACKAGE`."""
    return resources.files(KNOWLEDGE_PACKAGE)


@cache
def load_knowledge() -> Knowledge:
    """The shipped knowledge (`knowledge_files()`), validated (read once)."""
    return load_knowledge_from(knowledge_files())
