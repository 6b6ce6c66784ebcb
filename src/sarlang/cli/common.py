"""What every command shares: the app, the consoles, one-line errors, progress bars, output checks."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from sarlang import __version__
from sarlang.errors import SarlangError


# markup is off by default: user text (paths, reasons) may hold [brackets]; the few styled lines
# ask for markup and escape what they interpolate
console = Console(soft_wrap=True, markup=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False)

app = typer.Typer(
    name="sarlang",
    help="Vision-language modelling on SAR imagery: build, train, predict and score SARLANG-1M-style benchmarks.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)

F = TypeVar("F", bound=Callable[..., Any])
#: How a command line starts in an epilog written by :func:`examples` (the help tests parse them).
EXAMPLE_PREFIX = "$ "


def examples(*lines: str, note: str = "") -> str:
    """A command's epilog: its example command lines, one per line after :data:`EXAMPLE_PREFIX`
    (tests parse each as the command's own arguments), and an optional note."""
    head = "Example:" if len(lines) == 1 else "Examples:"
    return "\n".join([head, *(EXAMPLE_PREFIX + line for line in lines), *([f"({note})"] if note else [])])


def help_as_text(command: Any) -> Any:
    """``command`` (a click command or group, with its sub-commands) with every help text, short
    help and epilog escaped for Rich, so typer's "rich" help shows them as written: a box
    ``[x, y, w, h]``, an extra ``'sarlang[ray]'``, a pattern ``'^(P\\d+)__'``."""
    import inspect

    if isinstance(getattr(command, "help", None), str):
        # paragraphs reflowed to the terminal (typer keeps a docstring's line breaks after the first)
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = escape("\n\n".join(" ".join(p.split()) for p in paragraphs))
    for attribute in ("short_help", "epilog"):
        if isinstance(getattr(command, attribute, None), str):
            setattr(command, attribute, escape(getattr(command, attribute)))
    for param in getattr(command, "params", []):
        if isinstance(getattr(param, "help", None), str):
            param.help = escape(param.help)
    for sub in getattr(command, "commands", {}).values():
        help_as_text(sub)
    return command


def click_command() -> Any:
    """The ``sarlang`` command as click runs it: typer's commands with their help escaped (:func:`help_as_text`)."""
    return help_as_text(typer.main.get_command(app))


def user_errors(func: F) -> F:
    """Print a :class:`SarlangError` as one line on stderr and exit 2, instead of a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SarlangError as exc:
            err_console.print(f"[bold red]error:[/] {escape(exc.message)}", highlight=False, markup=True)
            if exc.hint:
                err_console.print(f"[yellow]hint:[/] {escape(exc.hint)}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


class _ThreadlessProgress(Progress):
    """A progress bar redrawn by its updates (at most 10 times a second), not by a thread of its own.

    With no extra thread running, the library may fork worker processes safely (a fork copies
    only the calling thread, and a lock held by another one would stay locked in the child).
    """

    def __init__(self, *columns: Any, **kwargs: Any) -> None:
        super().__init__(*columns, auto_refresh=False, **kwargs)
        self._last_draw = 0.0

    def _draw(self) -> None:
        now = time.monotonic()
        if now - self._last_draw >= 0.1:
            self._last_draw = now
            self.refresh()

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        self._draw()

    def advance(self, *args: Any, **kwargs: Any) -> None:
        super().advance(*args, **kwargs)
        self._draw()


def progress_bar(label: str, disable: bool = False) -> Progress:
    """A transient progress bar on stderr (stdout stays clean for tables and --json)."""
    return _ThreadlessProgress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                               console=err_console, transient=True, disable=disable)


def _version(value: bool) -> None:
    if value:
        console.print(f"sarlang {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """sarlang: vision-language modelling on SAR imagery."""


JsonOpt = Annotated[Path | None, typer.Option("--json", help="Write the results as JSON here.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="Where the work runs: local (this machine's cores) or ray (a Ray cluster; "
                                                          "pip install 'sarlang[ray]'). Outputs are the same, byte for byte.")]
RayActorsOpt = Annotated[int | None, typer.Option("--ray-actors", min=1, help="With --engine ray: Ray actors that each load the model "
                                                                            "(default: one per GPU of the cluster, or one per CPU where it has none).")]
RayAddressOpt = Annotated[str | None, typer.Option("--ray-address", help="With --engine ray: an existing cluster's address (auto, "
                                                                          "ray://HOST:10001); default: a local Ray instance on this machine.")]


def check_outputs(files: dict[str, Path | None] | None = None, folders: dict[str, Path | None] | None = None) -> None:
    """Refuse unusable output paths before any work is done (a folder where a file goes, no write access, ...)."""
    from sarlang.files import check_output_file, check_output_folder

    for what, path in (files or {}).items():
        if path is not None:
            check_output_file(path, what)
    for what, path in (folders or {}).items():
        if path is not None:
            check_output_folder(path, what)

