"""The installed modules, found through the ``ecomops.modules`` entry-point group and checked as a whole.

One registry per process, loaded on first use: a process has one set of installed distributions, and
the permission matrix, tenant-table scoping and fact hooks must agree everywhere in it (the way
Datasette's plug-in manager is process-wide). Loading a module also imports its ``models`` so its
tables are known to tenant scoping before any session opens.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from ecomops.platform.modules import (
    Authenticator,
    FactsListener,
    Job,
    Module,
    NavEntry,
    PendingLoader,
    RetentionSweep,
)
from ecomops.platform.roles import Permission

log = logging.getLogger(__name__)
GROUP = "ecomops.modules"


class ModuleError(RuntimeError):
    """The installed modules contradict each other (a programming or packaging error)."""


@dataclass(frozen=True)
class Registry:
    """The installed modules in their order, and the views the platform assembles from them."""

    modules: tuple[Module, ...]

    def __post_init__(self) -> None:
        _validate(self.modules)

    @cached_property
    def by_name(self) -> dict[str, Module]:
        return {m.name: m for m in self.modules}

    def get(self, name: str) -> Module | None:
        return self.by_name.get(name)

    @cached_property
    def permissions(self) -> dict[str, Permission]:
        return {p.name: p for m in self.modules for p in m.permissions}

    @cached_property
    def nav(self) -> tuple[tuple[str, NavEntry], ...]:
        """(module name, entry) in display order."""
        entries = [(m.name, e) for m in self.modules for e in m.nav]
        return tuple(sorted(entries, key=lambda pair: (pair[1].order, pair[1].key)))

    @cached_property
    def jobs(self) -> tuple[tuple[str, Job], ...]:
        return tuple((m.name, j) for m in self.modules for j in m.jobs)

    @cached_property
    def facts_listeners(self) -> tuple[FactsListener, ...]:
        return tuple(listener for m in self.modules for listener in m.facts_listeners)

    @cached_property
    def pending_loaders(self) -> tuple[PendingLoader, ...]:
        return tuple(loader for m in self.modules for loader in m.pending_loaders)

    @cached_property
    def retention_sweeps(self) -> tuple[RetentionSweep, ...]:
        return tuple(sweep for m in self.modules for sweep in m.retention_sweeps)

    @cached_property
    def authenticator(self) -> Authenticator:
        found = [m.authenticator for m in self.modules if m.authenticator is not None]
        if not found:
            raise ModuleError("no installed module provides the authenticator (the security module does)")
        return found[0]

    @cached_property
    def template_dirs(self) -> tuple[Path, ...]:
        return tuple(m.templates for m in self.modules if m.templates is not None)

    @cached_property
    def optional(self) -> tuple[Module, ...]:
        return tuple(m for m in self.modules if m.optional)


def _validate(modules: Iterable[Module]) -> None:
    seen: dict[str, str] = {}
    permissions: dict[str, str] = {}
    nav: dict[str, str] = {}
    commands: dict[str, str] = {}
    jobs: dict[str, str] = {}
    authenticators = []
    for module in modules:
        if module.name in seen:
            raise ModuleError(f"two installed modules are named {module.name!r}")
        seen[module.name] = module.name
        for kind, names, found in (
            ("permission", [p.name for p in module.permissions], permissions),
            ("navigation entry", [e.key for e in module.nav], nav),
            ("CLI command", [c.name for c in module.commands], commands),
            ("job", [j.name for j in module.jobs], jobs),
        ):
            for name in names:
                if name in found:
                    raise ModuleError(
                        f"{kind} {name!r} is declared by both {found[name]!r} and {module.name!r}"
                    )
                found[name] = module.name
        if module.authenticator is not None:
            authenticators.append(module.name)
    if len(authenticators) > 1:
        raise ModuleError(f"only one module may provide the authenticator, found {authenticators}")
    for module in modules:
        for entry in module.nav:
            if entry.permission is not None and entry.permission not in permissions:
                raise ModuleError(
                    f"navigation entry {entry.key!r} of {module.name!r} needs unknown permission "
                    f"{entry.permission!r}"
                )


def _load_entry_point(entry: EntryPoint) -> Module:
    loaded = entry.load()
    if not isinstance(loaded, Module):
        raise ModuleError(f"entry point {entry.name} = {entry.value} is not an ecomops Module")
    if loaded.name != entry.name:
        raise ModuleError(f"entry point {entry.name!r} loads a module named {loaded.name!r}")
    package = entry.module.rpartition(".")[0] or entry.module
    if importlib.util.find_spec(package + ".models") is not None:
        importlib.import_module(package + ".models")
    return loaded


def discover() -> Registry:
    """Every module installed in this environment, in (order, name) order."""
    found = [_load_entry_point(entry) for entry in entry_points(group=GROUP)]
    if not found:
        raise ModuleError(
            f"no modules registered under the {GROUP!r} entry points: is ecomops installed "
            "(pip install -e .)?"
        )
    return Registry(tuple(sorted(found, key=lambda m: (m.order, m.name))))


_lock = threading.Lock()
_registry: Registry | None = None


def registry() -> Registry:
    """The process's registry, discovered on first use."""
    global _registry
    if _registry is None:
        with _lock:
            if _registry is None:
                _registry = discover()
                log.debug("modules loaded: %s", ", ".join(m.name for m in _registry.modules))
    return _registry


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_table(modules: Registry | None = None) -> str:
    """The README's "What is here" table: every installed module with its summary, CLI and docs."""
    lines = ["| module | what it does | CLI | docs |", "|---|---|---|---|"]
    for module in (modules or registry()).modules:
        name = f"**{_cell(module.title)}** (`{module.name}`{', optional' if module.optional else ''})"
        cli = ", ".join(f"`ecomops {command.name}`" for command in module.commands) or "–"
        docs = f"[{module.docs}]({module.docs})" if module.docs else "–"
        lines.append(f"| {name} | {_cell(module.summary)} | {cli} | {docs} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - regenerates the table in README.md
    print(markdown_table(), end="")
