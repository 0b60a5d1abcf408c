"""The front door, installed as the package `musicspeech` (its library is `musicspeech.core`, its desktop app
`musicspeech.gui`, its headless command line `musicspeech.commands`): `musicspeech COMMAND ...` runs the command
line (no Qt is imported); `musicspeech` alone, or with file names, opens the desktop app."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from musicspeech.commands import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
        from musicspeech.commands import main as cli_main

        return cli_main(argv)
    from musicspeech.gui.app import main as gui_main

    return gui_main(argv)
