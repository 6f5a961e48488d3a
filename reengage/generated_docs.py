"""Blocks of a document generated from the code, between two marker comments, so they cannot drift.

Each generator (reengage.catalog for README.md, reengage.contract_doc for
docs/architecture.md) prints its block and rewrites it with `--write`; its test fails when the
document holds something else.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reengage import settings


@dataclass(frozen=True)
class GeneratedBlock:
    path: Path
    start: str
    end: str

    def current(self) -> str:
        """What the document holds between the markers, stripped."""
        _, inside, _ = self._parts(self.path.read_text())
        return inside.strip()

    def write(self, body: str) -> bool:
        """Put `body` between the markers; True when the document changed."""
        text = self.path.read_text()
        head, _, tail = self._parts(text)
        new = f"{head}{self.start}\n{body}\n{self.end}{tail}"
        if new == text:
            return False
        self.path.write_text(new)
        return True

    def _parts(self, text: str) -> tuple[str, str, str]:
        """The text before the start marker, between the markers, and after the end marker."""
        if self.start not in text or self.end not in text:
            raise SystemExit(f"{self.path}: the markers {self.start!r} and {self.end!r} are missing")
        head, rest = text.split(self.start, 1)
        inside, tail = rest.split(self.end, 1)
        return head, inside, tail


def command(
    block: GeneratedBlock, render: Callable[[], str], description: str, argv: list[str] | None
) -> int:
    """A generator's command line: print the block, or with --write put it in its document."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    shown = block.path.relative_to(settings.REPO_ROOT)
    parser.add_argument("--write", action="store_true", help=f"replace the generated block in {shown}")
    args = parser.parse_args(argv)
    if args.write:
        print(f"{shown} updated" if block.write(render()) else f"{shown} already up to date")
    else:
        print(render())
    return 0
