"""C libraries write notices straight to file descriptor 2, past Python's logging: TensorFlow's runtime when it
loads, ALSA and JACK when PortAudio scans the devices, mpg123 when it reads a damaged MP3.
`filtered_stderr(noise)` captures fd 2 around such a call and passes on every line that is not noise (a real
error still shows).

fd 2 is the whole process's, so overlapping captures (two files decoding on two threads) share one: the first
to enter redirects fd 2, each one that leaves passes on the complete lines captured so far that no active
pattern calls noise, and the last to leave restores fd 2."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO

DECODER_NOISE = re.compile(r"^(Note: |Warning: |\[src/libmpg123/)|Created TensorFlow Lite XNNPACK delegate")
"""What libsndfile's MP3 decoder (mpg123) prints straight to stderr about a damaged file it reads on through
("Note: Illegal Audio-MPEG-Header ...", "Note: Trying to resync..."): the file's line says what matters. And
LiteRT's notice when a thread's interpreter is made while this is being filtered already."""


class _SharedCapture:
    """One redirection of fd 2, shared by every `filtered_stderr` block that is running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._noise: Counter[re.Pattern[str]] = Counter()  # the running blocks' patterns
        self._fd = -1
        self._saved = -1  # the real stderr, while fd 2 points at the capture file
        self._file: BinaryIO | None = None
        self._read_to = 0
        self._partial = b""  # a line still being written when the last block left

    def enter(self, fd: int, noise: re.Pattern[str]) -> None:
        with self._lock:
            if self._users == 0:
                sys.stderr.flush()
                self._fd, self._saved = fd, os.dup(fd)
                self._file = tempfile.TemporaryFile(mode="w+b")  # noqa: SIM115 (closed by the last to leave)
                self._read_to, self._partial = 0, b""
                os.dup2(self._file.fileno(), fd)
            self._users += 1
            self._noise[noise] += 1

    def leave(self, noise: re.Pattern[str]) -> None:
        with self._lock:
            with contextlib.suppress(ValueError, OSError):
                sys.stderr.flush()  # Python's own writes in the block: into the capture, to be passed on below
            last = self._users == 1
            self._pass_on(noise, last)
            self._users -= 1
            self._noise[noise] -= 1
            if self._noise[noise] == 0:
                del self._noise[noise]
            if last:
                os.dup2(self._saved, self._fd)
                os.close(self._saved)
                self._file.close()
                self._file, self._saved = None, -1

    def _pass_on(self, leaving: re.Pattern[str], last: bool) -> None:
        """Write the captured lines that are not noise to the real stderr (a line still open waits, unless this
        is the last block)."""
        self._file.seek(self._read_to)
        data = self._file.read()
        self._read_to += len(data)
        data = self._partial + data
        lines = data.splitlines(keepends=True)
        self._partial = b"" if last or not lines or lines[-1].endswith(b"\n") else lines.pop()
        patterns = [*self._noise, leaving]
        for line in lines:
            text = line.decode(errors="replace")
            if not any(p.search(text) for p in patterns):
                os.write(self._saved, line)


_capture = _SharedCapture()


@contextlib.contextmanager
def filtered_stderr(noise: re.Pattern[str]) -> Iterator[None]:
    """Capture fd 2 around the block and pass on what is not `noise` (nor another running block's noise)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (a frozen GUI app, captured test output)
        yield
        return
    _capture.enter(fd, noise)
    try:
        yield
    finally:
        _capture.leave(noise)
