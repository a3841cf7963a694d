"""The module registry: every domain folder is listed once as an entry point, the installed modules
match, and a registry that contradicts itself is refused before anything runs."""

from __future__ import annotations

import tomllib
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest
from fastapi import Request, Response

from ecomops.platform.console.nav import SECTIONS
from ecomops.platform.context import TenantContext
from ecomops.platform.modules import Command, Job, Module, NavEntry, PageVisit
from ecomops.platform.registry import (
    GROUP,
    ModuleError,
    Registry,
    _load_entry_point,
    markdown_table,
    registry,
)
from ecomops.platform.roles import ALL_ROLES, Permission
from ecomops.platform.web.state import AppState
from tests.conftest import REPO

SRC = REPO / "src" / "ecomops"


def declared_entry_points(pyproject: Path) -> dict[str, str]:
    """name -> target of the ``ecomops.modules`` entry points a pyproject.toml declares."""
    project = tomllib.loads(pyproject.read_text("utf-8"))["project"]
    entries: dict[str, str] = project.get("entry-points", {}).get(GROUP, {})
    return entries


def registration_problems(package: Path, entries: dict[str, str]) -> list[str]:
    """What is wrong between the domain folders (each with a ``module.py``) and the entry points."""
    root = package.name
    folders = sorted(p.parent.name for p in package.glob("*/module.py"))
    problems = []
    for name in folders:
        expected = f"{root}.{name}.module:module"
        if name not in entries:
            problems.append(
                f'{root}/{name}/module.py is not registered: add `{name} = "{expected}"` under '
                f'[project.entry-points."{GROUP}"] in pyproject.toml, then `pip install -e .` again'
            )
        elif entries[name] != expected:
            problems.append(f"entry point {name!r} loads {entries[name]!r}, expected {expected!r}")
    for name in sorted(set(entries) - set(folders)):
        problems.append(f"entry point {name!r} names no {root}/{name}/module.py")
    return problems


def test_every_module_folder_is_registered_once_under_its_name() -> None:
    assert registration_problems(SRC, declared_entry_points(REPO / "pyproject.toml")) == []


def test_a_folder_without_an_entry_point_fails_with_a_clear_message(tmp_path: Path) -> None:
    package = tmp_path / "ecomops"
    for name in ("orders", "loyalty"):
        (package / name).mkdir(parents=True)
        (package / name / "module.py").write_text("")
    problems = registration_problems(
        package, {"orders": "ecomops.orders.module:module", "gone": "ecomops.gone.module:module"}
    )
    assert problems == [
        'ecomops/loyalty/module.py is not registered: add `loyalty = "ecomops.loyalty.module:module"` '
        'under [project.entry-points."ecomops.modules"] in pyproject.toml, then `pip install -e .` again',
        "entry point 'gone' names no ecomops/gone/module.py",
    ]


def test_the_installed_modules_are_the_declared_ones() -> None:
    """The environment's metadata comes from the last install: a stale one needs `pip install -e .`."""
    declared = declared_entry_points(REPO / "pyproject.toml")
    installed = {e.name: e.value for e in entry_points(group=GROUP)}
    assert installed == declared, "the installed entry points are stale: run `pip install -e .` again"
    assert {m.name for m in registry().modules} == set(declared)


def test_nav_entries_land_in_sections_the_console_shows() -> None:
    """An entry in an unknown section would be silently missing from the sidebar."""
    known = {key for key, _label in SECTIONS}
    for module, entry in registry().nav:
        assert entry.section in known, (
            f"{module}: nav entry {entry.key!r} in unknown section {entry.section!r}"
        )


# --- validation of a registry as a whole ---------------------------------------------------------


class _Authenticator:
    """Never called: a registry only checks that one module provides it."""

    async def api_context(self, request: Request, tenant: str, state: AppState) -> TenantContext:
        raise NotImplementedError

    async def page_visit(self, request: Request, slug: str, state: AppState) -> PageVisit | Response:
        raise NotImplementedError

    async def signed_in(self, request: Request, state: AppState) -> Any | None:
        raise NotImplementedError


def _job(name: str) -> Job:
    return Job(name, lambda _s: 60.0, lambda _e: [], lambda _st, _t, _n: None, "system:test")


