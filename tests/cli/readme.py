"""The README's runnable parts: walkthrough steps (command + the output it shows) and code."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"

WALKTHROUGH = re.compile(
    r"<!-- walkthrough -->\s*```console\n(.*?)```\s*<!-- /walkthrough -->", re.S
)
CODE = re.compile(r"<!-- code:(\w+) -->\s*```\w*\n(.*?)```\s*<!-- /code -->", re.S)
BOX = re.compile(r"[\u2500-\u257f]")


@dataclass
class Step:
    command: str
    shown: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return " ".join(self.command.split()[:3])


def walkthrough_steps(text: str | None = None) -> list[Step]:
    """Every `$ command` in the walkthrough blocks, in order, with the lines shown under it."""
    steps: list[Step] = []
    for block in WALKTHROUGH.findall(text if text is not None else README.read_text()):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:].strip()))
            elif steps and line.strip():
                steps[-1].shown.append(line)
    return steps


def code_snippets(text: str | None = None) -> list[tuple[str, str]]:
    """(language, code) of every block between `<!-- code:LANG -->` and `<!-- /code -->`."""
    return CODE.findall(text if text is not None else README.read_text())


def normalize(line: str) -> str:
    """A line with what changes from run to run masked: numbers, table borders, spacing."""
    line = BOX.sub(" ", line)
    line = re.sub(r"\d+", "0", line)
    return " ".join(line.split())


def normalized_lines(text: str | list[str]) -> list[str]:
    lines = text.splitlines() if isinstance(text, str) else text
    return [n for n in (normalize(line) for line in lines) if n]
