"""The ``sarlang`` command lines the documentation shows, and parsing them as the command would.

Used by the tests that hold the README, ``docs/`` and every ``--help`` example to the commands
as they are (``tests/test_help.py``, ``tests/test_readme_commands.py``).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
_FENCE = re.compile(r"```([\w-]*)\n(.*?)```", re.S)
_INLINE = re.compile(r"(?<!`)`(sarlang [^`]+)`(?!`)")


@dataclass(frozen=True)
class Shown:
    """A command line as a document shows it: the file, its line number, the text (continuations
    joined, the trailing comment dropped) and whether it stands in a code block."""

    document: str
    line: int
    text: str
    block: bool


def shown_commands(program: str = "sarlang", documents: list[Path] = DOCUMENTS) -> list[Shown]:
    """Every line of the documents' code blocks that runs ``program``, and every inline code span
    that starts with it, in document order."""
    found: list[Shown] = []
    for path in documents:
        text = path.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            if match.group(1) not in ("", "bash", "sh", "console", "shell"):
                continue
            start = text[: match.start(2)].count("\n") + 1
            lines = match.group(2).split("\n")
            k = 0
            while k < len(lines):
                line, first = lines[k], k
                while line.rstrip().endswith("\\") and k + 1 < len(lines):
                    k += 1
                    line = line.rstrip()[:-1] + " " + lines[k].strip()
                k += 1
                words = shlex.split(line, comments=True) if line.strip() else []
                if words and words[0] == program:
                    found.append(Shown(path.name, start + first, shlex.join(words), True))
        for match in _INLINE.finditer(text):
            if program == "sarlang":
                found.append(Shown(path.name, text[: match.start()].count("\n") + 1, match.group(1), False))
    return found


def resolve(words: list[str]):
    """(the click command, its path such as ``sarlang eval vqa``, the remaining arguments) of ``sarlang WORDS...``."""
    from sarlang.cli.common import click_command

    command, path = click_command(), ["sarlang"]
    rest = list(words[1:] if words and words[0] == "sarlang" else words)
    while getattr(command, "commands", None) and rest and rest[0] in command.commands:
        command = command.commands[rest[0]]
        path.append(rest.pop(0))
    return command, " ".join(path), rest


def options_of(command) -> set[str]:
    return {o for p in command.params for o in [*getattr(p, "opts", []), *getattr(p, "secondary_opts", [])]} | {"--help"}


def parse_error(words: list[str]) -> str | None:
    """Why ``sarlang WORDS...`` would not parse (an unknown command or option, a bad value, a
    missing required option), or None. A path the line names that does not exist here is no
    error: the line's data is the reader's."""
    import click

    command, path, rest = resolve(words)
    if getattr(command, "commands", None):
        return f"'{' '.join(words)}' names no command of {path}"
    try:
        command.make_context(path, rest)
    except click.BadParameter as exc:
        if "does not exist" in exc.format_message():
            return None
        return exc.format_message()
    except click.UsageError as exc:
        return exc.format_message()
    except click.exceptions.Exit:
        return None
    return None
