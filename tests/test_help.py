"""Every ``--help`` shows its text as written, every example it gives parses, and every option the
README and ``docs/`` name is an option of that command (or of the other tool the line runs)."""

from __future__ import annotations

import re
import shlex

import pytest

from tests.cli_text import DOCUMENTS, options_of, parse_error, resolve, shown_commands
from tests.conftest import ROOT, run_cli

#: Options the documents name that belong to other programs (the command line they appear in runs
#: that program), or to the benchmark scripts (checked against their own --help below).
OTHER_PROGRAMS = {"--address": "ray start", "--head": "ray start", "--tasks": "lmms-eval", "--include_path": "lmms-eval",
                  "--model_args": "lmms-eval", "--batch_size": "lmms-eval", "--output_path": "lmms-eval",
                  "--max-model-len": "vllm serve", "--limit-mm-per-prompt": "vllm serve", "--mm-processor-kwargs": "vllm serve",
                  "--config_file": "accelerate launch"}
BENCHMARK_OPTIONS = {"--large": "speckle.py", "--frozen-blocks": "sar_clip.py", "--epochs": "mstar_vlm.py", "--set": "mstar_vlm.py",
                     "--grounding": "mstar_vlm.py", "--size": "scene.py", "--recipe": "scene.py"}


def _commands():
    from sarlang.cli.common import click_command

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    return list(walk(click_command(), "sarlang"))


def _rendered_help(path: str) -> str:
    from click.testing import CliRunner

    from sarlang.cli.common import click_command

    result = CliRunner().invoke(click_command(), [*path.split()[1:], "--help"], prog_name="sarlang", terminal_width=400, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    return re.sub(r"[│╭╮╰╯─]+", " ", result.output)


def _raw_texts(command) -> list[str]:
    """The help texts as written in the source, before the entry point escapes them for Rich."""
    import typer

    from sarlang.cli.common import app

    raw = typer.main.get_command(app)
    for part in command.split()[1:]:
        raw = raw.commands[part]
    texts = [p.help for p in raw.params if getattr(p, "help", None)]
    return texts + [raw.epilog or ""]


def test_help_shows_bracketed_text_as_written() -> None:
    """Rich markup is never read from help text: '[x, y, w, h]' and 'sarlang[ray]' survive."""
    seen = 0
    for path, command in _commands():
        shown = " ".join(_rendered_help(path).split())
        for text in _raw_texts(path):
            for bracketed in re.findall(r"\S*\[[^\]]*\]\S*", text):
                assert " ".join(bracketed.split()) in shown, (path, bracketed)
                seen += 1
    assert seen >= 5
    shown = " ".join(_rendered_help("sarlang build").split())
    for written in ("sarlang ([x, y, w, h] pixels)", "pip install 'sarlang[ray]'", r"'^(P\d+)__'", "KIND:PATH[,key=value...]"):
        assert written in shown, written


def test_the_entry_point_renders_help_as_written() -> None:
    result = run_cli("build", "--help", env={"COLUMNS": "300", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0 and "sarlang ([x, y, w, h] pixels)" in result.stdout and "'sarlang[ray]'" in result.stdout


def test_every_help_example_parses() -> None:
    from sarlang.cli.common import EXAMPLE_PREFIX

    examples = 0
    for path, command in _commands():
        if getattr(command, "commands", None):
            continue
        lines = [line[len(EXAMPLE_PREFIX):] for line in (command.epilog or "").split("\n") if line.startswith(EXAMPLE_PREFIX)]
        assert lines, f"{path} --help gives no example"
        for line in lines:
            words = shlex.split(line)
            assert resolve(words)[1] == path, (path, line)
            assert parse_error(words) is None, (path, line, parse_error(words))
            examples += 1
    assert examples >= 25


def test_every_command_the_documents_show_parses() -> None:
    shown = shown_commands()
    assert len([s for s in shown if s.block]) >= 25
    for s in shown:
        words = shlex.split(s.text)
        command, path, rest = resolve(words)
        if s.block:
            assert parse_error(words) is None, (s, parse_error(words))
        else:  # an inline mention may hold placeholders (BUILD, [--json F]): its options must exist
            known = options_of(command).union(*(options_of(c) for c in getattr(command, "commands", {}).values()))
            unknown = {w.split("=")[0].strip("[]") for w in rest if w.lstrip("[").startswith("--")} - known
            assert not unknown, (s, unknown)


def test_every_option_the_documents_name_exists() -> None:
    """A ``--option`` anywhere in the README or docs/ is an option of some sarlang command, of a
    benchmark script (its own --help says so), or of the other program its line runs."""
    every = set().union(*(options_of(c) for _, c in _commands()))
    text = "\n".join(p.read_text(encoding="utf-8") for p in DOCUMENTS)
    named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*(?:_[a-z]+)?", text))
    unknown = {o for o in named - every if o not in OTHER_PROGRAMS and o not in BENCHMARK_OPTIONS}
    assert not unknown, f"options the documents name that no command has: {sorted(unknown)}"
    import subprocess
    import sys

    for option, script in BENCHMARK_OPTIONS.items():
        if option in named and option not in every:
            shown = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), "--help"], capture_output=True, text=True, timeout=120)
            assert option in shown.stdout, (script, option)


def test_counts_are_said_in_the_singular_for_one() -> None:
    from sarlang.vocabulary import counted

    assert [counted(1, "tile"), counted(3, "tile"), counted(0, "image"), counted(6, "epoch"), counted(2, "batch")] == \
        ["1 tile", "3 tiles", "0 images", "6 epochs", "2 batches"]
    source = "\n".join(p.read_text(encoding="utf-8") for p in (ROOT / "src" / "sarlang" / "cli").glob("*.py"))
    # a number printed before a plural noun goes through counted() (a "1 tiles" is not written)
    assert not re.findall(r"\{[^{}]*\} (?:tiles|objects|records|scenes|images|answers|rows|captions|epochs)\b", source)


def test_every_option_a_hint_names_exists() -> None:
    """A hint tells the user what to type: each ``--option`` in a hint of the package is an option
    of a sarlang command (or of the other program the hint names: ``ray start``, ``pip install``)."""
    import ast

    every = set().union(*(options_of(c) for _, c in _commands()))
    named: dict[str, str] = {}
    python_only: list[str] = []
    for path in (ROOT / "src" / "sarlang").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg == "hint":
                text = "".join(v.value for v in ast.walk(node.value) if isinstance(v, ast.Constant) and isinstance(v.value, str))
                text = re.sub(r"`(?:ray start|pip install)[^`]*`|pip install \S+ \S+", "", text)
                for option in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text):
                    named[option] = f"{path.relative_to(ROOT)}:{node.lineno}"
                # a Python keyword (looks=) is no advice to someone at a command line, unless the hint says where it goes
                if re.search(r"(?<![\w{-])[a-z_]+=(?!\S*})", text) and "Python" not in text:
                    python_only.append(f"{path.relative_to(ROOT)}:{node.lineno}: {text}")
    assert not python_only, python_only
    assert len(named) >= 15
    unknown = {o: where for o, where in named.items() if o not in every}
    assert not unknown, f"hints name options no command has: {unknown}"
