"""The ``sarlang`` command line: a thin layer over the library (no logic lives only here), one module per stage."""

from __future__ import annotations

import sys

from sarlang.cli.common import app, click_command

# each module registers its commands, in the order --help lists them
from sarlang.cli import evaluate  # noqa: E402,F401,I001
from sarlang.cli import retrieval  # noqa: E402,F401
from sarlang.cli import pixels  # noqa: E402,F401
from sarlang.cli import corpus  # noqa: E402,F401
from sarlang.cli import models  # noqa: E402,F401
from sarlang.cli import knowledge  # noqa: E402,F401
from sarlang.cli import report  # noqa: E402,F401
from sarlang.cli import serve  # noqa: E402,F401
from sarlang.cli import scene  # noqa: E402,F401
from sarlang.cli import demo  # noqa: E402,F401


def run() -> None:
    """Entry point of the ``sarlang`` script."""
    click_command()(prog_name="sarlang")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run())
