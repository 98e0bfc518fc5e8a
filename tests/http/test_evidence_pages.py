"""The pages the cards link to: /evidence/<option-id> and /sources/<id> (issue 10)."""

from __future__ import annotations

import re

import pytest

from service.knowledge import load_knowledge
from tests.http.support import CheckedClient

KNOWLEDGE = load_knowledge()
OUTSIDE = re.compile(r"""(?:src|href)=["'](?!https?://localhost)(https?:)?//""")


@pytest.mark.parametrize("option", [o.id for o in KNOWLEDGE.options])
def test_every_option_has_a_plain_html_evidence_page(client: CheckedClient, option: str) -> None:
    """Title, regimen, evidence and sources; phone-width; no outside scripts or styles."""
    response = client.get(f"/evidence/{option}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert 'name="viewport"' in page
    assert "<script" not in page
    assert KNOWLEDGE.option(option).title.split(" (")[0] in page
    assert "Evidence</h2>" in page and "not an order" in page
    assert not re.search(r"00[0-4]_[0-9a-f]{16}\.txt", page)


@pytest.mark.parametrize("source", [s.id for s in KNOWLEDGE.sources])
def test_every_source_page_names_the_document_and_what_the_cards_quote(
    client: CheckedClient, source: str
) -> None:
    """Title, publisher/date where given, the public URL where verified, quoted passages."""
    found = KNOWLEDGE.source(source)
    page = client.get(f"/sources/{source}").get_data(as_text=True)
    assert found.title.split(":")[0] in page
    assert (found.url in page) if found.url else ("No public address verified" in page)
    assert "None" not in page
    quoted = [o for o in KNOWLEDGE.options if any(e.document == found.document for e in o.evidence)]
    for option in quoted:
        assert f"/evidence/{option.id}" in page


def test_unknown_pages_are_404_json(client: CheckedClient) -> None:
    """An id no option or source has: 404, as JSON like every error."""
    assert client.get("/evidence/nonsense").status_code == 404
    assert client.get("/sources/nonsense").status_code == 404
