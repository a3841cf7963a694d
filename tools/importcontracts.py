"""import-linter contract for ecomops' module boundaries (``make lint`` runs it; see pyproject.toml).

The built-in contracts fix the layers (kernel < platform < app < cli) and keep each module's api, cli
and pages private. This one covers what they cannot express without listing every module by hand:
the modules are discovered (every direct sub-package of the root that is neither platform nor
assembly), so a new module is checked the moment its folder exists.

Rules, each reported with the importing line:
1. the platform (and kernel) import no module;
2. no module imports the assembly (app, cli);
3. a module uses another only through its public ``service`` (a module or package);
4. the modules' dependencies on each other have no cycle.
"""

from __future__ import annotations

from typing import Any

import grimp
from importlinter import Contract, ContractCheck, fields, output


class ModulesContract(Contract):
    type_name = "modules"

    root = fields.StringField()
    platform = fields.ListField(subfield=fields.StringField())
    assembly = fields.ListField(subfield=fields.StringField())
    public = fields.StringField(required=False, default="service")

    def _top(self, module: str) -> str | None:
        parts = module.split(".")
        return ".".join(parts[:2]) if len(parts) > 1 and parts[0] == str(self.root) else None

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        root = str(self.root)
        platform = {str(p) for p in self.platform}  # type: ignore[attr-defined]
        assembly = {str(a) for a in self.assembly}  # type: ignore[attr-defined]
        public = str(self.public)
        tops = {self._top(m) for m in graph.modules} - {None}
        domains = sorted(t for t in tops if t not in platform | assembly and graph.find_children(t))
        problems: list[dict[str, Any]] = []
        depends: dict[str, set[str]] = {d: set() for d in domains}

        def report(rule: str, importer: str, imported: str) -> None:
            details = graph.get_import_details(importer=importer, imported=imported)
            lines = ", ".join(str(d["line_number"]) for d in details) or "?"
            problems.append({"rule": rule, "importer": importer, "imported": imported, "lines": lines})

        for importer in sorted(graph.modules):
            source = self._top(importer)
            if source is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(importer)):
                target = self._top(imported)
                if target is None or target in (source, root):
                    continue
                if source in platform and target in domains:
                    report("the platform imports a module", importer, imported)
                elif source in domains and target in assembly:
                    report("a module imports the assembly", importer, imported)
                elif source in domains and target in domains:
                    depends[source].add(target)
                    inside = imported.split(".")[2:]
                    if not inside or inside[0] != public:
                        report(f"a module reaches past another's {public}", importer, imported)

        cycle = _find_cycle(depends)
        return ContractCheck(
            kept=not problems and cycle is None,
            metadata={"problems": problems, "cycle": cycle, "domains": domains},
        )

    def render_broken_contract(self, check: ContractCheck) -> None:
        for problem in check.metadata["problems"]:
            output.print_error(
                f"{problem['rule']}: {problem['importer']} -> {problem['imported']} (l.{problem['lines']})",
                bold=False,
            )
            output.new_line()
        cycle = check.metadata["cycle"]
        if cycle:
            output.print_error("modules depend on each other in a cycle: " + " -> ".join(cycle), bold=False)
            output.new_line()


def _find_cycle(depends: dict[str, set[str]]) -> list[str] | None:
    """One dependency cycle among the modules, as a closed path, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(depends.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(depends):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
