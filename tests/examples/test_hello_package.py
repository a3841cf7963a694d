"""The example module as a package: it imports only what a third party may, and its distribution
ships every file it needs."""

from __future__ import annotations

import ast
import re
import tomllib
from fnmatch import fnmatch
from pathlib import Path

from tests.examples.install import EXAMPLE, PACKAGE, project

#: What a module outside ecomops may import from it: the platform, the kernel, other modules' service.
ALLOWED = re.compile(r"^ecomops\.(platform|kernel)(\.|$)|^ecomops\.[a-z_]+\.service(\.|$)")


def _imports(tree: ast.Module) -> list[tuple[int, str, bool]]:
    """(line, module, at the top of the file?) of every import of ``ecomops`` or ``ecomops_hello``."""
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        found.extend(
            (node.lineno, name, id(node) in top)
            for name in names
            if name.split(".")[0] in {"ecomops", PACKAGE}
        )
    return found


def problems_of(source: str) -> list[str]:
    problems = []
    for line, name, at_top in _imports(ast.parse(source)):
        if not at_top:
            problems.append(f"l.{line}: {name} imported inside a function or block")
        if name.split(".")[0] == "ecomops" and not ALLOWED.match(name):
            problems.append(f"l.{line}: {name} is not ecomops.platform, ecomops.kernel or a module's service")
    return problems


def test_the_example_imports_only_the_platform_the_kernel_and_services() -> None:
    offenders = {}
    for path in sorted((EXAMPLE / PACKAGE).rglob("*.py")):
        found = problems_of(path.read_text("utf-8"))
        if found:
            offenders[str(path.relative_to(EXAMPLE))] = found
    assert offenders == {}


def test_the_import_check_sees_what_a_module_must_not_do() -> None:
    source = (
        "from ecomops.orders import api\n"
        "from ecomops.orders.service import list_orders\n"
        "import ecomops.app\n"
        "def f():\n    from ecomops.platform import roles\n"
    )
    assert problems_of(source) == [
        "l.1: ecomops.orders is not ecomops.platform, ecomops.kernel or a module's service",
        "l.3: ecomops.app is not ecomops.platform, ecomops.kernel or a module's service",
        "l.5: ecomops.platform imported inside a function or block",
    ]


def test_the_distribution_ships_every_file_the_module_reads() -> None:
    """setuptools takes .py files of the (namespace) packages it finds and only the data files listed."""
    tool = tomllib.loads((EXAMPLE / "pyproject.toml").read_text("utf-8"))["tool"]["setuptools"]
    assert tool["packages"]["find"]["include"] == [f"{PACKAGE}*"]
    patterns = tool["package-data"]["*"]
    data = [
        p
        for p in (EXAMPLE / PACKAGE).rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    ]
    assert data, "the example has templates and SQL: the walk found none"
    unlisted = [
        str(p.relative_to(EXAMPLE)) for p in data if not any(fnmatch(p.name, pat) for pat in patterns)
    ]
    assert unlisted == [], (
        "add these to [tool.setuptools.package-data] in examples/ecomops-hello/pyproject.toml"
    )


def test_the_entry_point_is_named_after_the_module_it_loads() -> None:
    [(name, target)] = project()["entry-points"]["ecomops.modules"].items()
    module_file = EXAMPLE / Path(*target.partition(":")[0].split(".")).with_suffix(".py")
    assert re.search(rf'^    name="{name}",$', module_file.read_text("utf-8"), re.M)
