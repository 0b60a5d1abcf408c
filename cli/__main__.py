"""`python -m musicspeech`, and the frozen app's entry point (build_installer.spec)."""

import multiprocessing
import sys

from musicspeech import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # in the frozen app, child processes (the GTZAN download) start here
    sys.exit(main())
