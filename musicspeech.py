"""The front door: `musicspeech COMMAND ...` runs the headless command line (no Qt is imported);
`musicspeech` alone, or with file names, opens the desktop app."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from core.cli import COMMANDS

    if argv and (argv[0] in COMMANDS or argv[0].startswith("-")):
        from core.cli import main as cli_main

        return cli_main(argv)
    from gui.app import main as gui_main

    return gui_main(argv)


if __name__ == "__main__":
    import multiprocessing

    multiprocessing.freeze_support()  # in the frozen app, child processes (training, the GTZAN download) start here
    sys.exit(main())
