"""The full evidence behind the cards: `/evidence/<option-id>` and `/sources/<id>`.

Plain HTML from the knowledge base (`cards/`), no outside resources (no scripts, fonts
or images from elsewhere), readable on a phone. A card's `source.url` points at the
page of its document; its links point at the pages of its options. Every page says
the product gives information, not orders.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from flask import Blueprint, Response, render_template_string, request

from service.errors import NotFound
from service.http.state import state
from service.knowledge import Knowledge, Option, Source, load_knowledge

__all__ = ["blueprint"]

blueprint = Blueprint("evidence", __name__)


_LINES = {"second": "second line", "third-or-later": "third line or later"}


@cache
def _template(name: str) -> str:
    """A page template of service/http/pages/ (package data)."""
    return resources.files("service.http").joinpath("pages", name).read_text("utf-8")


def _base() -> str:
    return state().settings.base_url or request.host_url.rstrip("/")


def _page(title: str, template: str, **values: object) -> Response:
    base = _base()
    inner = render_template_string(_template(template), base=base, **values)
    html = render_template_string(_template("page.html"), title=title, body=inner, base=base)
    return Response(html, mimetype="text/html")


def _sources(knowledge: Knowledge) -> dict[str, Source]:
    return {s.document: s for s in knowledge.sources}


def _quoted(knowledge: Knowledge, source: Source) -> list[tuple[Option, list[str]]]:
    """Per option, the texts its cards and pages state from this document."""
    found = []
    for option in knowledge.options:
        items = [e.text for e in option.evidence if e.document == source.document]
        if option.key_figure_document == source.document:
            items.insert(0, option.key_figure)
        if items:
            found.append((option, items))
    return found


@blueprint.get("/evidence")
def options() -> Response:
    """Every option of the rules, with its key figure."""
    knowledge = load_knowledge()
    return _page("Options", "options.html", options=knowledge.options)


@blueprint.get("/evidence/<option_id>")
def option(option_id: str) -> Response:
    """One option's full evidence: regimen, evidence by line, safety, availability."""
    knowledge = load_knowledge()
    try:
        found = knowledge.option(option_id)
    except KeyError:
        raise NotFound("no option has this id; /evidence lists them") from None
    return _page(
        found.title, "option.html", option=found, sources=_sources(knowledge), lines=_LINES
    )


@blueprint.get("/sources")
def sources() -> Response:
    """Every source document the cards cite."""
    return _page("Sources", "sources.html", sources=load_knowledge().sources)


@blueprint.get("/sources/<source_id>")
def source(source_id: str) -> Response:
    """One source: title, publisher, date, public address, and the passages quoted."""
    knowledge = load_knowledge()
    found = next((s for s in knowledge.sources if s.id == source_id), None)
    if found is None:
        raise NotFound("no source has this id; /sources lists them")
    return _page(found.title, "source.html", document=found, quoted=_quoted(knowledge, found))
