"""The project's exceptions.

Every error a user can cause (a missing file, a malformed line, a wrong option) is a
:class:`SarlangError` whose message says what went wrong and what to do about it. The CLI
prints these as one line and exits with status 2; anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations


class SarlangError(Exception):
    """Base class: an error the user can act on.

    Parameters
    ----------
    message:
        What went wrong, in the user's terms.
    hint:
        What to do about it (optional); printed after the message.
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class InputError(SarlangError):
    """An input file is missing, empty, unreadable or not in the expected format."""


class FormatDetectionError(InputError):
    """``--format auto`` could not tell which prediction format a file is in."""


class MissingDependencyError(SarlangError):
    """An optional dependency (an extra) or an external program is not installed."""

    def __init__(self, what: str, extra: str | None = None, hint: str | None = None) -> None:
        if hint is None and extra is not None:
            hint = f"install it with: pip install 'sarlang[{extra}]'"
        super().__init__(f"{what} is not available", hint)
        self.extra = extra


class JudgeError(SarlangError):
    """The answer judge could not be set up or reached (bad URL, missing key, ...)."""


class TaskMismatch(InputError):
    """A prediction file, or the records it is scored against, holds nothing of the task asked
    (captions, questions, box answers); ``held`` names the tasks it does hold (``sarlang eval``'s
    task names), so ``sarlang eval all`` skips that task and says so, by type, not by message."""

    def __init__(self, message: str, held: list[str] | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.held = list(held or [])
