"""The shell blocks of README.md and docs/*.md, as a reader would copy them into a terminal.

A block is run when it is fenced as ``bash``, ``sh`` or ``console`` (``$ `` prompts: only those lines are
commands, the rest is shown output). A block a test cannot run (it serves forever, installs system packages,
needs several hosts) says so right above it with ``<!-- not-run: reason -->``, which the test reports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SHELLS = ("bash", "sh", "console")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
NOT_RUN = re.compile(r"<!--\s*not-run:\s*(?P<reason>[^<>]*?)\s*-->")
MARKED = re.compile(NOT_RUN.pattern + r"\s*\Z")  # a marker with nothing but blank space before the fence


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    body: str
    not_run: str | None  # the reason, when the markdown marks the block as one a test cannot run

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    def commands(self) -> str:
        """What a reader types: the block itself, or a console block's ``$ `` lines without the prompt."""
        if self.lang != "console":
            return self.body
        return "".join(line[2:] + "\n" for line in self.body.splitlines() if line.startswith("$ "))


def documents() -> list[Path]:
    return [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def shell_blocks(path: Path) -> list[Block]:
    """The file's shell blocks in reading order, each with the not-run reason written just above it."""
    text = path.read_text(encoding="utf-8")
    blocks = []
    for match in FENCE.finditer(text):
        if match["lang"] not in SHELLS:
            continue
        marker = MARKED.search(text, 0, match.start())
        blocks.append(
            Block(
                path=path,
                line=text.count("\n", 0, match.start()) + 1,
                lang=match["lang"],
                body=match["body"],
                not_run=marker["reason"] if marker else None,
            )
        )
    return blocks


def marker_count(path: Path) -> int:
    """Not-run markers in the file: as many as marked blocks, or one stands above no shell block."""
    return len(NOT_RUN.findall(path.read_text(encoding="utf-8")))
