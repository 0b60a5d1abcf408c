"""C libraries write notices straight to file descriptor 2, past Python's logging: TensorFlow's runtime when it
loads, ALSA and JACK when PortAudio scans the devices. `filtered_stderr(noise)` captures fd 2 around such a call
and passes on every line that is not noise (a real error still shows)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator

_lock = threading.Lock()  # fd 2 is the whole process's: one capture at a time, or a nested one could keep it

DECODER_NOISE = re.compile(r"^(Note: |Warning: |\[src/libmpg123/)|Created TensorFlow Lite XNNPACK delegate")
"""What libsndfile's MP3 decoder (mpg123) prints straight to stderr about a damaged file it reads on through
("Note: Illegal Audio-MPEG-Header ...", "Note: Trying to resync..."): the file's line says what matters. And
LiteRT's notice when a thread's interpreter is made while this is being filtered already."""


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Capture fd 2 around the block and pass on what is not `noise`. Never waits: while another thread is
    capturing (TensorFlow's import takes seconds), the block runs unfiltered."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (a frozen GUI app, captured test output)
        yield
        return
    if not _lock.acquire(blocking=False):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(fd)
        with tempfile.TemporaryFile(mode="w+b") as capture:
            os.dup2(capture.fileno(), fd)
            try:
                yield
            finally:
                os.dup2(saved, fd)
                os.close(saved)
                capture.seek(0)
                for line in capture.read().decode(errors="replace").splitlines(keepends=True):
                    if not noise.search(line):
                        sys.stderr.write(line)
    finally:
        _lock.release()
