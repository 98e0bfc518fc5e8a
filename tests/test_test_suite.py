"""The suite itself: every test says what it pins and checks it (STYLE.md, habit 8)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
Function = ast.FunctionDef | ast.AsyncFunctionDef


def checks_something(function: Function) -> bool:
    """An `assert`, `pytest.raises` or `pytest.warns` anywhere in the body."""
    for node in ast.walk(function):
        if isinstance(node, ast.Assert):
            return True
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "pytest"
            and node.attr in ("raises", "warns")
        ):
            return True
    return False


def all_tests() -> list[tuple[str, Function]]:
    """Every `test_*` function of `tests/**/test_*.py`, named `path::function`."""
    found = []
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, Function) and node.name.startswith("test_"):
                found.append((f"{path.relative_to(TESTS.parent)}::{node.name}", node))
    return found


def test_every_test_has_a_docstring_and_asserts_something() -> None:
    """Each test has a docstring and an assert, pytest.raises or pytest.warns: none passes idle."""
    functions = all_tests()
    assert functions, f"no test function found under {TESTS}"
    problems = [
        f"{where}: {problem}"
        for where, function in functions
        for problem, missing in (
            ("no docstring", not ast.get_docstring(function)),
            ("asserts nothing", not checks_something(function)),
        )
        if missing
    ]
    assert problems == [], "\n".join(problems)
