"""Rewrite tests/expected/cards/<scenario>.json from the current code; print which changed.

Run on purpose, from the project root: `python -m tests.update_golden_cards` (with the
project's virtualenv). Each file holds the cards `patient_view_cards` returns for that
fixture at the golden date, in the cards' own key order, so a change in card text reads
well in the diff; review that diff before committing it. Card files whose fixture is gone
are removed.
"""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import FIXTURES, ROOT
from tests.test_golden import CARDS, cards_of


def render(cards: list[dict[str, Any]]) -> str:
    """One card golden file: indent 2, non-ASCII kept, keys in the cards' order."""
    return json.dumps(cards, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    CARDS.mkdir(exist_ok=True)
    scenarios = sorted(p.stem for p in FIXTURES.glob("*.json"))
    changed = unchanged = 0
    for scenario in scenarios:
        path = CARDS / f"{scenario}.json"
        old = path.read_text(encoding="utf-8") if path.is_file() else None
        new = render(cards_of(scenario))
        if new != old:
            path.write_text(new, encoding="utf-8")
            changed += 1
            print(f"{'added' if old is None else 'changed'}: {path.relative_to(ROOT)}")
        else:
            unchanged += 1
    for path in sorted(CARDS.glob("*.json")):
        if path.stem not in scenarios:
            path.unlink()
            changed += 1
            print(f"removed: {path.relative_to(ROOT)}")
    print(f"{changed} card file(s) added, changed or removed; {unchanged} unchanged")


if __name__ == "__main__":
    main()
