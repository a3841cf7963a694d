"""No function-level imports of our own code: they hide import cycles from the import contracts.

``make lint`` checks the module boundaries with import-linter, which sees every import; an import
tucked inside a function would still be seen, but it is how cycles used to be hidden, so the rule is
simply: our imports live at the top of the file.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ecomops"


def _nested_imports(tree: ast.Module) -> list[tuple[int, str]]:
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if id(node) in top:
            continue
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("ecomops"):
            found.append((node.lineno, str(node.module)))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, a.name) for a in node.names if a.name.startswith("ecomops"))
    return found


def test_no_function_level_imports_of_ecomops() -> None:
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        nested = _nested_imports(ast.parse(path.read_text("utf-8")))
        if nested:
            offenders[str(path.relative_to(SRC))] = nested
    assert not offenders, f"imports of ecomops inside functions or blocks: {offenders}"


def test_the_check_sees_a_nested_import() -> None:
    tree = ast.parse("def f():\n    from ecomops.platform import roles\n    return roles\n")
    assert _nested_imports(tree) == [(2, "ecomops.platform")]