def _nav(key: str, permission: str | None) -> NavEntry:
    return NavEntry(key, key.title(), f"/{key}", permission, "data", "list")


def test_a_consistent_registry_is_accepted() -> None:
    reg = Registry(
        (
            Module("core", "Core", permissions=(Permission("core:read", ALL_ROLES, "read"),)),
            Module(
                "extra",
                "Extra",
                optional=True,
                nav=(_nav("extra", "core:read"),),
                jobs=(_job("extra.pass"),),
                authenticator=_Authenticator(),
            ),
        )
    )
    assert [m.name for m in reg.optional] == ["extra"]
    assert reg.jobs == (("extra", reg.modules[1].jobs[0]),)
    assert isinstance(reg.authenticator, _Authenticator)


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ((Module("orders", "A"), Module("orders", "B")), "two installed modules are named 'orders'"),
        (
            (
                Module("aa", "A", permissions=(Permission("x:read", ALL_ROLES, "read"),)),
                Module("bb", "B", permissions=(Permission("x:read", ALL_ROLES, "read again"),)),
            ),
            "permission 'x:read' is declared by both 'aa' and 'bb'",
        ),
        (
            (Module("aa", "A", nav=(_nav("home", None),)), Module("bb", "B", nav=(_nav("home", None),))),
            "navigation entry 'home' is declared by both 'aa' and 'bb'",
        ),
        (
            (
                Module("aa", "A", commands=(Command("report", lambda: None),)),
                Module("bb", "B", commands=(Command("report", lambda: None),)),
            ),
            "CLI command 'report' is declared by both 'aa' and 'bb'",
        ),
        (
            (Module("aa", "A", jobs=(_job("sweep"),)), Module("bb", "B", jobs=(_job("sweep"),))),
            "job 'sweep' is declared by both 'aa' and 'bb'",
        ),
        (
            (Module("aa", "A", nav=(_nav("reports", "reports:read"),)),),
            "navigation entry 'reports' of 'aa' needs unknown permission 'reports:read'",
        ),
        (
            (
                Module("aa", "A", authenticator=_Authenticator()),
                Module("bb", "B", authenticator=_Authenticator()),
            ),
            "only one module may provide the authenticator, found ['aa', 'bb']",
        ),
    ],
)
def test_contradictions_are_refused(modules: tuple[Module, ...], message: str) -> None:
    with pytest.raises(ModuleError) as info:
        Registry(modules)
    assert str(info.value) == message


def test_without_an_authenticator_the_web_layer_cannot_start() -> None:
    with pytest.raises(ModuleError, match="no installed module provides the authenticator"):
        _ = Registry((Module("aa", "A"),)).authenticator


def test_a_module_declaration_checks_itself() -> None:
    with pytest.raises(ValueError, match="must be 2-40 lowercase letters"):
        Module("Orders", "Orders")
    with pytest.raises(ValueError, match="only optional modules can start disabled"):
        Module("orders", "Orders", enabled_by_default=False)


def test_an_entry_point_must_load_the_module_it_names() -> None:
    wrong_name = EntryPoint("warnings", "ecomops.alerts.module:module", GROUP)
    with pytest.raises(ModuleError, match="entry point 'warnings' loads a module named 'alerts'"):
        _load_entry_point(wrong_name)
    not_a_module = EntryPoint("roles", "ecomops.platform.roles:ROLES", GROUP)
    with pytest.raises(ModuleError, match="is not an ecomops Module"):
        _load_entry_point(not_a_module)


# --- the README's table of modules ---------------------------------------------------------------

START, END = "<!-- modules:start -->\n", "<!-- modules:end -->"


def test_readme_holds_the_generated_module_table() -> None:
    readme = (REPO / "README.md").read_text("utf-8")
    table = readme[readme.index(START) + len(START) : readme.index(END)]
    assert table == markdown_table(), "regenerate with: python -m ecomops.platform.registry"


def test_the_table_has_a_row_per_module_with_its_docs_page_present() -> None:
    rows = markdown_table().splitlines()[2:]
    assert len(rows) == len(registry().modules)
    for module, row in zip(registry().modules, rows, strict=True):
        assert f"(`{module.name}`" in row
        if module.docs is not None:
            assert (REPO / module.docs).is_file(), f"{module.name}: docs page {module.docs} does not exist"
